"""Upload and download rate limits: a token bucket that may run into debt.

A reply (upload) or a request (download) of any size may go out whenever
the balance is not negative; its bytes are then owed and paid back at the
configured rate.  Large pieces therefore never wait for a bucket big enough
to hold them, and the average still matches the limit: over any stretch of
time t, at most rate * t + BURST_S * rate + one piece go out.
"""

from __future__ import annotations

BURST_S = 0.1  # the balance never grows beyond this much transfer


class TokenBucket:
    def __init__(self, rate_bytes_s: float, now_s: float) -> None:
        if rate_bytes_s <= 0:
            raise ValueError("rate must be positive")
        self.rate_bytes_s = rate_bytes_s
        self._balance = 0.0
        self._at_s = now_s

    def _refill(self, now_s: float) -> None:
        elapsed = max(0.0, now_s - self._at_s)
        refilled = self._balance + elapsed * self.rate_bytes_s
        self._balance = min(self.rate_bytes_s * BURST_S, refilled)
        self._at_s = now_s

    def try_take(self, size_bytes: int, now_s: float) -> bool:
        """Spend ``size_bytes`` if the balance is not in debt."""
        self._refill(now_s)
        if self._balance < 0:
            return False
        self._balance -= size_bytes
        return True

    def balance_bytes(self, now_s: float) -> float:
        """What may be spent now: while it is not negative, one more piece
        of any size may go out (and leave the balance in debt)."""
        self._refill(now_s)
        return self._balance

    def spend(self, size_bytes: int, now_s: float) -> None:
        """Owe ``size_bytes`` that went out (a batch the balance allowed)."""
        self._refill(now_s)
        self._balance -= size_bytes

    def ready_at_s(self, now_s: float) -> float:
        """When ``try_take`` will next succeed."""
        self._refill(now_s)
        if self._balance >= 0:
            return now_s
        return now_s + (-self._balance) / self.rate_bytes_s
