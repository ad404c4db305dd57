"""Writes the disk refused: when to try again (pure).

A full disk must not become a tight loop of failed writes.  The first
failure pauses fetching; the peer tries again after a delay that doubles
with every failure, up to a cap, and the first write that works ends the
pause.  Failures are counted here, so the log can say how many there were
instead of saying each one.
"""

from __future__ import annotations

from swarm.protocol.record import Record

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 30.0  # a full disk is seldom fixed in less; and never a busy loop


class DiskBackoff(Record, frozen=False):
    failures: int = 0  # since the last write that worked
    retry_at_s: float = float("inf")
    delay_s: float = FIRST_RETRY_S

    @property
    def paused(self) -> bool:
        return self.failures > 0

    def failed(self, now_s: float) -> None:
        if self.failures:
            self.delay_s = min(MAX_RETRY_S, self.delay_s * 2)
        self.failures += 1
        self.retry_at_s = now_s + self.delay_s

    def due(self, now_s: float) -> bool:
        return self.paused and now_s >= self.retry_at_s

    def recovered(self) -> int:
        """A write worked: the pause is over.  Returns the failures it ends."""
        failures = self.failures
        self.failures = 0
        self.retry_at_s = float("inf")
        self.delay_s = FIRST_RETRY_S
        return failures
