"""The records nested inside messages: a file's summary, a peer's, the
chunks one peer holds, a refused offer, the rows of a listing."""

from __future__ import annotations

from swarm.protocol.fields import (
    MAX_ID,
    MAX_SIZE_BYTES,
    as_bool,
    as_digest,
    as_endpoint,
    as_int,
    as_list,
    as_meta,
    as_name,
    as_peer_amounts,
    as_ranges,
    as_record,
    as_text,
)
from swarm.protocol.meta import FileMeta
from swarm.protocol.record import Record
from swarm.protocol.roles import ROLE_PEER, ROLE_SEED


class FileSummary(Record):
    """A file as the swarm knows it, without its hash list."""

    name: str
    size_bytes: int
    digest: bytes
    available: bool

    def __post_init__(self) -> None:
        as_name(self.name)
        as_int(self.size_bytes, "size", 0, MAX_SIZE_BYTES)
        as_digest(self.digest)
        as_bool(self.available, "available")


class PeerSummary(Record):
    """A living peer: its id, where it serves, the files it holds whole,
    the files it is excused from (it cannot take the swarm's file of that
    name), and what it is (``ROLE_*``: what it means to fetch)."""

    peer_id: int
    endpoint: str
    complete: tuple[str, ...]
    excused: tuple[str, ...]
    role: int = ROLE_PEER

    def __post_init__(self) -> None:
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        as_int(self.role, "role", ROLE_PEER, ROLE_SEED)
        as_endpoint(self.endpoint)
        complete = tuple(as_name(n) for n in as_list(self.complete, "complete"))
        object.__setattr__(self, "complete", complete)
        excused = tuple(as_name(n) for n in as_list(self.excused, "excused"))
        object.__setattr__(self, "excused", excused)


class PartialOffer(Record):
    """Chunks of a file a joining peer holds from an earlier run."""

    meta: FileMeta
    ranges: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", as_meta(self.meta))
        object.__setattr__(self, "ranges", as_ranges(self.ranges, "held ranges", self.meta.chunks))


class HaveReport(Record):
    """Chunks of one file newly held (verified) by the sender."""

    digest: bytes
    ranges: tuple[int, ...]

    def __post_init__(self) -> None:
        as_digest(self.digest)
        object.__setattr__(self, "ranges", as_ranges(self.ranges, "have ranges"))


class HolderRanges(Record):
    """One peer's chunks of a file, as the tracker knows them."""

    peer_id: int
    endpoint: str
    ranges: tuple[int, ...]

    def __post_init__(self) -> None:
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        as_endpoint(self.endpoint)
        object.__setattr__(self, "ranges", as_ranges(self.ranges, "holder ranges"))


class Refusal(Record):
    """An offer the tracker did not take, and why."""

    name: str
    reason: str

    def __post_init__(self) -> None:
        as_text(self.name, "refused name", 1000)
        as_text(self.reason, "reason")


class FileListing(Record):
    """One file of a Listing: summary, complete holders, partial holders
    with their chunk counts, and the rate (bytes/s) at which peers have
    reported verified chunks of it over the last few seconds."""

    summary: FileSummary
    complete: tuple[int, ...]
    partial: tuple[tuple[int, int], ...]
    recv_bytes_s: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "summary", as_record(self.summary, "summary", FileSummary))
        ids = tuple(as_int(i, "peer id", 1, MAX_ID) for i in as_list(self.complete, "complete"))
        object.__setattr__(self, "complete", ids)
        object.__setattr__(self, "partial", as_peer_amounts(self.partial, "partial", "chunks"))
        as_int(self.recv_bytes_s, "receive rate")


class PeerTraffic(Record):
    """One peer's traffic as the tracker measured it since the peer joined:
    verified bytes it reported receiving and bytes it reported serving, in
    all and per second over the last few seconds."""

    peer_id: int
    recv_bytes_s: int
    send_bytes_s: int
    received_bytes: int
    sent_bytes: int

    def __post_init__(self) -> None:
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        for value, what in ((self.recv_bytes_s, "receive rate"), (self.send_bytes_s, "send rate"),
                            (self.received_bytes, "bytes received"),
                            (self.sent_bytes, "bytes sent")):
            as_int(value, what)
