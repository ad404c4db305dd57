"""A peer's state machine, one cohesive thing: its phases, and an entry point per input.

``PeerState`` takes what happens -- a message from the tracker, an event, a
reply from a source, a request from another peer, a file that appears or
changes in Shared, the disk's answer to an action, the time -- and returns
the actions that follow, in order (``swarm.peer.actions``), free of
sockets, disk and clock (sans-IO, the h11 way).  The IO loop carries them
out and feeds back what the world answered.  Tests drive it with plain
values and read the actions it returns.

A peer goes through phases (``swarm.peer.phase``), and only along the
edges of ``TRANSITIONS``; the changes of phase, and the session with the
tracker that makes them, are here.  The rest is in parts -- fetching,
serving, links, the Shared folder, leaving -- which put their actions into
one ``Outbox`` that every entry point empties, and which share plain
objects (the swarm's view, the holdings, the plan, the mode, the leave
check) rather than calling back into each other.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from typing import Any

from swarm.peer.actions import Place, SendChunks, StartPartial, ToTracker, WritePiece
from swarm.peer.disk import ContentChanged, PlaceResult
from swarm.peer.fetcher import Fetcher
from swarm.peer.heartbeats import Heartbeats
from swarm.peer.holdings import Holdings
from swarm.peer.leave_check import LeaveCheck
from swarm.peer.leaving import REJOIN_HOLD_HEARTBEATS, Leaving
from swarm.peer.links import Links
from swarm.peer.mode import Mode
from swarm.peer.partial_files import PartialFiles
from swarm.peer.phase import IN_THE_SWARM, TRANSITIONS, IllegalTransition, Phase
from swarm.peer.piece_requests import PieceRequests
from swarm.peer.progress import FileProgress, PeerStatus, download_progress, transfer_summary
from swarm.peer.quiet_clock import QuietClock
from swarm.peer.session import TrackerSession
from swarm.peer.settings import PeerSettings
from swarm.peer.shared_folder import SharedFolder
from swarm.peer.swarm_view import SwarmView, ViewChanges
from swarm.peer.switchboard import Switchboard
from swarm.peer.sync import TrackerSync
from swarm.peer.transfer_plan import TransferPlan
from swarm.peer.unobtained import Unobtained, unobtained
from swarm.peer.uploads import Uploads
from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.events import Event
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Action, Observe, Outbox, Show


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
        is taken up again when the swarm lists its file); ``taken``: other
        entries of Shared (name -> what it is); ``mode``: a peer, a get or a
        seed (``swarm.peer.mode``); ``explains_itself``: a person watches its
        status, so it asks the tracker who it waits for (m.LeaveQuery), which it
        otherwise never does."""
        self.mode = mode = mode or Mode()
        self.out = out = Outbox()
        self.phase = Phase.HELLO
        self.exit_code: int | None = None
        # What the parts share.
        self.view = SwarmView()
        self.holdings = Holdings()
        self.holdings.taken = dict(taken)
        self.plan = TransferPlan(rng, settings.request_window_bytes)
        self.leave_check = LeaveCheck(now_s)
        # The parts.
        self.sync = TrackerSync(self.view, out)
        self.links = Links(out, self.view, settings.curve)
        self.requests = PieceRequests(out, self.plan, self.links, settings, now_s)
        self.partials = PartialFiles(out, self.plan, leftovers, settings.report_interval_s, now_s)
        self.fetcher = Fetcher(out, self.view, self.holdings, mode, self.leave_check, self.plan,
                               self.requests, self.partials)
        self.uploads = Uploads(settings.upload_limit_bytes_s, out, self.holdings, self.plan, now_s)
        self.shared = SharedFolder(out, self.holdings, self.fetcher, self.leave_check)
        self.switchboard = Switchboard(out, self.links, self.fetcher, self.requests,
                                       self.uploads)
        self.heartbeats = Heartbeats(out, self.uploads, settings.heartbeat_interval_s,
                                     settings.tracker_grace_s, now_s)
        self.session = TrackerSession(out, self.holdings, self.partials, self.heartbeats,
                                      self.sync, mode, listen_port)
        # Rule (c), the quiet period on the peer's own clock.  A get or a seed
        # has none: it leaves once it is done.
        self.quiet = QuietClock(now_s, 0.0 if mode.one_shot else quiet_s)
        self.leaving = Leaving(out, mode, self.quiet, self.leave_check, explains_itself)
        for meta in local_files:
            self.shared.serve(meta)
        self.session.hello()

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

    def _set_phase(self, phase: Phase) -> None:
        if phase is self.phase:
            return
        if phase not in TRANSITIONS[self.phase]:
            raise IllegalTransition(f"{self.phase.value} -> {phase.value}")
        self.phase = phase

    # --- the tracker --------------------------------------------------------------

    def on_tracker(self, message: m.Message, now_s: float) -> list[Action]:
        if self.phase is not Phase.DONE:
            self.heartbeats.heard(now_s)
            handler = TRACKER_MESSAGES.get(type(message))
            if handler is not None:
                handler(self, message, now_s)
            else:
                self.out.warning("unexpected %s from the tracker", type(message).__name__)
        return self.out.take()

    def _hello_reply(self, reply: m.HelloReply, now_s: float) -> None:
        if self.phase is not Phase.HELLO:
            return
        self.session.hello_answered(reply)
        self._set_phase(Phase.JOINING)
        self.session.join(now_s)

    def _welcome(self, welcome: m.Welcome, now_s: float) -> None:
        if self.phase is not Phase.JOINING:
            return
        self.view.self_id = welcome.peer_id
        self._set_phase(Phase.RUNNING)
        self.session.welcomed(welcome.peer_id)
        self.shared.refused(welcome.refused, now_s)
        self.links.say_punch_ready()
        changes = self.view.apply_snapshot(welcome.snapshot)
        self.fetcher.drop_unlisted()
        self._apply_changes(changes, now_s)
        if self.view.awaiting_snapshot:
            self.sync.ask(now_s)
        self.heartbeats.welcomed(now_s)

    def _rejoin(self, now_s: float) -> None:
        """The tracker no longer knows us (we were expired, or it restarted)."""
        if self.phase is Phase.LEAVING:
            if self.leaving.deadline_s is not None:  # leaving whatever the rules say
                self._finish(0, self.leaving.reason)
                return
            # A goodbye by the rules that no tracker judged (the one that
            # knew us is gone): the one that is there now judges them.
            self._set_phase(Phase.RUNNING)
        self.leaving.hold(now_s + REJOIN_HOLD_HEARTBEATS * self.heartbeats.interval_s)
        if self.phase is not Phase.RUNNING:
            # Before the welcome: said of a word we said before our hello or
            # join was handled, or that word died with a tracker that is gone.
            self.session.not_known_yet(now_s)
            return
        self.out.warning("the tracker no longer knows peer %s; joining again", self.peer_id)
        self._set_phase(Phase.JOINING)
        self.view.reset()
        self.leaving.status = None
        for peer_id in list(self.plan.sources):
            self.requests.drop_source(peer_id)
        self.fetcher.tracker_forgot_us()
        self.session.join(now_s)

    def _snapshot(self, snapshot: m.Snapshot, now_s: float) -> None:
        self._apply_changes(self.view.apply_snapshot(snapshot), now_s)
        self.sync.snapshot_arrived(now_s)

    def on_event(self, event: Event, now_s: float) -> list[Action]:
        if self.phase is not Phase.DONE:
            self.heartbeats.heard(now_s)
            changes = self.sync.event(event, now_s)
            if changes is not None:
                self._apply_changes(changes, now_s)
        return self.out.take()

    def _apply_changes(self, changes: ViewChanges, now_s: float) -> None:
        """The swarm's list of files changed (a snapshot or an event)."""
        self.leave_check.news(now_s)
        for name in changes.removed_files:
            # What we fetched of it is of no use; a file of ours under its
            # name that the swarm refused, or whose completion it never
            # heard, is offered anew.
            self.fetcher.file_removed(name, now_s)
            if self.peer_id is not None:
                self.shared.offer_again(name)
        if changes.new_files:
            self.quiet.file_announced(now_s)
            for name in changes.new_files:
                summary = self.view.files[name]
                self.out.put(Observe("file", {"name": name, "size": summary.size_bytes,
                                              "digest": summary.digest.hex()}))
        for name in dict.fromkeys(changes.new_files + changes.touched_files):
            self.fetcher.consider(name, now_s)
        self.requests.schedule_pump()
        if self.view.synced and self.phase is Phase.RUNNING and not self.leaving.held(now_s):
            problem = self.mode.cannot_have(self.view.files, self.holdings.local)
            if problem is not None:
                self.leaving.cannot_finish(problem)
                self._leave_now(now_s)

    # --- other peers ----------------------------------------------------------------

    def on_peer_reply(self, peer_id: int, message: m.Message, payload: memoryview | None,
                      now_s: float) -> list[Action]:
        """A message from a source, on a connection we opened to it."""
        self.switchboard.from_source(peer_id, message, payload, now_s)
        return self.out.take()

    def on_request(self, route: Hashable, message: m.Message, now_s: float,
                   payload: memoryview | None = None) -> list[Action]:
        """A message on our chunk port, or on a connection we opened to serve
        a peer that cannot reach us (``route`` is then a ReverseRoute)."""
        self.switchboard.to_port(route, message, payload, now_s)
        return self.out.take()

    def on_link_down(self, peer_id: int) -> list[Action]:
        self.links.link_down(peer_id)
        self.requests.link_down(peer_id)
        return self.out.take()

    def on_link_up(self, peer_id: int) -> list[Action]:
        self.links.link_up(peer_id)
        self.requests.link_up(peer_id)
        return self.out.take()

    def on_link_unreachable(self, peer_id: int, now_s: float,
                            refused: bool = False) -> list[Action]:
        self.requests.link_unreachable(peer_id, now_s, refused)
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
        if self.phase in IN_THE_SWARM:
            self.fetcher.flush(now_s)
        return self.out.take()

    # --- Shared and the disk ---------------------------------------------------------

    def on_local_file(self, meta: FileMeta, now_s: float) -> list[Action]:
        """A file that appeared in Shared, hashed once it stopped changing."""
        self.shared.file_appeared(meta, now_s)
        return self.out.take()

    def on_local_changed(self, digest: bytes, what: str, now_s: float) -> list[Action]:
        """A file this peer serves changed or went from Shared (a scan saw
        it, or a read for a peer did): its old content is no longer here."""
        self.shared.file_changed(digest, what, now_s, offered=self.phase is not Phase.HELLO)
        return self.out.take()

    def on_shared_entries(self, taken: dict[str, str], now_s: float) -> list[Action]:
        """What else Shared holds (name -> what it is: a folder, a link, a
        file not offered yet), as the last look saw it."""
        self.shared.entries_seen(taken, now_s)
        return self.out.take()

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

    def on_read_failed(self, action: SendChunks, error: OSError, now_s: float) -> list[Action]:
        """The disk could not read the bytes ``action`` answers a peer with:
        the request is refused.  A file no longer what was hashed
        (ContentChanged) is no longer served either, as if a scan had seen it."""
        if isinstance(error, ContentChanged):
            self.uploads.file_changed(action)
            self.shared.file_changed(action.reply.digest, error.change, now_s,
                                     offered=self.phase is not Phase.HELLO)
        else:
            self.uploads.unreadable(action, error)
        return self.out.take()

    def on_shared_checked(self, changed: list[tuple[bytes, str]], now_s: float) -> list[Action]:
        """The answer to CheckShared, asked just before a goodbye: a file that
        changed or went since the last scan must not be claimed by it."""
        for digest, what in changed:
            self.shared.file_changed(digest, what, now_s, offered=self.phase is not Phase.HELLO)
        if not changed and self.phase is Phase.RUNNING:
            self._goodbye(force=False)
        return self.out.take()

    # --- time -----------------------------------------------------------------------

    def on_timer(self, now_s: float) -> list[Action]:
        """Whatever is due by ``now_s``: the IO loop calls this once
        ``next_deadline_s`` has come (and ``flush`` after every other batch
        of messages), so every timed part has its deadline there."""
        if self.phase is not Phase.DONE:
            self._timer(now_s)
        return self.out.take()

    def _timer(self, now_s: float) -> None:
        if self.heartbeats.gave_up(now_s):
            self._finish(1, "the tracker went silent")
            return
        deadline = self.leaving.deadline_s
        if self.phase is Phase.LEAVING and deadline is not None and now_s >= deadline:
            self._finish(0, self.leaving.reason)
            return
        self.heartbeats.on_timer(now_s)
        if self.phase not in IN_THE_SWARM:
            return
        self.sync.on_timer(now_s)
        self.fetcher.on_timer(now_s)
        self.links.on_timer(now_s)
        self.uploads.serve_queued(now_s)
        if self.phase is Phase.RUNNING and self.leaving.hold_over(now_s):
            self._apply_changes(ViewChanges(), now_s)  # the swarm as the tracker knows it now
        if self.phase is Phase.RUNNING and self.leave_check.due(now_s):
            self.leaving.look(now_s, self._in_step(), self.holdings.local)
        self.fetcher.flush(now_s)

    def next_deadline_s(self, now_s: float) -> float:
        candidates = [self.heartbeats.next_deadline_s()]
        if self.phase in IN_THE_SWARM:
            candidates.append(self.sync.next_deadline_s())
            candidates.append(self.fetcher.next_deadline_s())
            candidates.append(self.links.next_deadline_s())
            if self.phase is Phase.RUNNING:
                candidates.append(self.leave_check.due_s)
                candidates.append(self.leaving.hold_ends_s())
        if self.leaving.deadline_s is not None:
            candidates.append(self.leaving.deadline_s)
        upload_due = self.uploads.next_deadline_s(now_s)
        if upload_due is not None:
            candidates.append(upload_due)
        return min(candidates)

    # --- leaving ----------------------------------------------------------------------

    def _in_step(self) -> bool:
        return self.peer_id is not None and self.view.synced

    def _leave_status_arrived(self, status: m.LeaveStatus, now_s: float) -> None:
        if self.leaving.status_arrived(status, now_s):
            self._ask_why()  # rather than at the next periodic question

    def _not_yet(self, not_yet: m.NotYet, now_s: float) -> None:
        if self.phase is Phase.LEAVING and self.leaving.deadline_s is None:
            self._set_phase(Phase.RUNNING)
            self.leaving.told_not_yet(now_s)
            self.sync.tracker_at(not_yet.seq, now_s)

    def _farewell(self) -> None:
        if self.phase is Phase.LEAVING:
            self._finish(0, self.leaving.reason)

    def request_shutdown(self, now_s: float) -> list[Action]:
        """SIGINT/SIGTERM: say goodbye at once, whatever the rules say."""
        if self.phase is not Phase.DONE:
            self.leaving.reason = "signal"
            if self.peer_id is None or self.phase not in IN_THE_SWARM:
                # Not in the swarm (yet, or again): no goodbye to say.
                self._finish(0, self.leaving.reason)
            else:
                self._leave_now(now_s)
        return self.out.take()

    def _leave_now(self, now_s: float) -> None:
        """A goodbye the tracker does not check: the peer leaves whatever the rules say."""
        self.leaving.leaving_anyway(now_s)
        self._goodbye(force=True)

    def _goodbye(self, force: bool) -> None:
        self.partials.report()  # the tracker hears every chunk before the goodbye
        self._set_phase(Phase.LEAVING)
        self.out.put(ToTracker(m.Goodbye(force=force)))

    def _finish(self, exit_code: int, reason: str) -> None:
        self._set_phase(Phase.DONE)
        exit_code = max(exit_code, self.leaving.exit_code)
        self.exit_code = exit_code
        self.out.info("%s", transfer_summary(self.display_id, self.plan))
        holds = sorted(self.holdings.local)
        self.out.put(Observe("leave", {"peer": self.display_id, "exit_code": exit_code,
                                       "reason": reason, "holds": holds}))
        if not self.mode.one_shot:  # a get or a seed keeps stdout for its own lines
            self.out.put(Show(display.Shutdown(self.display_id, holds)))

    def ask_why_not_leaving(self) -> list[Action]:
        """While it only waits to leave, ask the tracker why, in detail (for
        the status line a person reads; pushed m.LeaveStatus words go stale)."""
        self._ask_why()
        return self.out.take()

    def _ask_why(self) -> None:
        status = self.leaving.status
        if (self.phase is Phase.RUNNING and self.view.synced and not self.fetcher.fetching
                and (status is None or not status.ready)):
            self.out.put(ToTracker(m.LeaveQuery()))

    # --- what the IO side reads ---------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def progress(self) -> list[FileProgress]:
        """The downloads under way, for the progress bars."""
        return download_progress(self.plan)

    def status(self, now_s: float) -> PeerStatus:
        """What the peer is doing and why it stays, for the status line."""
        joined = self.peer_id is not None and self.phase is not Phase.JOINING
        return PeerStatus(
            joined=joined,
            holds=len(self.holdings.local),
            fetching=sum(1 for d in self.plan.downloads.values() if not d.done),
            waiting_files=self.fetcher.queued,
            serving_peers=self.uploads.serving_peers(now_s),
            leaving=self.phase in (Phase.LEAVING, Phase.DONE),
            quiet_left_s=self.leaving.quiet_left_s(now_s),
            tracker_reason=self.leaving.tracker_reason(),
            waiting_for_tracker=joined and self.leaving.status is None,
        )

    def unobtained(self) -> list[Unobtained]:
        """The swarm's files this peer leaves without, and why (said at exit)."""
        wanted = (f for f in self.view.files.values() if self.mode.fetches(f))
        return unobtained(wanted, self.holdings, self.partials.kept())

    def empty_partials(self) -> list[bytes]:
        """Partial files that never stored a piece: nothing in them to resume
        (the IO side removes them at exit)."""
        return self.partials.empty()


# What the tracker may say to a peer, and who in the peer hears it.
TrackerMessage = Callable[[PeerState, Any, float], None]
TRACKER_MESSAGES: dict[type[m.Message], TrackerMessage] = {
    m.HelloReply: lambda p, msg, now: p._hello_reply(msg, now),
    m.Welcome: lambda p, msg, now: p._welcome(msg, now),
    m.Pong: lambda p, msg, now: p.sync.tracker_at(msg.seq, now),
    m.Snapshot: lambda p, msg, now: p._snapshot(msg, now),
    m.MetaReply: lambda p, msg, now: p.fetcher.meta_arrived(msg, p.peer_id, now),
    m.Holders: lambda p, msg, now: p.requests.holders_arrived(msg, p.peer_id, now),
    m.Refused: lambda p, msg, now: p.shared.refused(msg.refused, now),
    m.Farewell: lambda p, _m, _now: p._farewell(),
    m.NotYet: lambda p, msg, now: p._not_yet(msg, now),
    m.Rejoin: lambda p, _m, now: p._rejoin(now),
    m.ConnectTo: lambda p, msg, _now: p.links.connect_to(msg),
    m.ReverseToken: lambda p, msg, _now: p.links.expect(msg.peer_id, msg.token),
    m.Punch: lambda p, msg, _now: p.links.punch(msg),
    m.LeaveStatus: lambda p, msg, now: p._leave_status_arrived(msg, now),
    m.ErrorReply: lambda p, msg, _now: p.requests.tracker_error(msg),
}
