"""Hole punching, the tracker's side of it (pure).

Peers behind NAT whose NAT keeps one public port per local port say so
(``PunchReady``, with the public port of their punch port).  When one of two
such peers cannot reach the other, neither can be reached by a reversal
either, so the tracker tells both, in the same answer, to connect to each
other's public punch mapping at once (TCP simultaneous open); it relays no
data.  A pair is punched a few times at most; after that, or when either
side cannot punch, the request gets what it got before: a reversal.
"""

from __future__ import annotations

import enum

from swarm.protocol.messages import PUNCH_ATTEMPTS
from swarm.protocol.record import Record

# Both sides of a pair that failed ask again at about the same moment: a
# request this soon after the pair's last punch is answered by that punch.
# (A punched link is given 3 s to come up, and a retry waits at least 1 s more.)
PUNCH_WINDOW_S = 3.0


class Decision(enum.Enum):
    PUNCH = "punch"  # tell both to connect to each other now
    IN_FLIGHT = "in flight"  # a punch of this pair is under way: nothing to do
    REVERSE = "reverse"  # ask the target to connect out to the asker


class PairRecord(Record, frozen=False):
    attempts: int
    last_punch_s: float


class PunchBoard:
    def __init__(self) -> None:
        self.ports: dict[int, int] = {}  # peer -> the public port of its punch port
        self._pairs: dict[tuple[int, int], PairRecord] = {}

    def ready(self, peer_id: int, port: int) -> None:
        self.ports[peer_id] = port

    def forget(self, peer_id: int) -> None:
        self.ports.pop(peer_id, None)
        for pair in [p for p in self._pairs if peer_id in p]:
            del self._pairs[pair]

    def attempts(self, a: int, b: int) -> int:
        record = self._pairs.get((min(a, b), max(a, b)))
        return record.attempts if record is not None else 0

    def decide(self, asker: int, target: int, now_s: float) -> Decision:
        """What to do for ``asker``, which cannot reach ``target``."""
        if asker not in self.ports or target not in self.ports:
            return Decision.REVERSE
        pair = (min(asker, target), max(asker, target))
        record = self._pairs.get(pair)
        if record is not None and now_s - record.last_punch_s < PUNCH_WINDOW_S:
            return Decision.IN_FLIGHT
        if record is not None and record.attempts >= PUNCH_ATTEMPTS:
            return Decision.REVERSE
        if record is None:
            record = self._pairs[pair] = PairRecord(0, now_s)
        record.attempts += 1
        record.last_punch_s = now_s
        return Decision.PUNCH


def punch_endpoint(serving_endpoint: str, port: int) -> str:
    """A peer's public punch mapping: the host the tracker saw it at (that
    of its serving endpoint, ``tcp://host:port``), with its punch port's
    public port."""
    host, _, _ = serving_endpoint.rpartition(":")
    return f"{host}:{port}"
