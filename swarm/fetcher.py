"""Fetching, a peer's half that takes files in (pure).

Which files to fetch, their hash lists and holders from the tracker, the
requests the ``TransferPlan`` picks, what arrives from sources, reports of
verified chunks to the tracker, and finished files placed in Shared.  Driven
by ``PeerState``; talks through the same injected net and store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from swarm.chunks import pairs
from swarm.config import Settings
from swarm.holdings import Holdings
from swarm.messages import (
    Cancel,
    ChunkData,
    ChunkRefused,
    ChunkRequest,
    Complaint,
    Complete,
    Have,
    HaveReport,
    Holders,
    HoldersQuery,
    Message,
    MetaQuery,
    ReverseRequest,
)
from swarm.meta import FileMeta
from swarm.picker import DataVerdict, PendingRequest, TransferPlan
from swarm.progress import FileProgress
from swarm.reversal import Reversals
from swarm.store import PlaceResult
from swarm.swarm_view import SwarmView

log = logging.getLogger("swarm.peer")

QUERY_RETRY_S = 5.0  # a holder or metadata query unanswered this long is sent again
STARVING_REFRESH_S = 0.25  # holder refresh when no known source has anything


class FetchStore(Protocol):
    def start_partial(self, meta: FileMeta) -> list[int]: ...
    def write_piece(self, digest: bytes, piece: int, data: bytes | memoryview) -> None: ...
    def place(self, digest: bytes) -> PlaceResult: ...
    def drop_partial(self, digest: bytes) -> None: ...
    def serve_complete(self, meta: FileMeta) -> None: ...


class FetchNet(Protocol):
    def to_tracker(self, message: Message) -> None: ...
    def to_peer(self, peer_id: int, endpoint: str, message: Message) -> None: ...
    def drop_peer(self, peer_id: int) -> None: ...


class Fetcher:
    def __init__(self, settings: Settings, store: FetchStore, net: FetchNet, view: SwarmView,
                 holdings: Holdings, plan: TransferPlan, reversals: Reversals,
                 resumed: list[tuple[FileMeta, list[int]]], now_s: float,
                 observe: Callable[..., None], on_news: Callable[[float], None]) -> None:
        self.settings = settings
        self.store = store
        self.net = net
        self.view = view
        self.holdings = holdings
        self.plan = plan
        self.reversals = reversals
        self.observe = observe
        self.on_news = on_news  # something changed that the leave rule reads
        self.peer_id: int | None = None
        self.active = False  # requests go out only while the peer is in the swarm
        self.partials: dict[bytes, FileMeta] = {meta.digest: meta for meta, _ in resumed}
        self._resumed = {meta.digest: pieces for meta, pieces in resumed}
        self._meta_asked: dict[bytes, float] = {}
        self._holders_asked: dict[bytes, float] = {}
        self._holders_due: dict[bytes, float] = {}
        self._pending_have: dict[bytes, set[int]] = {}
        self._next_report_s = now_s
        self._next_holders_check_s = now_s
        self._pump_wanted = False
        self.pieces_received = 0

    # --- what to fetch ------------------------------------------------------------

    def consider(self, name: str, now_s: float) -> None:
        """Start fetching ``name`` if we should, and feed in complete holders."""
        summary = self.view.files.get(name)
        if summary is None or name in self.holdings.excused:
            return
        local = self.holdings.local.get(name)
        if local is not None:
            if local.digest != summary.digest:
                log.error("the swarm's %r differs from ours; keeping ours", name)
                self.holdings.excused.add(name)
                self.on_news(now_s)
            return
        download = self.plan.downloads.get(summary.digest)
        if download is None:
            if summary.digest in self._resumed:
                self._start(self.partials[summary.digest], now_s)
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

    def meta_arrived(self, meta: FileMeta, now_s: float) -> None:
        self._meta_asked.pop(meta.digest, None)
        summary = self.view.files.get(meta.name)
        if summary is None or summary.digest != meta.digest:
            return
        if meta.digest in self.plan.downloads or meta.name in self.holdings.local:
            return
        self._start(meta, now_s)

    def _start(self, meta: FileMeta, now_s: float) -> None:
        if meta.name in self.holdings.local or meta.name in self.holdings.excused:
            return
        held = self.store.start_partial(meta)
        held = sorted(set(held) | set(self._resumed.pop(meta.digest, [])))
        self.partials[meta.digest] = meta
        download = self.plan.add_download(meta, held)
        log.info("fetching %r (%d bytes, %d of %d pieces held)", meta.name, meta.size_bytes,
                 len(held), meta.layout.pieces)
        if download.done:
            self._finish(meta.digest, now_s)
            return
        self.consider(meta.name, now_s)
        self._ask_holders(meta.digest, now_s)

    def _ask_holders(self, digest: bytes, now_s: float) -> None:
        asked = self._holders_asked.get(digest)
        if asked is not None and now_s - asked < QUERY_RETRY_S:
            return
        self._holders_asked[digest] = now_s
        self._holders_due[digest] = now_s + self.settings.holders_refresh_s
        self.net.to_tracker(HoldersQuery(digest, 0, 0))

    def holders_arrived(self, holders: Holders, now_s: float) -> None:
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
        self.pump()

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

    # --- requests -----------------------------------------------------------------

    def pump(self) -> None:
        """Requests may go out: credit was freed, or sources or pieces came.
        The picking itself waits for ``flush``, once per batch of messages."""
        self._pump_wanted = True

    def flush(self, now_s: float) -> None:
        """Send the requests that the messages handled since the last call
        made possible (the IO loop calls this after each batch)."""
        if not self._pump_wanted or not self.active:
            return
        self._pump_wanted = False
        for request in self.plan.pump(now_s):
            self._send(request.source, ChunkRequest(
                request.request_id, request.digest, request.first_chunk, request.chunk_count))

    def _send(self, peer_id: int, message: Message) -> None:
        peer = self.view.peers.get(peer_id)
        if peer is not None:  # one that left is gone; deadlines free its pieces
            self.net.to_peer(peer_id, peer.endpoint, message)

    def _cancel(self, requests: list[PendingRequest]) -> None:
        for request in requests:
            self._send(request.source, Cancel(request.request_id))

    def link_down(self, peer_id: int) -> None:
        """The connection to a source broke (it may be gone for good): its
        pieces go to other holders now, not at their deadlines."""
        released = self.plan.source_down(peer_id)
        if released:
            log.info("lost the connection to peer %d; %d request(s) go elsewhere",
                     peer_id, len(released))
        self.pump()

    def link_up(self, peer_id: int) -> None:
        self.plan.source_up(peer_id)
        self.pump()

    def link_unreachable(self, peer_id: int) -> None:
        """Our connection to a source never came up: it cannot be reached
        from here.  Its requests go elsewhere, and the tracker is asked to
        have it connect to us instead."""
        self.plan.source_down(peer_id)
        if self.reversals.should_ask(peer_id) and peer_id in self.view.peers:
            log.info("cannot reach peer %d; asking the tracker to reverse the connection",
                     peer_id)
            self.net.to_tracker(ReverseRequest(peer_id))
        self.pump()

    def drop_source(self, peer_id: int) -> None:
        self.plan.drop_source(peer_id)
        self.reversals.forget(peer_id)
        self.net.drop_peer(peer_id)

    # --- what arrives ---------------------------------------------------------------

    def on_reply(self, peer_id: int, message: Message, payload: memoryview | None,
                 now_s: float) -> None:
        if isinstance(message, ChunkData) and payload is not None:
            self._chunk_data(peer_id, message, payload, now_s)
        elif isinstance(message, ChunkRefused):
            if self.plan.on_refused(peer_id, message.request_id) is not None:
                log.info("peer %d refused a request: %s", peer_id, message.reason)
        else:
            log.warning("peer %d sent %s on a fetch link; dropped", peer_id,
                        type(message).__name__)
        self.pump()

    def _chunk_data(self, peer_id: int, data: ChunkData, payload: memoryview,
                    now_s: float) -> None:
        outcome = self.plan.on_data(peer_id, data.request_id, data.digest, data.first_chunk,
                                    data.chunk_count, payload, now_s)
        self._cancel(outcome.cancels)
        if outcome.verdict is DataVerdict.BAD and outcome.download is not None:
            name = outcome.download.meta.name
            log.warning("peer %d sent bad data for piece %d of %r", peer_id, outcome.piece, name)
            self.net.to_tracker(Complaint(peer_id, outcome.download.digest,
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
            self._finish(download.digest, now_s)

    def _finish(self, digest: bytes, now_s: float) -> None:
        """Every piece is verified and stored: into Shared with it."""
        meta = self.partials[digest]
        self.flush_have(only=digest)
        self._cancel(self.plan.remove_download(digest))
        self._holders_due.pop(digest, None)
        try:
            result = self.store.place(digest)
        except OSError as exc:
            log.error("cannot place %r in Shared: %s", meta.name, exc)
            self.holdings.excused.add(meta.name)
            self.on_news(now_s)
            return
        if result is PlaceResult.NAME_TAKEN:
            log.error("%r appeared in Shared with other content; the swarm's copy is "
                      "discarded and ours is kept", meta.name)
            self.store.drop_partial(digest)
            del self.partials[digest]
            self.holdings.excused.add(meta.name)
            self.on_news(now_s)
            return
        if result is PlaceResult.SAME_FILE_THERE:
            self.store.drop_partial(digest)
        del self.partials[digest]
        self.holdings.hold(meta)
        self.store.serve_complete(meta)
        self.net.to_tracker(Complete(digest))
        self.observe("complete", file=meta.name, size=meta.size_bytes)
        self.on_news(now_s)
        log.info("%r complete", meta.name)

    def drop(self, digest: bytes) -> None:
        """Stop fetching a file (a copy of it, or another file under its
        name, appeared in Shared)."""
        self._cancel(self.plan.remove_download(digest))
        self.store.drop_partial(digest)
        self.partials.pop(digest, None)

    # --- reports and time ---------------------------------------------------------

    def flush_have(self, only: bytes | None = None) -> None:
        """Report verified chunks to the tracker, all files in one message."""
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

    def on_timer(self, now_s: float) -> None:
        expired = self.plan.expire(now_s)
        for request in expired:
            log.info("request to peer %d for piece %d timed out", request.source, request.piece)
        if expired:
            self.pump()
        if now_s >= self._next_holders_check_s:
            self._refresh_holders(now_s)
        if now_s >= self._next_report_s:
            self.flush_have()
            self._next_report_s = now_s + self.settings.report_interval_s

    def next_deadline_s(self) -> float:
        candidates = [self._next_report_s if self._pending_have else float("inf")]
        if self.plan.downloads:
            candidates.append(self._next_holders_check_s)
        deadline = self.plan.next_deadline_s()
        if deadline is not None:
            candidates.append(deadline)
        return min(candidates)

    def held_pieces(self, digest: bytes) -> list[int]:
        """Pieces of a download held (for a Join after a restart or a rejoin)."""
        download = self.plan.downloads.get(digest)
        return download.held_pieces() if download else self._resumed.get(digest, [])

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

    def summary_fields(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "pieces": plan.pieces_good, "chunks": plan.chunks_good,
            "twice": plan.chunks_wasted, "bad": plan.bad_pieces, "timeouts": plan.timeouts,
            "duplicates": plan.duplicate_requests,
            "banned": sorted(pid for pid, s in plan.sources.items() if s.banned),
        }
