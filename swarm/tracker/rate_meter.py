"""A rate over the last few seconds, kept in a handful of time buckets.

The tracker keeps one per peer, fed by its chunk reports, so that `swarm
status` can show how fast each peer is receiving from a single query.
Amounts that arrive close together share a bucket, so the memory a meter
uses is bounded by its window, not by how often it is fed.
"""

from __future__ import annotations

from collections import deque

WINDOW_S = 3.0
BUCKET_S = 0.25
MIN_SPAN_S = 0.5  # a meter younger than this divides by this, not by its age


class RateMeter:
    def __init__(self, started_s: float) -> None:
        self._started_s = started_s
        self._buckets: deque[list[float]] = deque()  # [bucket start, amount]
        self._total = 0.0

    def add(self, amount: float, now_s: float) -> None:
        self._trim(now_s)
        if self._buckets and now_s - self._buckets[-1][0] < BUCKET_S:
            self._buckets[-1][1] += amount
        else:
            self._buckets.append([now_s, amount])
        self._total += amount

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
