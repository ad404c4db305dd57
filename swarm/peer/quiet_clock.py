"""Rule (c) of leaving, on a peer's own clock: at least S seconds since it
started, and no new file announced for S seconds.  Rules (a) and (b) are
the tracker's to check (``swarm.tracker.readiness``)."""

from __future__ import annotations

from swarm.protocol.record import Record


class QuietClock(Record, frozen=False):
    """Rule (c): the peer's own clock, pushed forward by new-file events."""

    started_at_s: float
    quiet_s: float
    last_new_file_at_s: float | None = None

    def file_announced(self, now_s: float) -> None:
        self.last_new_file_at_s = now_s

    def quiet_until(self) -> float:
        """The first moment at which rule (c) holds, unless another file comes."""
        start = self.started_at_s
        if self.last_new_file_at_s is not None:
            start = max(start, self.last_new_file_at_s)
        return start + self.quiet_s

    def holds(self, now_s: float) -> bool:
        return now_s >= self.quiet_until()
