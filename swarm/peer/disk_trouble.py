"""Writes the disk refused, and what to try again (pure).

A full disk must not become a tight loop of failed writes, nor a log flood.
The first failure pauses fetching and is said once, at error level; the peer
tries again after a delay that doubles with every failure, up to a cap, and
the first write that works ends the pause.  Failures are counted here, so
later ones are said at info level with their count.  A relapse soon after a
recovery (a disk hovering at full) goes on from the delay it had reached
and is not said at error level again.

What the disk refused is kept to be tried again: one verified piece (its
bytes), downloads whose partial file could not be created, finished
downloads that could not be placed in Shared; and the names this peer was
excused from meanwhile, to take the excuses back.  When the backoff is over
the fetcher tries one of them again (the *probe*): its answer ends the
pause, or lengthens it.
"""

from __future__ import annotations

from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Action, Outbox

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 30.0  # a full disk is seldom fixed in less; and never a busy loop
RELAPSE_WINDOW_S = 60.0  # a failure this soon after a recovery is the same trouble


class DiskTrouble:
    def __init__(self, out: Outbox) -> None:
        self.out = out
        self.failures = 0  # since the last write that worked
        self.retry_at_s = float("inf")
        self.delay_s = FIRST_RETRY_S
        self._recovered_at_s = float("-inf")
        self.unstored: tuple[bytes, int, bytes] | None = None  # digest, piece, data
        self.unstarted: dict[bytes, FileMeta] = {}
        self.unplaced: set[bytes] = set()
        self.excused: set[str] = set()  # names excused while the disk refuses
        self.probe: Action | None = None  # what was tried again when the backoff ended

    @property
    def paused(self) -> bool:
        return self.failures > 0

    def due(self, now_s: float) -> bool:
        return self.paused and now_s >= self.retry_at_s

    def refused(self, action: Action, error: OSError, now_s: float) -> bool:
        """The disk refused ``action``.  True when that is a try that counts:
        the first refusal, which pauses fetching, or the probe at the end of
        a backoff, which lengthens it.  Other actions refused meanwhile were
        on their way before the pause and are no new tries."""
        if self.paused and action is not self.probe:
            return False
        self.probe = None
        self.failed(error, now_s)
        return True

    def failed(self, error: OSError, now_s: float) -> None:
        """A write was refused: pause (or stay paused), and say so once."""
        relapse = not self.failures and now_s - self._recovered_at_s < RELAPSE_WINDOW_S
        if self.failures or relapse:
            self.delay_s = min(MAX_RETRY_S, self.delay_s * 2)
        else:
            self.delay_s = FIRST_RETRY_S
        self.failures += 1
        self.retry_at_s = now_s + self.delay_s
        if self.failures == 1 and not relapse:
            self.out.error("%s; fetching pauses (next try in %.0f s) and the other peers no "
                           "longer wait for this one", error, self.delay_s)
        else:
            self.out.info("still %s (%d failed tries); next try in %.0f s", error, self.failures,
                          self.delay_s)

    def recovered(self, now_s: float) -> list[str]:
        """A write worked: the pause is over.  Returns the names to take the
        excuses back for."""
        self.probe = None
        if self.failures:
            self.out.warning("the disk takes writes again after %d failed %s; fetching goes on",
                             self.failures, "try" if self.failures == 1 else "tries")
        self.failures = 0
        self.retry_at_s = float("inf")
        self._recovered_at_s = now_s
        names, self.excused = sorted(self.excused), set()
        return names

    def forget(self, digest: bytes) -> None:
        """A download is dropped: nothing of it is to be tried again."""
        self.unstarted.pop(digest, None)
        self.unplaced.discard(digest)
        if self.unstored is not None and self.unstored[0] == digest:
            self.unstored = None
