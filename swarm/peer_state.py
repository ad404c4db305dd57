"""A peer's logic, free of sockets: messages and ``now`` in, sends out.

``PeerState`` is driven by the IO loop: tracker replies, tracker events, chunk
replies from sources, chunk requests from other peers, files that appear in
Shared, and a timer.  It talks back through a ``PeerNet`` (sends), a ``Store``
(disk) and ``show`` (stdout blocks), all injected, so tests run it with fakes
and a fake clock.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from swarm import display
from swarm.chunks import pairs
from swarm.config import Settings
from swarm.leave_rule import QuietClock, iter_unmet_a, iter_unmet_b
from swarm.messages import (
    PROTOCOL_VERSION,
    Cancel,
    ChunkData,
    ChunkRefused,
    ChunkRequest,
    Complaint,
    Complete,
    ConnectTo,
    ErrorReply,
    Event,
    Farewell,
    Goodbye,
    Have,
    HaveReport,
    Heartbeat,
    Hello,
    HelloReply,
    Holders,
    HoldersQuery,
    Introduce,
    Join,
    Message,
    MetaQuery,
    MetaReply,
    NotYet,
    Offer,
    PartialOffer,
    Pong,
    Refused,
    Rejoin,
    ReverseRequest,
    ReverseToken,
    Snapshot,
    SyncRequest,
    Welcome,
)
from swarm.meta import FileMeta
from swarm.picker import DataVerdict, PendingRequest, TransferPlan
from swarm.progress import FileProgress
from swarm.record import Record, field
from swarm.reversal import Reversals, ReverseRoute
from swarm.store import PlaceResult
from swarm.swarm_view import EventResult, PeerView, SwarmView, ViewChanges
from swarm.uploads import Uploads

log = logging.getLogger("swarm.peer")

UNWANTED_LOGGED = 20  # unwanted messages logged one by one; then one in a thousand
FIRST_SEQ_CHECK_S = 0.2  # after joining, ask for the event number this soon
SYNC_RETRY_S = 3.0  # a snapshot request unanswered this long is sent again
SEQ_LAG_GRACE_S = 0.5  # events may trail a reply this long before they count as lost
QUERY_RETRY_S = 5.0  # likewise for holder and metadata queries
STARVING_REFRESH_S = 0.25  # holder refresh when no known source has anything
NOT_YET_RETRY_S = 0.5  # after the tracker said "not yet" to a goodbye
FAREWELL_WAIT_S = 2.0  # how long a leaving peer waits for the tracker's answer
PROGRESS_SAVE_S = 0.5  # resume state is at most this old after a SIGKILL


class StoreLike(Protocol):
    def start_partial(self, meta: FileMeta) -> list[int]: ...
    def write_piece(self, digest: bytes, piece: int, data: bytes | memoryview) -> None: ...
    def read(self, digest: bytes, offset: int, length: int) -> bytes: ...
    def place(self, digest: bytes) -> PlaceResult: ...
    def drop_partial(self, digest: bytes) -> None: ...
    def serve_complete(self, meta: FileMeta) -> None: ...
    def flush_progress(self) -> None: ...


class PeerNet(Protocol):
    def to_tracker(self, message: Message) -> None: ...
    def to_peer(self, peer_id: int, endpoint: str, message: Message) -> None: ...
    def reply(self, route: Hashable, message: Message, payload: bytes | None = None) -> None: ...
    def drop_peer(self, peer_id: int) -> None: ...
    def subscribe(self, pub_port: int) -> None: ...
    # Connection reversal: connect out to serve a peer that cannot reach us,
    # and send to a peer over the connection it opened to us.
    def open_reverse(self, peer_id: int, endpoint: str) -> None: ...
    def adopt_route(self, peer_id: int, route: Hashable) -> None: ...


class Observer(Protocol):
    def __call__(self, kind: str, **fields: Any) -> None: ...


class Phase(enum.Enum):
    HELLO = "hello"  # asking where the events are, to subscribe before joining
    JOINING = "joining"
    RUNNING = "running"
    LEAVING = "leaving"
    DONE = "done"


class Holding(Record, frozen=False):
    """This peer's own files, in the shape the leave rule reads."""

    complete: set[str] = field(default_factory=set)
    excused: set[str] = field(default_factory=set)


class PeerState:
    def __init__(
        self,
        settings: Settings,
        quiet_s: float,
        store: StoreLike,
        net: PeerNet,
        show: Callable[[display.Block], None],
        local_files: list[FileMeta],
        partials: list[tuple[FileMeta, list[int]]],
        listen_port: int,
        now_s: float,
        rng: random.Random | None = None,
        observe: Observer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.net = net
        self.show = show
        # What happened, for --events; a no-op unless asked for.
        self.observe: Observer = observe or (lambda kind, **fields: None)
        self._leave_reason = "every rule met"
        self._last_blocker = ""
        self.listen_port = listen_port
        self.rng = rng or random.Random()
        self.phase = Phase.HELLO
        self.exit_code: int | None = None
        self.peer_id: int | None = None
        self.view = SwarmView()
        self.plan = TransferPlan(self.rng, settings.request_window_bytes)
        self.reversals = Reversals()
        self.clock = QuietClock(now_s, quiet_s)
        self.mine = Holding()
        self.local: dict[str, FileMeta] = {}  # every file of ours in Shared, by name
        self.shared_digests: dict[bytes, FileMeta] = {}  # complete files we serve
        self.partials: dict[bytes, FileMeta] = {}  # downloads, including resumed ones
        self._resumed = {meta.digest: pieces for meta, pieces in partials}
        for meta, _ in partials:
            self.partials[meta.digest] = meta
        for meta in local_files:
            self._hold_local(meta)
        self._meta_asked: dict[bytes, float] = {}
        self._holders_asked: dict[bytes, float] = {}
        self._holders_due: dict[bytes, float] = {}
        self._pending_have: dict[bytes, set[int]] = {}
        self._sync_asked_at: float | None = None
        self._behind: tuple[int, float] | None = None  # (tracker's event number, seen at)
        self._heard_from_tracker_s = now_s
        self._next_heartbeat_s = now_s + settings.heartbeat_interval_s
        self._next_report_s = now_s
        self._next_progress_save_s = now_s + PROGRESS_SAVE_S
        self._next_holders_check_s = now_s
        self._pump_wanted = False
        self._next_leave_check_s = now_s
        self._leave_deadline_s: float | None = None
        self._gave_up_reason = ""
        self.pieces_received = 0
        self.pub_port: int | None = None
        self.uploads = Uploads(settings.upload_limit_bytes_s, store, net, self._servable, now_s)
        self._unwanted_count = 0
        self.net.to_tracker(Hello(PROTOCOL_VERSION))

    # --- who we are -------------------------------------------------------------

    def _hold_local(self, meta: FileMeta) -> None:
        self.local[meta.name] = meta
        self.shared_digests[meta.digest] = meta
        self.mine.complete.add(meta.name)
        self.store.serve_complete(meta)

    def _join_message(self) -> Join:
        partial_offers = []
        for digest, meta in self.partials.items():
            download = self.plan.downloads.get(digest)
            pieces = download.held_pieces() if download else self._resumed.get(digest, [])
            ranges = meta.layout.pieces_to_chunk_ranges(pieces)
            if ranges:
                flat = tuple(x for pair in ranges for x in pair)
                partial_offers.append(PartialOffer(meta, flat))
        files = tuple(sorted(self.local.values(), key=lambda m: m.name))
        return Join(PROTOCOL_VERSION, self.listen_port, files, tuple(partial_offers))

    @property
    def display_id(self) -> int:
        return self.peer_id if self.peer_id is not None else 0

    # --- tracker ------------------------------------------------------------------

    def on_tracker(self, message: Message, now_s: float) -> None:
        if self.phase is Phase.DONE:
            return
        self._heard_from_tracker_s = now_s
        if isinstance(message, HelloReply):
            self._hello_reply(message)
        elif isinstance(message, Welcome):
            self._welcome(message, now_s)
        elif isinstance(message, Pong):
            self._note_tracker_seq(message.seq, now_s)
        elif isinstance(message, Snapshot):
            self._sync_asked_at = None
            self._apply_changes(self.view.apply_snapshot(message), now_s)
            if self.view.awaiting_snapshot:
                self._ask_sync(now_s)
        elif isinstance(message, MetaReply):
            self._meta_arrived(message.meta, now_s)
        elif isinstance(message, Holders):
            self._holders_arrived(message, now_s)
        elif isinstance(message, Refused):
            self._refused(message)
        elif isinstance(message, Farewell):
            if self.phase is Phase.LEAVING:
                self._finish(0, self._leave_reason)
        elif isinstance(message, NotYet):
            if self.phase is Phase.LEAVING and self._leave_deadline_s is None:
                self.phase = Phase.RUNNING
                self._next_leave_check_s = now_s + NOT_YET_RETRY_S
                self._note_tracker_seq(message.seq, now_s)
        elif isinstance(message, Rejoin):
            self._rejoin(now_s)
        elif isinstance(message, ConnectTo):
            self._connect_to(message)
        elif isinstance(message, ReverseToken):
            self.reversals.expect(message.peer_id, message.token)
        elif isinstance(message, ErrorReply):
            log.warning("tracker: %s", message.reason)
        else:
            log.warning("unexpected %s from the tracker", type(message).__name__)

    def _hello_reply(self, reply: HelloReply) -> None:
        if self.phase is not Phase.HELLO:
            return
        if reply.version != PROTOCOL_VERSION:
            log.warning("the tracker speaks protocol %d, this peer %d", reply.version,
                        PROTOCOL_VERSION)
        self.pub_port = reply.pub_port
        self.net.subscribe(reply.pub_port)
        self.phase = Phase.JOINING
        self.net.to_tracker(self._join_message())

    def _welcome(self, welcome: Welcome, now_s: float) -> None:
        if self.phase is not Phase.JOINING:
            return
        self.peer_id = welcome.peer_id
        self.phase = Phase.RUNNING
        log.info("joined as peer %d", welcome.peer_id)
        self.observe("joined", peer=welcome.peer_id)
        self._refused(Refused(welcome.refused))
        self._apply_changes(self.view.apply_snapshot(welcome.snapshot), now_s)
        if self.view.awaiting_snapshot:
            self._ask_sync(now_s)
        # The subscription takes a moment to reach the publisher; a quick
        # heartbeat tells whether events were published in between.
        self._next_heartbeat_s = now_s + FIRST_SEQ_CHECK_S

    def _rejoin(self, now_s: float) -> None:
        if self.phase is Phase.LEAVING:
            self._finish(0, self._leave_reason)
            return
        log.warning("the tracker no longer knows peer %s; joining again", self.peer_id)
        self.phase = Phase.JOINING
        self.view = SwarmView()
        for peer_id in list(self.plan.sources):
            self._drop_source(peer_id)
        self.net.to_tracker(self._join_message())

    def _refused(self, refused: Refused) -> None:
        self._next_leave_check_s = 0.0
        for refusal in refused.refused:
            log.error("the tracker refused our %r: %s; it stays here but is not shared",
                      refusal.name, refusal.reason)
            self.mine.complete.discard(refusal.name)
            self.mine.excused.add(refusal.name)

    def _note_tracker_seq(self, latest_seq: int, now_s: float) -> None:
        """The tracker's newest event number, from a reply.  Replies and events
        travel on different sockets, so a reply often overtakes the events it
        follows: the view is given SEQ_LAG_GRACE_S to catch up before its
        events count as lost (checked in on_timer)."""
        if latest_seq > self.view.seq and self._behind is None:
            self._behind = (latest_seq, now_s)

    def _check_lag(self, now_s: float) -> None:
        if self._behind is None:
            return
        target, since = self._behind
        if self.view.seq >= target or self.view.awaiting_snapshot:
            self._behind = None
        elif now_s - since >= SEQ_LAG_GRACE_S:
            self._behind = None
            seen = self.view.seq
            if self.view.note_seq(target):
                log.info("the tracker was at event %d, this peer is at %d; asking for a "
                         "snapshot", target, seen)
                self._ask_sync(now_s)

    def _ask_sync(self, now_s: float) -> None:
        if self._sync_asked_at is None or now_s - self._sync_asked_at > SYNC_RETRY_S:
            self._sync_asked_at = now_s
            self.net.to_tracker(SyncRequest())

    def on_event(self, event: Event, now_s: float) -> None:
        if self.phase is Phase.DONE:
            return
        self._heard_from_tracker_s = now_s
        result, changes = self.view.on_event(event)
        if result is EventResult.GAP:
            log.info("missed events before %d; asking for a snapshot", event.seq)
            self._ask_sync(now_s)
        elif result is EventResult.APPLIED:
            self._apply_changes(changes, now_s)

    def _apply_changes(self, changes: ViewChanges, now_s: float) -> None:
        self._next_leave_check_s = min(self._next_leave_check_s, now_s)
        if changes.new_files:
            self.clock.file_announced(now_s)
            for name in changes.new_files:
                summary = self.view.files[name]
                self.observe("file", name=name, size=summary.size_bytes,
                             digest=summary.digest.hex())
        for peer_id in changes.left_peers:
            self._drop_source(peer_id)
        for name in dict.fromkeys(changes.new_files + changes.touched_files):
            self._consider(name, now_s)
        self._pump(now_s)

    def _consider(self, name: str, now_s: float) -> None:
        """Start fetching ``name`` if we should, and feed in complete holders."""
        summary = self.view.files.get(name)
        if summary is None or name in self.mine.excused:
            return
        local = self.local.get(name)
        if local is not None:
            if local.digest != summary.digest and name not in self.mine.excused:
                log.error("the swarm's %r differs from ours; keeping ours", name)
                self.mine.excused.add(name)
            return
        download = self.plan.downloads.get(summary.digest)
        if download is None:
            if summary.digest in self.partials and summary.digest in self._resumed:
                self._start_download(self.partials[summary.digest], now_s)
            else:
                self._ask_meta(summary.digest, now_s)
            return
        for peer_id, peer in self.view.peers.items():
            if name in peer.complete and peer_id != self.peer_id:
                self.plan.add_complete_holder(summary.digest, peer_id, now_s)

    def _ask_meta(self, digest: bytes, now_s: float) -> None:
        asked = self._meta_asked.get(digest)
        if asked is None or now_s - asked > QUERY_RETRY_S:
            self._meta_asked[digest] = now_s
            self.net.to_tracker(MetaQuery(digest))

    def _meta_arrived(self, meta: FileMeta, now_s: float) -> None:
        self._meta_asked.pop(meta.digest, None)
        summary = self.view.files.get(meta.name)
        if summary is None or summary.digest != meta.digest:
            return
        if meta.digest in self.plan.downloads or meta.name in self.local:
            return
        self._start_download(meta, now_s)

    def _start_download(self, meta: FileMeta, now_s: float) -> None:
        if meta.name in self.local or meta.name in self.mine.excused:
            return
        held = self.store.start_partial(meta)
        held = sorted(set(held) | set(self._resumed.pop(meta.digest, [])))
        self.partials[meta.digest] = meta
        download = self.plan.add_download(meta, held)
        log.info("fetching %r (%d bytes, %d of %d pieces held)", meta.name, meta.size_bytes,
                 len(held), meta.layout.pieces)
        if download.done:
            self._finish_download(meta.digest, now_s)
            return
        self._consider(meta.name, now_s)
        self._ask_holders(meta.digest, now_s)

    def _ask_holders(self, digest: bytes, now_s: float) -> None:
        asked = self._holders_asked.get(digest)
        if asked is not None and now_s - asked < QUERY_RETRY_S:
            return
        self._holders_asked[digest] = now_s
        self._holders_due[digest] = now_s + self.settings.holders_refresh_s
        self.net.to_tracker(HoldersQuery(digest, 0, 0))

    def _holders_arrived(self, holders: Holders, now_s: float) -> None:
        self._holders_asked.pop(holders.digest, None)
        download = self.plan.downloads.get(holders.digest)
        if download is None:
            return
        chunks = download.meta.chunks
        complete, partial = [], {}
        for holder in holders.holders:
            if holder.peer_id == self.peer_id or holder.peer_id not in self.view.peers:
                continue
            ranges = pairs(holder.ranges)
            if ranges == [(0, chunks)]:
                complete.append(holder.peer_id)
            else:
                partial[holder.peer_id] = ranges
        self.plan.set_holders(holders.digest, complete, partial, now_s)
        self._pump(now_s)

    # --- fetching -----------------------------------------------------------------

    def _pump(self, now_s: float) -> None:
        """Requests may go out: credit was freed, or sources or pieces came.
        The picking itself waits for ``flush``, once per batch of messages."""
        self._pump_wanted = True

    def flush(self, now_s: float) -> None:
        """Send the requests that the messages handled since the last call
        made possible (the IO loop calls this after each batch)."""
        if not self._pump_wanted or self.phase not in (Phase.RUNNING, Phase.LEAVING):
            return
        self._pump_wanted = False
        for request in self.plan.pump(now_s):
            self._send_request(request)

    def _send_request(self, request: PendingRequest) -> None:
        peer = self.view.peers.get(request.source)
        if peer is None:
            return  # left; the deadline frees the piece
        self.net.to_peer(request.source, peer.endpoint, ChunkRequest(
            request.request_id, request.digest, request.first_chunk, request.chunk_count))

    def on_link_down(self, peer_id: int, now_s: float) -> None:
        """The connection to a source broke (it may be gone for good): its
        pieces go to other holders now, not at their deadlines."""
        released = self.plan.source_down(peer_id)
        if released:
            log.info("lost the connection to peer %d; %d request(s) go elsewhere",
                     peer_id, len(released))
        self._pump(now_s)

    def on_link_up(self, peer_id: int, now_s: float) -> None:
        self.plan.source_up(peer_id)
        self._pump(now_s)

    def on_link_unreachable(self, peer_id: int, now_s: float) -> None:
        """Our connection to a source never came up: it cannot be reached
        from here.  Its requests go elsewhere, and the tracker is asked to
        have it connect to us instead."""
        self.plan.source_down(peer_id)
        if self.reversals.should_ask(peer_id) and peer_id in self.view.peers:
            log.info("cannot reach peer %d; asking the tracker to reverse the connection",
                     peer_id)
            self.net.to_tracker(ReverseRequest(peer_id))
        self._pump(now_s)

    def _connect_to(self, order: ConnectTo) -> None:
        """The tracker asks us to connect out to a peer that cannot reach us."""
        if order.peer_id == self.peer_id or self.peer_id is None:
            return
        log.info("peer %d cannot reach us; connecting out to serve it", order.peer_id)
        self.net.open_reverse(order.peer_id, order.endpoint)
        self.net.reply(ReverseRoute(order.peer_id), Introduce(self.peer_id, order.token))

    def _drop_source(self, peer_id: int) -> None:
        self.plan.drop_source(peer_id)
        self.reversals.forget(peer_id)
        self.net.drop_peer(peer_id)

    def on_peer_reply(self, peer_id: int, message: Message, payload: memoryview | None,
                      now_s: float) -> None:
        if isinstance(message, ChunkData) and payload is not None:
            self._chunk_data(peer_id, message, payload, now_s)
        elif isinstance(message, ChunkRefused):
            request = self.plan.on_refused(peer_id, message.request_id)
            if request is not None:
                log.info("peer %d refused a request: %s", peer_id, message.reason)
        else:
            log.warning("peer %d sent %s on a fetch link; dropped", peer_id,
                        type(message).__name__)
        self._pump(now_s)

    def _chunk_data(self, peer_id: int, data: ChunkData, payload: memoryview, now_s: float) -> None:
        outcome = self.plan.on_data(peer_id, data.request_id, data.digest, data.first_chunk,
                                    data.chunk_count, payload, now_s)
        for loser in outcome.cancels:
            peer = self.view.peers.get(loser.source)
            if peer is not None:
                self.net.to_peer(loser.source, peer.endpoint, Cancel(loser.request_id))
        if outcome.verdict is DataVerdict.BAD and outcome.download is not None:
            name = outcome.download.meta.name
            log.warning("peer %d sent bad data for piece %d of %r", peer_id, outcome.piece, name)
            self.net.to_tracker(Complaint(peer_id, data.digest,
                                          f"piece {outcome.piece} failed verification"))
            if outcome.banned:
                log.warning("peer %d banned after repeated bad data", peer_id)
                self.net.drop_peer(peer_id)  # and whatever else it sends is not read
            return
        if outcome.verdict is not DataVerdict.GOOD or outcome.download is None:
            return
        download, piece = outcome.download, outcome.piece
        try:
            self.store.write_piece(download.digest, piece, payload)
        except OSError as exc:
            log.error("cannot write %r: %s", download.meta.name, exc)
            self.plan.piece_lost(download, piece)
            return
        self.plan.piece_stored(download, piece)
        self.pieces_received += 1
        self._pending_have.setdefault(download.digest, set()).add(piece)
        if download.done:
            self._finish_download(download.digest, now_s)

    def _finish_download(self, digest: bytes, now_s: float) -> None:
        meta = self.partials[digest]
        self._flush_have(only=digest)
        for request in self.plan.remove_download(digest):
            peer = self.view.peers.get(request.source)
            if peer is not None:
                self.net.to_peer(request.source, peer.endpoint, Cancel(request.request_id))
        self._holders_due.pop(digest, None)
        try:
            result = self.store.place(digest)
        except OSError as exc:
            log.error("cannot place %r in Shared: %s", meta.name, exc)
            self.mine.excused.add(meta.name)
            return
        if result is PlaceResult.NAME_TAKEN:
            log.error("%r appeared in Shared with other content; the swarm's copy is "
                      "discarded and ours is kept", meta.name)
            self.store.drop_partial(digest)
            del self.partials[digest]
            self.mine.excused.add(meta.name)
            self._next_leave_check_s = now_s
            return
        if result is PlaceResult.SAME_FILE_THERE:
            self.store.drop_partial(digest)
        del self.partials[digest]
        self._hold_local(meta)
        self.net.to_tracker(Complete(digest))
        self.observe("complete", file=meta.name, size=meta.size_bytes)
        self._next_leave_check_s = min(self._next_leave_check_s, now_s)
        log.info("%r complete", meta.name)

    # --- serving ----------------------------------------------------------------

    def on_request(self, route: Hashable, message: Message, now_s: float,
                   payload: memoryview | None = None) -> None:
        """A message on our chunk port, or on a connection we opened to serve
        a peer that cannot reach us (``route`` is then a ReverseRoute)."""
        source = self.reversals.source_of(route)
        if source is not None and isinstance(message, (ChunkData, ChunkRefused)):
            self.on_peer_reply(source, message, payload, now_s)
            return
        if isinstance(message, Introduce):
            if self.reversals.introduced(message.peer_id, message.token, route):
                self.net.adopt_route(message.peer_id, route)
                self.on_link_up(message.peer_id, now_s)
            else:
                self._unwanted(f"an introduction as peer {message.peer_id} with a token the "
                               "tracker did not give")
            return
        if isinstance(message, ChunkRequest):
            self.uploads.request(route, message, now_s)
        elif isinstance(message, Cancel):
            self.uploads.cancel(route, message.request_id)
        else:
            self._unwanted(f"{type(message).__name__} on our chunk port")
            self.net.reply(route, ErrorReply(f"unexpected {type(message).__name__}"))

    def _unwanted(self, what: str) -> None:
        """Said on stderr a few times, then only now and then: anyone can send
        valid messages to the chunk port, and a flood must not flood the log."""
        self._unwanted_count += 1
        if self._unwanted_count <= UNWANTED_LOGGED or self._unwanted_count % 1000 == 0:
            log.warning("dropped %s (%d so far)", what, self._unwanted_count)

    def _servable(self, digest: bytes) -> tuple[FileMeta, bytearray | None] | None:
        meta = self.shared_digests.get(digest)
        if meta is not None:
            return meta, None
        download = self.plan.downloads.get(digest)
        return (download.meta, download.have) if download is not None else None

    # --- files that appear in Shared -----------------------------------------------

    def on_local_file(self, meta: FileMeta, now_s: float) -> None:
        if meta.name in self.local:
            return
        if meta.digest in self.plan.downloads:
            for request in self.plan.remove_download(meta.digest):
                peer = self.view.peers.get(request.source)
                if peer is not None:
                    self.net.to_peer(request.source, peer.endpoint, Cancel(request.request_id))
            self.store.drop_partial(meta.digest)
            self.partials.pop(meta.digest, None)
        summary = self.view.files.get(meta.name)
        if summary is not None and summary.digest != meta.digest:
            download = self.plan.downloads.get(summary.digest)
            if download is not None:
                self.plan.remove_download(summary.digest)
                self.store.drop_partial(summary.digest)
                self.partials.pop(summary.digest, None)
        self._hold_local(meta)
        self._next_leave_check_s = min(self._next_leave_check_s, now_s)
        log.info("offering %r, new in Shared", meta.name)
        self.net.to_tracker(Offer((meta,)))

    # --- time -----------------------------------------------------------------------

    def on_timer(self, now_s: float) -> None:
        if self.phase is Phase.DONE:
            return
        if now_s - self._heard_from_tracker_s > self.settings.tracker_grace_s:
            log.error("no word from the tracker for %.1f s (grace %.1f s); giving up",
                      now_s - self._heard_from_tracker_s, self.settings.tracker_grace_s)
            self._finish(1, "the tracker went silent")
            return
        deadline = self._leave_deadline_s
        if self.phase is Phase.LEAVING and deadline is not None and now_s >= deadline:
            self._finish(0, self._leave_reason)
            return
        if now_s >= self._next_heartbeat_s:
            self._next_heartbeat_s = now_s + self.settings.heartbeat_interval_s
            self.net.to_tracker(Heartbeat())
        if self.phase in (Phase.HELLO, Phase.JOINING):
            return
        if self._sync_asked_at is not None and now_s - self._sync_asked_at > SYNC_RETRY_S:
            self._ask_sync(now_s)
        self._check_lag(now_s)
        expired = self.plan.expire(now_s)
        for request in expired:
            log.info("request to peer %d for piece %d timed out", request.source, request.piece)
        if now_s >= self._next_holders_check_s:
            self._refresh_holders(now_s)
        self.uploads.serve_queued(now_s)
        if now_s >= self._next_progress_save_s:
            self.store.flush_progress()
            self._next_progress_save_s = now_s + PROGRESS_SAVE_S
        if now_s >= self._next_report_s:
            self._flush_have()
            self._next_report_s = now_s + self.settings.report_interval_s
        if expired:
            self._pump(now_s)
        if self.phase is Phase.RUNNING and now_s >= self._next_leave_check_s:
            self._maybe_leave(now_s)
        self.flush(now_s)

    def _refresh_holders(self, now_s: float) -> None:
        """Ask again who holds what, for downloads that are due (sooner for
        those that no known source can feed)."""
        self._next_holders_check_s = now_s + STARVING_REFRESH_S
        starving = {d.digest for d in self.plan.starving()}
        for digest, download in self.plan.downloads.items():
            if download.done:
                continue
            due = self._holders_due.get(digest, now_s)
            if digest in starving:
                due = min(due, self._holders_asked.get(digest, now_s) + STARVING_REFRESH_S)
            if now_s >= due:
                self._ask_holders(digest, now_s)

    def _flush_have(self, only: bytes | None = None) -> None:
        digests = [only] if only is not None else list(self._pending_have)
        reports = []
        for digest in digests:
            pieces = self._pending_have.pop(digest, None)
            meta = self.partials.get(digest)
            if not pieces or meta is None:
                continue
            ranges = meta.layout.pieces_to_chunk_ranges(pieces)
            reports.append(HaveReport(digest, tuple(x for pair in ranges for x in pair)))
            self.observe("chunks", file=meta.name, chunks=sum(e - s for s, e in ranges),
                         ranges=[list(r) for r in ranges])
        if reports:
            self.net.to_tracker(Have(tuple(reports)))

    def next_deadline_s(self, now_s: float) -> float:
        candidates = [
            self._next_heartbeat_s,
            self._heard_from_tracker_s + self.settings.tracker_grace_s,
        ]
        if self._behind is not None:
            candidates.append(self._behind[1] + SEQ_LAG_GRACE_S)
        if self.phase not in (Phase.HELLO, Phase.JOINING):
            candidates.append(self._next_report_s if self._pending_have else float("inf"))
            if self.partials:
                candidates.append(self._next_progress_save_s)
            if self.plan.downloads:
                candidates.append(self._next_holders_check_s)
            deadline = self.plan.next_deadline_s()
            if deadline is not None:
                candidates.append(deadline)
            if self.phase is Phase.RUNNING:
                candidates.append(self._next_leave_check_s)
        if self._leave_deadline_s is not None:
            candidates.append(self._leave_deadline_s)
        upload_due = self.uploads.next_deadline_s(now_s)
        if upload_due is not None:
            candidates.append(upload_due)
        return min(candidates)

    # --- leaving ----------------------------------------------------------------------

    def leave_blockers(self, now_s: float, first_only: bool = False) -> list[str]:
        """Why this peer may not leave yet (empty when it may).  The cheap
        rules come first, and ``first_only`` stops at the first reason: the
        check runs after every event, and rule (a) costs peers x files."""
        if self.peer_id is None or not self.view.synced:
            return ["not in step with the tracker"]
        reasons = []
        if not self.clock.holds(now_s):
            reasons.append(f"quiet period runs until {self.clock.quiet_until():.1f}")
            if first_only:
                return reasons
        for name in iter_unmet_b(self.mine, self.view.available_names()):
            reasons.append(f"missing {name!r}")
            if first_only:
                return reasons
        peers: dict[int, PeerView | Holding] = dict(self.view.peers)
        peers[self.peer_id] = self.mine
        for pid, name in iter_unmet_a(self.peer_id, peers):
            reasons.append(f"peer {pid} lacks {name!r}")
            if first_only:
                return reasons
        return reasons

    def _maybe_leave(self, now_s: float) -> None:
        blockers = self.leave_blockers(now_s, first_only=True)
        if blockers:
            # (a) and (b) change only with news, which sets the check due
            # again; (c) is a deadline of its own.
            self._next_leave_check_s = (
                self.clock.quiet_until() if not self.clock.holds(now_s) else float("inf")
            )
            # Said once per change, so "why does it not leave?" has an answer
            # at info level without a line per event.
            if blockers[0] != self._last_blocker:
                self._last_blocker = blockers[0]
                log.info("not leaving yet: %s", blockers[0])
            return
        self._flush_have()
        self.phase = Phase.LEAVING
        self.net.to_tracker(Goodbye(force=False))

    def request_shutdown(self, now_s: float) -> None:
        """SIGINT/SIGTERM: say goodbye at once, whatever the rules say."""
        if self.phase is Phase.DONE:
            return
        self._leave_reason = "signal"
        if self.peer_id is None:
            self._finish(0, self._leave_reason)
            return
        self._flush_have()
        self.phase = Phase.LEAVING
        self._leave_deadline_s = now_s + FAREWELL_WAIT_S
        self.net.to_tracker(Goodbye(force=True))

    def _finish(self, exit_code: int, reason: str) -> None:
        self.phase = Phase.DONE
        self.exit_code = exit_code
        self.store.flush_progress()
        log.info("%s", self.summary())
        holds = sorted(self.local)
        self.observe("leave", peer=self.display_id, exit_code=exit_code, reason=reason,
                     holds=holds)
        self.show(display.Shutdown(self.display_id, holds))

    def summary(self) -> str:
        """The transfer figures of this run, for stderr (tests and benchmarks read them)."""
        plan = self.plan
        banned = sorted(pid for pid, s in plan.sources.items() if s.banned)
        return (
            f"summary: peer {self.display_id} received {plan.pieces_good} pieces "
            f"({plan.chunks_good} chunks); fetched twice {plan.chunks_wasted} chunks; "
            f"bad pieces {plan.bad_pieces}; timeouts {plan.timeouts}; "
            f"end-game duplicates {plan.duplicate_requests}; banned {banned or 'none'}"
        )

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def fetching(self) -> bool:
        return any(not d.done for d in self.plan.downloads.values())

    def progress(self) -> list[FileProgress]:
        """The downloads under way, for progress bars."""
        out = []
        for digest, download in self.plan.downloads.items():
            layout = download.layout
            held = min(layout.size_bytes, (layout.pieces - download.missing) * layout.piece_bytes)
            out.append(FileProgress(digest, download.meta.name, layout.size_bytes, held,
                                    len(download.sources()), download.done))
        return out
