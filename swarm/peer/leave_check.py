"""When a peer next looks whether it may leave.

Rules (a) and (b) change only with news -- a file placed, excused, offered,
changed or gone, the swarm's list changed, the tracker's word on the rules
-- and the part of the peer that makes such news says so here (``news``),
so the look is due at once.  Rule (c) is a deadline of its own (the
``QuietClock``); the parts share this one object rather than calling back.
"""

from __future__ import annotations


class LeaveCheck:
    def __init__(self, now_s: float) -> None:
        self.due_s = now_s  # the next look

    def news(self, now_s: float) -> None:
        """Something the leave rule reads has changed: look again now."""
        self.due_s = min(self.due_s, now_s)

    def due(self, now_s: float) -> bool:
        return now_s >= self.due_s
