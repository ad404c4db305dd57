"""A remote peer we fetch from, as the plan sees it: its credit of bytes in
flight, which follows its measured rate (the zguide's fileio3 credit flow),
the deadline of each request, which follows the same rate, and its trust.
"""

from __future__ import annotations

from swarm.protocol.chunks import PIECE_BYTES
from swarm.protocol.record import Record

# Credit: bytes in flight per source, never less than one piece's worth.
# A request goes out while any credit is left, so a window of one piece is
# one request at a time: a source starts so, until its rate is measured.
INITIAL_WINDOW_BYTES = PIECE_BYTES
MIN_WINDOW_BYTES = PIECE_BYTES
MAX_WINDOW_BYTES = 4 << 20  # enough to fill loopback; bounds reply buffering
QUEUE_TARGET_S = 0.5  # keep about this much transfer queued at a source

# Deadlines.
ASSUMED_RATE_BPS = 1 << 20  # before a source has been measured
MIN_TIMEOUT_S = 1.5  # below this, a busy machine's scheduling noise trips it
MAX_TIMEOUT_S = 30.0
TIMEOUT_FACTOR = 3.0  # a request may take this many times its expected time

# Trust (as libtorrent): -2 per bad piece, +1 per good piece up to 8; banned at -7.
TRUST_BAD_PIECE = -2
TRUST_GOOD_PIECE = 1
TRUST_MAX = 8
TRUST_BAN_AT = -7

RATE_SAMPLE_S = 0.25
RATE_SMOOTHING = 0.3


class PendingRequest(Record, frozen=False):
    """One piece asked of one source, until it is answered or forgotten."""

    request_id: int
    source: int
    digest: bytes
    piece: int
    first_chunk: int
    chunk_count: int
    size_bytes: int
    sent_at_s: float
    deadline_s: float
    released: bool = False


class Source:
    """A remote peer we fetch from: credit, measured rate, trust."""

    def __init__(self, peer_id: int, now_s: float,
                 max_window_bytes: int = MAX_WINDOW_BYTES) -> None:
        self.peer_id = peer_id
        self.max_window_bytes = max_window_bytes
        self.window_bytes = min(INITIAL_WINDOW_BYTES, max_window_bytes)
        self.in_flight_bytes = 0
        self.requests: dict[int, PendingRequest] = {}
        self.trust = 0
        self.banned = False
        self.rate_bps: float | None = None
        self.latency_s: float | None = None
        self._sample_bytes = 0
        self._sample_start_s = now_s
        self.last_reply_s = now_s  # or when it became a source
        # Snubbed (libtorrent's word): it missed a deadline, so it gets one
        # request at a time until it answers one in time.
        self.snubbed = False
        self.down = False  # its connection is lost: ask it nothing until it is back
        # Its link came up once: its port listened, so a refusal since means
        # the peer has gone (``PieceRequests.link_refused``).
        self.linked = False

    @property
    def free_bytes(self) -> int:
        if self.snubbed:
            return 0 if self.in_flight_bytes else 1
        return self.window_bytes - self.in_flight_bytes

    def expected_rate_bps(self) -> float:
        return self.rate_bps if self.rate_bps else ASSUMED_RATE_BPS

    def timeout_s(self, queued_bytes: int) -> float:
        expected = queued_bytes / self.expected_rate_bps() + (self.latency_s or 0.0)
        return min(MAX_TIMEOUT_S, max(MIN_TIMEOUT_S, TIMEOUT_FACTOR * expected))

    def record_reply(self, size_bytes: int, request: PendingRequest | None, now_s: float) -> None:
        self.last_reply_s = now_s
        self._sample_bytes += size_bytes
        elapsed = now_s - self._sample_start_s
        if elapsed >= RATE_SAMPLE_S:
            sample = self._sample_bytes / elapsed
            self.rate_bps = sample if self.rate_bps is None else (
                RATE_SMOOTHING * sample + (1 - RATE_SMOOTHING) * self.rate_bps
            )
            self._sample_bytes = 0
            self._sample_start_s = now_s
            self.window_bytes = int(min(self.max_window_bytes,
                                        max(MIN_WINDOW_BYTES, self.rate_bps * QUEUE_TARGET_S)))
        if request is not None and not request.released:
            took = now_s - request.sent_at_s
            self.latency_s = took if self.latency_s is None else 0.7 * self.latency_s + 0.3 * took
            self.snubbed = False

    def mark_idle(self, now_s: float) -> None:
        """Nothing is in flight: restart the rate sample so idle time is not
        counted as slowness."""
        if not self.in_flight_bytes:
            self._sample_bytes = 0
            self._sample_start_s = now_s

    def asked_after_idling(self, now_s: float) -> None:
        """A request is going out with nothing in flight: if the source sat
        idle longer than a sample since its last reply, its rate is measured
        from now.  (A source answering one piece at a time, asked again as
        each reply lands, is busy, not idle: its sample goes on.)"""
        if not self.in_flight_bytes and now_s - self.last_reply_s >= RATE_SAMPLE_S:
            self.mark_idle(now_s)

    def record_timeout(self) -> None:
        self.snubbed = True
        self.window_bytes = max(MIN_WINDOW_BYTES, self.window_bytes // 2)
