"""A peer's logic, free of sockets, disk and clock (sans-IO, the h11 way).

``PeerState`` takes what happens -- a message from the tracker, an event, a
reply from a source, a request from another peer, a file that appears or
changes in Shared, the disk's answer to an action, the time -- and returns
the actions that follow, in order (``swarm.peer.actions``).  The IO loop
carries them out and feeds back what the world answered.  Tests drive it
with plain values and read the actions it returns.

A peer goes through phases, and only along the edges of ``TRANSITIONS``:
it says hello (to learn where events are published, and subscribe first),
joins, runs, leaves (asks the tracker, which may say not yet), and is done.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Hashable
from typing import Any

from swarm.peer.actions import (
    CheckShared,
    LearnMapping,
    Place,
    Reply,
    ServeFile,
    StartPartial,
    StopServing,
    Subscribe,
    ToTracker,
    WritePiece,
)
from swarm.peer.disk import PlaceResult
from swarm.peer.fetcher import Fetcher
from swarm.peer.holdings import Holdings
from swarm.peer.leave_check import LeaveCheck
from swarm.peer.links import Links
from swarm.peer.mode import Mode
from swarm.peer.partial_files import PartialFiles
from swarm.peer.piece_requests import PieceRequests
from swarm.peer.progress import FileProgress, PeerStatus, download_progress, transfer_summary
from swarm.peer.quiet_clock import QuietClock
from swarm.peer.reversal import ReverseRoute
from swarm.peer.settings import PeerSettings
from swarm.peer.swarm_view import EventResult, SwarmView, ViewChanges
from swarm.peer.sync import TrackerSync
from swarm.peer.transfer_plan import TransferPlan
from swarm.peer.unobtained import Unobtained, unobtained
from swarm.peer.uploads import Uploads
from swarm.protocol import display
from swarm.protocol.events import Event
from swarm.protocol.messages import (
    PROTOCOL_VERSION,
    ConnectTo,
    ErrorReply,
    Farewell,
    Goodbye,
    Heartbeat,
    Hello,
    HelloReply,
    Holders,
    Join,
    LeaveQuery,
    LeaveStatus,
    Message,
    MetaReply,
    NotYet,
    Offer,
    Pong,
    Punch,
    Refused,
    Rejoin,
    ReverseToken,
    Snapshot,
    Welcome,
    Withdraw,
)
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Action, Observe, Outbox, Show
from swarm.protocol.peer_messages import Cancel, ChunkData, ChunkRefused, ChunkRequest, Introduce

UNWANTED_LOGGED = 20  # unwanted messages logged one by one; then one in a thousand
FIRST_SEQ_CHECK_S = 0.2  # after joining, ask for the event number this soon
NOT_YET_RETRY_S = 0.5  # after the tracker said "not yet" to a goodbye
FAREWELL_WAIT_S = 2.0  # how long a leaving peer waits for the tracker's answer


class Phase(enum.Enum):
    HELLO = "hello"  # asking where the events are, to subscribe before joining
    JOINING = "joining"
    RUNNING = "running"
    LEAVING = "leaving"  # a goodbye is out; the tracker may still say not yet
    DONE = "done"


# Every legal change of phase.  A peer that gives up (a silent tracker, a
# signal before it joined) goes to DONE from anywhere.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.HELLO: frozenset({Phase.JOINING, Phase.DONE}),
    Phase.JOINING: frozenset({Phase.RUNNING, Phase.DONE}),
    Phase.RUNNING: frozenset({Phase.JOINING, Phase.LEAVING, Phase.DONE}),  # JOINING: rejoin
    Phase.LEAVING: frozenset({Phase.RUNNING, Phase.DONE}),  # RUNNING: the tracker said not yet
    Phase.DONE: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A change of phase that TRANSITIONS does not allow: a bug, not bad input."""


class PeerState:
    def __init__(
        self,
        settings: PeerSettings,
        quiet_s: float,
        local_files: list[FileMeta],
        leftovers: list[tuple[FileMeta, list[int]]],
        taken: dict[str, str],
        listen_port: int,
        now_s: float,
        rng: random.Random,
        mode: Mode | None = None,
        explains_itself: bool = False,
    ) -> None:
        """``local_files``: what Shared holds, hashed; ``leftovers``: the
        downloads an earlier run left, with the pieces verified in them (each
        is taken up again when the swarm lists its file); ``taken``:
        other entries of Shared (name -> what it is); ``mode``: a peer, a
        get or a seed (``swarm.peer.mode``); ``explains_itself``: a person
        watches its status, so it asks the tracker who it waits for
        (LeaveQuery), which it otherwise never does."""
        self.mode = mode or Mode()
        self.explains_itself = explains_itself
        self.settings = settings
        self.listen_port = listen_port
        self.out = Outbox()
        self.phase = Phase.HELLO
        self.exit_code: int | None = None
        self.view = SwarmView()
        self.sync = TrackerSync(self.view, self.out)
        # Rule (c), the quiet period on the peer's own clock.  A get or a seed
        # has none: it leaves once it is done.
        self.quiet = QuietClock(now_s, 0.0 if self.mode.one_shot else quiet_s)
        self.holdings = Holdings()
        self.holdings.taken = dict(taken)
        for meta in local_files:
            self._hold_local(meta)
        self.links = Links(self.out, self.view, settings.curve)
        self.plan = TransferPlan(rng, settings.request_window_bytes)
        self.leave_check = LeaveCheck(now_s)
        self.requests = PieceRequests(self.out, self.plan, self.links, settings, now_s)
        self.partials = PartialFiles(self.out, self.plan, leftovers, settings.report_interval_s,
                                     now_s)
        self.fetcher = Fetcher(self.out, self.view, self.holdings, self.mode, self.leave_check,
                               self.plan, self.requests, self.partials)
        self.uploads = Uploads(settings.upload_limit_bytes_s, self.out, self.holdings, self.plan,
                               now_s)
        self._served_at_join = 0  # heartbeats count what was served since the last Join
        self._unwanted_count = 0
        self._heard_from_tracker_s = now_s
        self._next_heartbeat_s = now_s + settings.heartbeat_interval_s
        self._leave_deadline_s: float | None = None
        self._leave_reason = "every rule met"
        self._leave_exit_code = 0  # 1 once a get knows it can never finish
        self._last_blocker = ""
        # Whether rules (a) and (b) hold, as the tracker last said (it keeps
        # the counts; a peer need not follow everyone's completions).
        self._leave_status: LeaveStatus | None = None
        self.out.put(ToTracker(Hello(PROTOCOL_VERSION)))

    def start(self) -> list[Action]:
        """The first actions: serve what Shared holds, say hello."""
        return self.out.take()

    # --- who we are -------------------------------------------------------------

    @property
    def peer_id(self) -> int | None:
        return self.view.self_id

    @property
    def display_id(self) -> int:
        return self.peer_id if self.peer_id is not None else 0

    @property
    def local(self) -> dict[str, FileMeta]:
        return self.holdings.local

    def unobtained(self) -> list[Unobtained]:
        """The swarm's files this peer leaves without, and why (said at exit)."""
        kept = self.partials.kept()
        wanted = (f for f in self.view.files.values() if self.mode.fetches(f))
        return unobtained(wanted, self.holdings, kept)

    def empty_partials(self) -> list[bytes]:
        """Downloads that never stored a piece: nothing in them to resume."""
        return self.partials.empty()

    def _hold_local(self, meta: FileMeta) -> None:
        self.holdings.hold(meta)
        self.out.put(ServeFile(meta))

    def _join_message(self) -> Join:
        files = tuple(sorted(self.local.values(), key=lambda m: m.name))
        return Join(PROTOCOL_VERSION, self.listen_port, files, self.partials.offers(),
                    self.mode.role)

    def _set_phase(self, phase: Phase) -> None:
        if phase is self.phase:
            return
        if phase not in TRANSITIONS[self.phase]:
            raise IllegalTransition(f"{self.phase.value} -> {phase.value}")
        self.phase = phase

    # --- the tracker --------------------------------------------------------------

    def on_tracker(self, message: Message, now_s: float) -> list[Action]:
        if self.phase is not Phase.DONE:
            self._heard_from_tracker_s = now_s
            self._from_tracker(message, now_s)
        return self.out.take()

    def _from_tracker(self, message: Message, now_s: float) -> None:
        handler = TRACKER_MESSAGES.get(type(message))
        if handler is not None:
            handler(self, message, now_s)
        elif isinstance(message, ErrorReply):
            self.out.warning("tracker: %s", message.reason)
        else:
            self.out.warning("unexpected %s from the tracker", type(message).__name__)

    def _snapshot(self, snapshot: Snapshot, now_s: float) -> None:
        self._apply_changes(self.view.apply_snapshot(snapshot), now_s)
        self.sync.snapshot_arrived(now_s)

    def _farewell(self) -> None:
        if self.phase is Phase.LEAVING:
            self._finish(0, self._leave_reason)

    def _not_yet(self, not_yet: NotYet, now_s: float) -> None:
        if self.phase is Phase.LEAVING and self._leave_deadline_s is None:
            self._set_phase(Phase.RUNNING)
            self.leave_check.due_s = now_s + NOT_YET_RETRY_S
            self.sync.tracker_at(not_yet.seq, now_s)

    def _hello_reply(self, reply: HelloReply) -> None:
        if self.phase is not Phase.HELLO:
            return
        if reply.version != PROTOCOL_VERSION:
            self.out.warning("the tracker speaks protocol %d, this peer %d", reply.version,
                             PROTOCOL_VERSION)
        self.out.put(Subscribe(reply.pub_port))
        if reply.echo_ports:
            self.out.put(LearnMapping(reply.echo_ports))
        self._set_phase(Phase.JOINING)
        self._send_join()

    def _send_join(self) -> None:
        # The tracker counts a peer's traffic from its Join (a rejoin starts
        # a new count); the heartbeats after it follow it on the same socket.
        self._served_at_join = self.uploads.served_bytes
        self.out.put(ToTracker(self._join_message()))

    def _welcome(self, welcome: Welcome, now_s: float) -> None:
        if self.phase is not Phase.JOINING:
            return
        self.view.self_id = welcome.peer_id
        self._set_phase(Phase.RUNNING)
        self.out.info("joined as peer %d", welcome.peer_id)
        self.out.put(Observe("joined", {
            "peer": welcome.peer_id, "files": len(self.local), "port": self.listen_port,
            "bytes": sum(m.size_bytes for m in self.local.values())}))
        self._refused(Refused(welcome.refused), now_s)
        self.links.say_punch_ready()
        self._apply_changes(self.view.apply_snapshot(welcome.snapshot), now_s)
        if self.view.awaiting_snapshot:
            self.sync.ask(now_s)
        # The subscription takes a moment to reach the publisher; a quick
        # heartbeat tells whether events were published in between.
        self._next_heartbeat_s = now_s + FIRST_SEQ_CHECK_S

    def _rejoin(self) -> None:
        """The tracker no longer knows us (we were expired, or it restarted)."""
        if self.phase is Phase.LEAVING:
            self._finish(0, self._leave_reason)
            return
        if self.phase is not Phase.RUNNING:
            return  # a heartbeat that overtook our join: the join is on its way
        self.out.warning("the tracker no longer knows peer %s; joining again", self.peer_id)
        self._set_phase(Phase.JOINING)
        self.view.reset()
        self._leave_status = None
        for peer_id in list(self.plan.sources):
            self.requests.drop_source(peer_id)
        self.fetcher.tracker_forgot_us()
        self._send_join()

    def _refused(self, refused: Refused, now_s: float) -> None:
        for refusal in refused.refused:
            self.out.error("the tracker refused our %r: %s; it stays here but is not shared",
                           refusal.name, refusal.reason)
            self.holdings.refused(refusal.name)
        self.leave_check.news(now_s)

    def on_event(self, event: Event, now_s: float) -> list[Action]:
        if self.phase is not Phase.DONE:
            self._heard_from_tracker_s = now_s
            result, changes = self.view.on_event(event)
            if result is EventResult.GAP:
                self.out.info("missed events before %d; asking for a snapshot", event.seq)
                self.sync.ask(now_s)
            elif result is EventResult.APPLIED:
                self._apply_changes(changes, now_s)
        return self.out.take()

    def _apply_changes(self, changes: ViewChanges, now_s: float) -> None:
        self.leave_check.news(now_s)
        for name in changes.removed_files:
            self._file_removed(name, now_s)
        if changes.new_files:
            self.quiet.file_announced(now_s)
            for name in changes.new_files:
                summary = self.view.files[name]
                self.out.put(Observe("file", {"name": name, "size": summary.size_bytes,
                                              "digest": summary.digest.hex()}))
        for name in dict.fromkeys(changes.new_files + changes.touched_files):
            self.fetcher.consider(name, now_s)
        self.requests.schedule_pump()
        if self.view.synced and self.phase is Phase.RUNNING:
            problem = self.mode.cannot_have(self.view.files, self.local)
            if problem is not None:
                self.out.error("cannot finish: %s", problem)
                self._leave_exit_code = 1
                self._leave_reason = problem
                self._leave_now(now_s)

    def _file_removed(self, name: str, now_s: float) -> None:
        """The swarm no longer has ``name``.  A file of ours under it that the
        swarm refused, or whose completion it never heard, is offered anew."""
        self.fetcher.file_removed(name, now_s)
        meta = self.holdings.local.get(name)
        if meta is not None and self.peer_id is not None:
            self.out.info("offering %r again: the swarm's file of that name is gone", name)
            self.holdings.unexcuse(name)
            self.holdings.hold(meta)
            self.out.put(ToTracker(Offer((meta,))))

    # --- sources ----------------------------------------------------------------------

    def on_peer_reply(self, peer_id: int, message: Message, payload: memoryview | None,
                      now_s: float) -> list[Action]:
        if isinstance(message, (ChunkRequest, Cancel)) and self.links.punched(peer_id):
            # A punched link carries the other side's requests too; we answer
            # over the same connection, which we opened ourselves.
            self._request(ReverseRoute(peer_id), message, now_s, payload)
        else:
            self.fetcher.on_reply(peer_id, message, payload, now_s)
        return self.out.take()

    def on_link_down(self, peer_id: int) -> list[Action]:
        self.links.link_down(peer_id)
        self.requests.link_down(peer_id)
        return self.out.take()

    def on_link_up(self, peer_id: int) -> list[Action]:
        self.links.link_up(peer_id)
        self.requests.link_up(peer_id)
        return self.out.take()

    def on_link_unreachable(self, peer_id: int, now_s: float) -> list[Action]:
        self.requests.link_unreachable(peer_id, now_s)
        return self.out.take()

    def on_reversal_failed(self, peer_id: int) -> list[Action]:
        """The link we opened to serve ``peer_id`` (it cannot reach us) never
        came up (``Links.reversal_failed``)."""
        self.links.reversal_failed(peer_id)
        return self.out.take()

    def on_mapping(self, local_address: str, seen: list[tuple[str, int]]) -> list[Action]:
        """What the tracker's address echoes saw of our punch port."""
        self.links.mapping_seen(local_address, seen)
        return self.out.take()

    def flush(self, now_s: float) -> list[Action]:
        """The requests that the messages handled since the last call made
        possible (the IO loop calls this after each batch); requests go out
        only while the peer is in the swarm."""
        if self.phase in (Phase.RUNNING, Phase.LEAVING):
            self.fetcher.flush(now_s)
        return self.out.take()

    # --- serving ----------------------------------------------------------------

    def on_request(self, route: Hashable, message: Message, now_s: float,
                   payload: memoryview | None = None) -> list[Action]:
        """A message on our chunk port, or on a connection we opened to serve
        a peer that cannot reach us (``route`` is then a ReverseRoute)."""
        self._request(route, message, now_s, payload)
        return self.out.take()

    def _request(self, route: Hashable, message: Message, now_s: float,
                 payload: memoryview | None) -> None:
        source = self.links.source_of(route)
        if source is not None and isinstance(message, (ChunkData, ChunkRefused)):
            self.fetcher.on_reply(source, message, payload, now_s)
        elif isinstance(message, Introduce):
            if self.links.introduced(message, route):
                self.requests.link_up(message.peer_id)
            else:
                self._unwanted(f"an introduction as peer {message.peer_id} with a token the "
                               "tracker did not give")
        elif isinstance(message, ChunkRequest):
            self.uploads.request(route, message, now_s)
        elif isinstance(message, Cancel):
            self.uploads.cancel(route, message.request_id)
        else:
            self._unwanted(f"{type(message).__name__} on our chunk port")
            self.out.put(Reply(route, ErrorReply(f"unexpected {type(message).__name__}")))

    def _unwanted(self, what: str) -> None:
        """Said on stderr a few times, then only now and then: anyone can send
        valid messages to the chunk port, and a flood must not flood the log."""
        self._unwanted_count += 1
        if self._unwanted_count <= UNWANTED_LOGGED or self._unwanted_count % 1000 == 0:
            self.out.warning("dropped %s (%d so far)", what, self._unwanted_count)

    # --- Shared ----------------------------------------------------------------------

    def on_local_file(self, meta: FileMeta, now_s: float) -> list[Action]:
        """A file that appeared in Shared, hashed once it stopped changing."""
        if meta.name not in self.local:
            self.fetcher.local_file_appeared(meta)
            self.holdings.taken.pop(meta.name, None)
            self._hold_local(meta)
            self.leave_check.news(now_s)
            self.out.info("offering %r, new in Shared", meta.name)
            self.out.put(ToTracker(Offer((meta,))))
        return self.out.take()

    def on_local_changed(self, digest: bytes, what: str, now_s: float) -> list[Action]:
        """A file this peer serves changed or went from Shared (a scan saw
        it, or a read for a peer did): its old content is no longer here.
        The tracker hears it at once, so nobody is sent here for it, and
        nobody waits for a file that no longer exists."""
        self._local_changed(digest, what, now_s)
        return self.out.take()

    def _local_changed(self, digest: bytes, what: str, now_s: float) -> None:
        self.out.put(StopServing(digest))
        meta = self.holdings.by_digest.get(digest)
        if meta is None:
            return
        was_complete = meta.name in self.holdings.complete
        self.holdings.release(digest)
        if was_complete and self.phase is not Phase.HELLO:
            self.out.put(ToTracker(Withdraw(digest, what)))
        if what == "deleted":
            # Like any file this peer lacks: fetched again if the swarm still has it.
            self.out.warning("%r was deleted from Shared: this peer no longer shares it", meta.name)
            self.fetcher.consider(meta.name, now_s)
        else:
            # Its new content is this peer's own file, offered once it stops
            # changing; the swarm's version is not to be fetched over it.
            self.out.warning("%r changed in Shared (%s): this peer no longer shares the version "
                             "the swarm knows; what is there now is offered once it stops changing",
                             meta.name, what)
            self.fetcher.excuse(meta.name, "its own copy changed", now_s)
        self.leave_check.news(now_s)

    def on_shared_entries(self, taken: dict[str, str], now_s: float) -> list[Action]:
        """What else Shared holds (name -> what it is: a folder, a link, a
        file not offered yet), as the last look saw it.  A swarm file's name
        taken by one of them cannot be fetched: said once, and excused."""
        new = {name: what for name, what in taken.items() if name not in self.holdings.taken}
        self.holdings.taken = dict(taken)
        for name, what in sorted(new.items()):
            self.fetcher.name_taken_locally(name, what, now_s)
        return self.out.take()

    # --- the disk's answers --------------------------------------------------------------

    def on_started(self, action: StartPartial, error: OSError | None,
                   now_s: float) -> list[Action]:
        self.fetcher.on_started(action, error, now_s)
        return self.out.take()

    def on_written(self, action: WritePiece, error: OSError | None,
                   now_s: float) -> list[Action]:
        self.fetcher.on_written(action, error, now_s)
        return self.out.take()

    def on_placed(self, action: Place, result: PlaceResult | OSError, what: str | None,
                  now_s: float) -> list[Action]:
        self.fetcher.on_placed(action, result, what, now_s)
        return self.out.take()

    def on_shared_checked(self, changed: list[tuple[bytes, str]], now_s: float) -> list[Action]:
        """The answer to CheckShared, asked just before a goodbye: a file that
        changed or went since the last scan must not be claimed by it."""
        for digest, what in changed:
            self._local_changed(digest, what, now_s)
        if not changed and self.phase is Phase.RUNNING:
            self.partials.report()
            self._set_phase(Phase.LEAVING)
            self.out.put(ToTracker(Goodbye(force=False)))
        return self.out.take()

    # --- time -----------------------------------------------------------------------

    def on_timer(self, now_s: float) -> list[Action]:
        if self.phase is not Phase.DONE:
            self._timer(now_s)
        return self.out.take()

    def _timer(self, now_s: float) -> None:
        if now_s - self._heard_from_tracker_s > self.settings.tracker_grace_s:
            self.out.error("no word from the tracker for %.1f s (grace %.1f s); giving up",
                           now_s - self._heard_from_tracker_s, self.settings.tracker_grace_s)
            self._finish(1, "the tracker went silent")
            return
        deadline = self._leave_deadline_s
        if self.phase is Phase.LEAVING and deadline is not None and now_s >= deadline:
            self._finish(0, self._leave_reason)
            return
        if now_s >= self._next_heartbeat_s:
            self._next_heartbeat_s = now_s + self.settings.heartbeat_interval_s
            served = self.uploads.served_bytes - self._served_at_join
            self.out.put(ToTracker(Heartbeat(served)))
        if self.phase in (Phase.HELLO, Phase.JOINING):
            return
        self.sync.on_timer(now_s)
        self.fetcher.on_timer(now_s)
        self.links.on_timer(now_s)
        self.uploads.serve_queued(now_s)
        if self.phase is Phase.RUNNING and self.leave_check.due(now_s):
            self._maybe_leave(now_s)
        self.fetcher.flush(now_s)

    def next_deadline_s(self, now_s: float) -> float:
        candidates = [
            self._next_heartbeat_s,
            self._heard_from_tracker_s + self.settings.tracker_grace_s,
        ]
        if self.phase not in (Phase.HELLO, Phase.JOINING):
            candidates.append(self.sync.next_deadline_s())
            candidates.append(self.fetcher.next_deadline_s())
            candidates.append(self.links.next_deadline_s())
            if self.phase is Phase.RUNNING:
                candidates.append(self.leave_check.due_s)
        if self._leave_deadline_s is not None:
            candidates.append(self._leave_deadline_s)
        upload_due = self.uploads.next_deadline_s(now_s)
        if upload_due is not None:
            candidates.append(upload_due)
        return min(candidates)

    # --- leaving ----------------------------------------------------------------------

    def leave_blockers(self, now_s: float) -> list[str]:
        """Why this peer may not leave yet (empty when it may): rule (c) on
        its own clock, rules (a) and (b) as the tracker last said."""
        if self.peer_id is None or not self.view.synced:
            return ["not in step with the tracker"]
        if self.mode.one_shot:
            return self.mode.blockers(self.local, self._leave_status)
        reasons = []
        if not self.quiet.holds(now_s):
            left_s = self.quiet.quiet_until() - now_s
            reasons.append(f"quiet period ends in {left_s:.1f} s")
        status = self._leave_status
        if status is None:
            reasons.append("no word from the tracker yet on rules (a) and (b)")
        elif not status.ready:
            reasons.append(status.reason)
        return reasons

    def _leave_status_arrived(self, status: LeaveStatus, now_s: float) -> None:
        was_ready = self._leave_status is None or self._leave_status.ready
        self._leave_status = status
        if self.explains_itself and was_ready and not status.ready:
            # Just told it may not leave, in a few words: ask at once who it
            # waits for, rather than at the next periodic question.
            self._ask_why()
        self.leave_check.news(now_s)

    def _maybe_leave(self, now_s: float) -> None:
        blockers = self.leave_blockers(now_s)
        if blockers:
            # (a) and (b) change only with news, which sets the check due
            # again; (c) is a deadline of its own.
            self.leave_check.due_s = (
                self.quiet.quiet_until() if not self.quiet.holds(now_s) else float("inf")
            )
            # Said once per change, so "why does it not leave?" has an answer
            # at info level without a line per event (the quiet period's
            # seconds left change on every look; its end changes with news).
            key = blockers[0] if self.quiet.holds(now_s) else f"quiet {self.quiet.quiet_until()}"
            if key != self._last_blocker:
                self._last_blocker = key
                self.out.info("not leaving yet: %s", blockers[0])
            return
        # Every rule holds.  One last look at the files it holds (the answer
        # comes to on_shared_checked, which says the goodbye).
        self.leave_check.due_s = float("inf")
        self.out.put(CheckShared())

    def request_shutdown(self, now_s: float) -> list[Action]:
        """SIGINT/SIGTERM: say goodbye at once, whatever the rules say."""
        if self.phase is not Phase.DONE:
            self._leave_reason = "signal"
            if self.peer_id is None:
                self._finish(0, self._leave_reason)
            else:
                self._leave_now(now_s)
        return self.out.take()

    def _leave_now(self, now_s: float) -> None:
        """A goodbye the tracker does not check: the peer leaves whatever the rules say."""
        self.partials.report()
        self._set_phase(Phase.LEAVING)
        self._leave_deadline_s = now_s + FAREWELL_WAIT_S
        self.out.put(ToTracker(Goodbye(force=True)))

    def _finish(self, exit_code: int, reason: str) -> None:
        self._set_phase(Phase.DONE)
        exit_code = max(exit_code, self._leave_exit_code)
        self.exit_code = exit_code
        self.out.info("%s", self.summary())
        holds = sorted(self.local)
        self.out.put(Observe("leave", {"peer": self.display_id, "exit_code": exit_code,
                                       "reason": reason, "holds": holds}))
        if not self.mode.one_shot:  # a get or a seed keeps stdout for its own lines
            self.out.put(Show(display.Shutdown(self.display_id, holds)))

    def summary(self) -> str:
        """The transfer figures of this run, for stderr (tests and benchmarks read them)."""
        return transfer_summary(self.display_id, self.plan)

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def fetching(self) -> bool:
        return self.fetcher.fetching

    def progress(self) -> list[FileProgress]:
        return download_progress(self.plan)

    def ask_why_not_leaving(self, now_s: float) -> list[Action]:
        """While it only waits to leave, ask the tracker why, in detail (for
        the status line a person reads; pushed LeaveStatus words go stale)."""
        self._ask_why()
        return self.out.take()

    def _ask_why(self) -> None:
        leave = self._leave_status
        if (self.phase is Phase.RUNNING and self.view.synced and not self.fetching
                and (leave is None or not leave.ready)):
            self.out.put(ToTracker(LeaveQuery()))

    def status(self, now_s: float) -> PeerStatus:
        """What the peer is doing and why it stays, for the status line."""
        joined = self.peer_id is not None and self.phase is not Phase.JOINING
        leave = self._leave_status
        return PeerStatus(
            joined=joined,
            holds=len(self.local),
            fetching=sum(1 for d in self.plan.downloads.values() if not d.done),
            waiting_files=self.fetcher.queued,
            serving_peers=self.uploads.serving_peers(now_s),
            leaving=self.phase in (Phase.LEAVING, Phase.DONE),
            quiet_left_s=None if self.quiet.holds(now_s) else self.quiet.quiet_until() - now_s,
            tracker_reason=leave.reason if leave is not None and not leave.ready else None,
            waiting_for_tracker=joined and leave is None,
        )


# What the tracker may say to a peer, and who in the peer hears it.
TrackerMessage = Callable[[PeerState, Any, float], None]
TRACKER_MESSAGES: dict[type[Message], TrackerMessage] = {
    HelloReply: lambda p, m, _now: p._hello_reply(m),
    Welcome: lambda p, m, now: p._welcome(m, now),
    Pong: lambda p, m, now: p.sync.tracker_at(m.seq, now),
    Snapshot: lambda p, m, now: p._snapshot(m, now),
    MetaReply: lambda p, m, now: p.fetcher.meta_arrived(m.meta, now),
    Holders: lambda p, m, now: p.requests.holders_arrived(m, p.peer_id, now),
    Refused: lambda p, m, now: p._refused(m, now),
    Farewell: lambda p, _m, _now: p._farewell(),
    NotYet: lambda p, m, now: p._not_yet(m, now),
    Rejoin: lambda p, _m, _now: p._rejoin(),
    ConnectTo: lambda p, m, _now: p.links.connect_to(m),
    ReverseToken: lambda p, m, _now: p.links.expect(m.peer_id, m.token),
    Punch: lambda p, m, _now: p.links.punch(m),
    LeaveStatus: lambda p, m, now: p._leave_status_arrived(m, now),
}
