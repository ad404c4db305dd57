"""One peer and one file as the tracker keeps them (sans-IO).

Plain mutable records; ``swarm.tracker.registry`` is the one place that
changes them, and ``swarm.tracker.readiness`` the one writer of a peer's
``complete`` and ``excused`` sets.
"""

from __future__ import annotations

from collections import defaultdict

from swarm.protocol.chunks import ChunkSet
from swarm.protocol.message_parts import FileSummary
from swarm.protocol.meta import FileMeta
from swarm.protocol.record import Record, field
from swarm.protocol.roles import ROLE_PEER
from swarm.tracker.rate_meter import CounterMeter, RateMeter


class PeerRecord(Record, frozen=False):
    peer_id: int
    sender: bytes  # the routing id of its requests
    endpoint: str  # where other peers reach it
    last_seen_s: float
    intake: RateMeter  # bytes of verified chunks it reports, for `swarm status`
    outflow: CounterMeter  # bytes it says it served, from its heartbeats
    complete: set[str] = field(default_factory=set)
    received: set[str] = field(default_factory=set)  # complete files it got from the swarm
    excused: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)  # files it holds chunks of
    complaints_against: int = 0
    strikes: int = 0  # refused or malformed requests
    told_ready: bool | None = None  # the last LeaveStatus sent it
    role: int = ROLE_PEER  # a one-shot client (get, seed) is waited for by nobody


class FileRecord(Record, frozen=False):
    meta: FileMeta
    available: bool
    # It was available and then lost (a file first known from partial copies,
    # as after a restart of the tracker, was never lost: it is not "again").
    lost_once: bool = False
    holders: dict[int, ChunkSet] = field(default_factory=dict)
    # Every chunk any peer has ever held: a peer claiming chunks outside it
    # claims what it cannot have fetched from anyone.
    ever_held: ChunkSet = field(default_factory=ChunkSet)
    # How often each holder has been named in an answer: the least named
    # are named first, so no early holder is handed to everyone.
    named: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))
    # Bytes of it peers report receiving, for `swarm status`; made at the
    # first report, so a file nobody fetches costs nothing.
    intake: RateMeter | None = None

    def summary(self) -> FileSummary:
        m = self.meta
        return FileSummary(m.name, m.size_bytes, m.digest, self.available)
