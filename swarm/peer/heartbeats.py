"""A peer's heartbeats to the tracker, and the tracker's silence (pure).

A heartbeat about once a second keeps the peer alive at the tracker (the
zguide's Paranoid Pirate) and carries what the peer has served since its
last Join (the tracker's send rate for `swarm status`); its answer, a Pong,
carries the tracker's newest event number.  Any word from the tracker
counts as alive; after ``tracker_grace_s`` of silence the peer gives up.
"""

from __future__ import annotations

from swarm.peer.actions import ToTracker
from swarm.peer.uploads import Uploads
from swarm.protocol.messages import Heartbeat
from swarm.protocol.output import Outbox

# After joining, the first heartbeat comes this soon: the subscription takes
# a moment to reach the publisher, and its Pong tells whether events were
# published in between.
FIRST_SEQ_CHECK_S = 0.2


class Heartbeats:
    def __init__(self, out: Outbox, uploads: Uploads, interval_s: float, grace_s: float,
                 now_s: float) -> None:
        self.out = out
        self.uploads = uploads
        self.interval_s = interval_s
        self.grace_s = grace_s
        self._heard_s = now_s  # the tracker's last word
        self._next_s = now_s + interval_s
        self._served_at_join = 0  # what was served before the last Join

    def heard(self, now_s: float) -> None:
        """A word from the tracker: a reply or an event."""
        self._heard_s = now_s

    def joining(self) -> None:
        """A Join is going out: the tracker counts a peer's traffic from it
        (a rejoin starts a new count), and the heartbeats after it follow it
        on the same socket."""
        self._served_at_join = self.uploads.served_bytes

    def welcomed(self, now_s: float) -> None:
        self._next_s = now_s + FIRST_SEQ_CHECK_S

    def gave_up(self, now_s: float) -> bool:
        """True, said once, when the tracker has been silent past the grace period."""
        silent_s = now_s - self._heard_s
        if silent_s <= self.grace_s:
            return False
        self.out.error("no word from the tracker for %.1f s (grace %.1f s); giving up",
                       silent_s, self.grace_s)
        return True

    def on_timer(self, now_s: float) -> None:
        if now_s >= self._next_s:
            self._next_s = now_s + self.interval_s
            served = self.uploads.served_bytes - self._served_at_join
            self.out.put(ToTracker(Heartbeat(served)))

    def next_deadline_s(self) -> float:
        return min(self._next_s, self._heard_s + self.grace_s)
