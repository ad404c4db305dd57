"""A rate over the last few seconds, kept in a handful of time buckets.

The tracker keeps one per peer, fed by its chunk reports, and one per file,
so that `swarm status` can show how fast each peer and each file is
receiving from a single query; a ``CounterMeter`` per peer turns the count
of bytes served that each heartbeat carries into a send rate.  Amounts that
arrive close together share a bucket, so the memory a meter uses is bounded
by its window, not by how often it is fed.
"""

from __future__ import annotations

from collections import deque

WINDOW_S = 3.0
BUCKET_S = 0.25
MIN_SPAN_S = 0.5  # a meter younger than this divides by this, not by its age
# The fastest a peer can plausibly have served, in bytes a second: some
# times what one machine copies through loopback, so no honest count is
# refused, and a count beyond it (a bad or confused peer) is not believed.
MAX_PLAUSIBLE_BYTES_S = 64 << 30
# Slack on the time a count is judged against: heartbeats held up behind a
# busy tracker arrive late and close together.
COUNT_SLACK_S = 2.0


class RateMeter:
    def __init__(self, started_s: float) -> None:
        self._started_s = started_s
        self._buckets: deque[list[float]] = deque()  # [bucket start, amount]
        self._total = 0.0
        self.added_total = 0.0  # everything ever added, not only the window's

    def add(self, amount: float, now_s: float) -> None:
        self._trim(now_s)
        if self._buckets and now_s - self._buckets[-1][0] < BUCKET_S:
            self._buckets[-1][1] += amount
        else:
            self._buckets.append([now_s, amount])
        self._total += amount
        self.added_total += amount

    def rate(self, now_s: float) -> float:
        """The amount per second over the last WINDOW_S (or the meter's age)."""
        self._trim(now_s)
        span = min(WINDOW_S, max(MIN_SPAN_S, now_s - self._started_s))
        return self._total / span

    def _trim(self, now_s: float) -> None:
        horizon = now_s - WINDOW_S
        while self._buckets and self._buckets[0][0] <= horizon:
            self._total -= self._buckets.popleft()[1]
        if not self._buckets:
            self._total = 0.0  # no float residue once everything has aged out


class CounterMeter:
    """A rate from a running count someone else keeps and reports now and
    then (a peer's bytes served since it joined, in its heartbeats): the
    growth of the count over the reports of the last WINDOW_S or so, over
    the time those reports span.  Growth is spread over the interval it was
    counted in, so the rate does not jump at each report however far apart
    the reports are.

    A report is not believed when the count went backwards or would make
    the growth believed since the meter started more than
    MAX_PLAUSIBLE_BYTES_S allows (however fast the reports come, so no
    sender can run the total up); it becomes the new base, so one bad
    report costs one interval's growth and later honest ones count again."""

    def __init__(self, started_s: float) -> None:
        self.count = 0  # the last count reported
        self.believed_total = 0  # the sum of the growth believed
        self._started_s = started_s
        # (when, believed total then), oldest first; the first is at or
        # before the window's start, so the growth since it covers the window.
        self._samples: deque[tuple[float, int]] = deque([(started_s, 0)])

    def report(self, count: int, now_s: float) -> str | None:
        """Take a report; why it was not believed, or None if it was."""
        growth = count - self.count
        self.count = count
        span_s = now_s - self._started_s + COUNT_SLACK_S
        problem = None
        if growth < 0:
            problem = f"count went back from {count - growth} to {count}"
        elif self.believed_total + growth > MAX_PLAUSIBLE_BYTES_S * span_s:
            problem = f"count grew by {growth}, more than anyone serves in {span_s:.1f} s"
        else:
            self.believed_total += growth
        if len(self._samples) > 1 and now_s - self._samples[-1][0] < BUCKET_S:
            # Reports close together share a sample: memory is bounded by
            # the window, not by how often a peer reports.
            self._samples[-1] = (now_s, self.believed_total)
        else:
            self._samples.append((now_s, self.believed_total))
        self._trim(now_s)
        return problem

    def rate(self, now_s: float) -> float:
        """Growth per second over the reports of the last WINDOW_S."""
        self._trim(now_s)
        first_s, first_total = self._samples[0]
        last_s, last_total = self._samples[-1]
        if last_total == first_total:
            return 0.0
        return (last_total - first_total) / max(MIN_SPAN_S, last_s - first_s)

    def _trim(self, now_s: float) -> None:
        horizon = now_s - WINDOW_S
        while len(self._samples) > 1 and self._samples[1][0] <= horizon:
            self._samples.popleft()
