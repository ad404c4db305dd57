"""Keeping a peer's view in step with the tracker (pure): the zguide's Clone
pattern, from the side that listens.

Events are numbered.  A gap in the numbers, or a reply that carries a newer
number than the view has (a heartbeat's Pong, a NotYet), means events were
lost: the peer asks for a fresh snapshot, and asks again if none comes.
Replies and events travel on different sockets, so a reply often overtakes
the events it follows; the view gets a moment to catch up before its events
count as lost -- once events have come since the peer's Join.  Before one
has, the subscription may have reached the tracker after what it published
(ZeroMQ's slow joiner): those events never come, and waiting for them made
a peer of a small swarm, all joining at once, finish up to 0.7 s (the first
heartbeat's wait and this grace) after the others, in about one start in
thirty.
"""

from __future__ import annotations

from swarm.peer.actions import ToTracker
from swarm.peer.swarm_view import EventResult, SwarmView, ViewChanges
from swarm.protocol.events import Event
from swarm.protocol.messages import SyncRequest
from swarm.protocol.output import Outbox

SYNC_RETRY_S = 3.0  # a snapshot request unanswered this long is sent again
SEQ_LAG_GRACE_S = 0.5  # events may trail a reply this long before they count as lost


class TrackerSync:
    def __init__(self, view: SwarmView, out: Outbox) -> None:
        self.view = view
        self.out = out
        self._asked_at_s: float | None = None
        self._behind: tuple[int, float] | None = None  # (tracker's event number, seen at)
        self._event_since_join = False  # the subscription is known to be in place

    def joining(self) -> None:
        """A Join is going out (the first, or again for a tracker that forgot
        us): events the tracker publishes from now on may be sent before our
        subscription reaches it."""
        self._event_since_join = False

    def ask(self, now_s: float) -> None:
        """Ask for a snapshot, unless one was asked for a moment ago."""
        if self._asked_at_s is None or now_s - self._asked_at_s >= SYNC_RETRY_S:
            self._asked_at_s = now_s
            self.out.put(ToTracker(SyncRequest()))

    def event(self, event: Event, now_s: float) -> ViewChanges | None:
        """An event from the tracker: what it changed in the view, if it was
        applied (a gap in the numbers asks for a snapshot instead)."""
        self._event_since_join = True
        result, changes = self.view.on_event(event)
        if result is EventResult.GAP:
            self.out.info("missed events before %d; asking for a snapshot", event.seq)
            self.ask(now_s)
        return changes if result is EventResult.APPLIED else None

    def snapshot_arrived(self, now_s: float) -> None:
        self._asked_at_s = None
        if self.view.awaiting_snapshot:  # events were lost while it came
            self.ask(now_s)

    def tracker_at(self, latest_seq: int, now_s: float) -> None:
        """The tracker's newest event number, from a reply."""
        if latest_seq <= self.view.seq:
            return
        if not self._event_since_join:
            self._lost(latest_seq, now_s)  # published before we were subscribed
        elif self._behind is None:
            self._behind = (latest_seq, now_s)  # may be on their way still

    def on_timer(self, now_s: float) -> None:
        if self._asked_at_s is not None and now_s - self._asked_at_s >= SYNC_RETRY_S:
            self.ask(now_s)
        if self._behind is None:
            return
        target, since = self._behind
        if self.view.seq >= target or self.view.awaiting_snapshot:
            self._behind = None
        elif now_s - since >= SEQ_LAG_GRACE_S:
            self._behind = None
            self._lost(target, now_s)

    def _lost(self, target: int, now_s: float) -> None:
        """Events up to ``target`` will not come: a snapshot instead."""
        seen = self.view.seq
        if self.view.note_seq(target):
            self.out.info("the tracker was at event %d, this peer is at %d; asking for a "
                          "snapshot", target, seen)
            self.ask(now_s)

    def next_deadline_s(self) -> float:
        candidates = [float("inf")]
        if self._behind is not None:
            candidates.append(self._behind[1] + SEQ_LAG_GRACE_S)
        if self._asked_at_s is not None:
            candidates.append(self._asked_at_s + SYNC_RETRY_S)
        return min(candidates)
