"""The messages between a peer (or a tool) and the tracker, one frozen
record class each.

A message checks its own fields when it is built (``swarm.protocol.fields``),
so a message object that exists is a valid one: decoding a malformed body
raises ``ProtocolError`` and never yields a half-checked object.  ``KIND`` is
the first element of the encoded header; ``swarm.protocol.catalogue`` holds
every kind, and who sends what to whom.  The tracker's events are in
``swarm.protocol.events``, what peers say to each other in
``swarm.protocol.peer_messages``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from swarm.protocol.fields import (
    MAX_CHUNKS,
    MAX_ID,
    ProtocolError,
    as_bool,
    as_digest,
    as_endpoint,
    as_int,
    as_list,
    as_meta,
    as_metas,
    as_name,
    as_record,
    as_records,
    as_text,
    as_token,
)
from swarm.protocol.message_parts import (
    FileListing,
    FileSummary,
    HaveReport,
    HolderRanges,
    PartialOffer,
    PeerSummary,
    PeerTraffic,
    Refusal,
)
from swarm.protocol.meta import FileMeta
from swarm.protocol.record import Record
from swarm.protocol.roles import ROLE_PEER, ROLE_SEED

PROTOCOL_VERSION = 8


class Message(Record):
    """Base of every wire message."""

    KIND: ClassVar[int]

    @classmethod
    def from_wire(cls, fields: Sequence[Any]) -> Message:
        return cls(*fields)


# --- peer -> tracker ----------------------------------------------------------


class Join(Message):
    """Join the swarm: the port this peer serves chunks on, its complete files, the chunks
    it kept from an earlier run, and what it is (``ROLE_*``)."""

    KIND: ClassVar[int] = 1
    version: int
    listen_port: int
    files: tuple[FileMeta, ...]
    partials: tuple[PartialOffer, ...]
    role: int = ROLE_PEER

    def __post_init__(self) -> None:
        as_int(self.version, "protocol version", 0, 1000)
        as_int(self.listen_port, "listen port", 1, 65535)
        as_int(self.role, "role", ROLE_PEER, ROLE_SEED)
        object.__setattr__(self, "files", as_metas(self.files, "files"))
        object.__setattr__(self, "partials", as_records(self.partials, "partials", PartialOffer))


class Heartbeat(Message):
    """I am alive (any message counts; this one is sent every heartbeat
    interval), and I have sent ``served_bytes`` of chunk data to other peers
    since my Join (the tracker's send rate for `swarm status`)."""

    KIND: ClassVar[int] = 2
    served_bytes: int = 0

    def __post_init__(self) -> None:
        as_int(self.served_bytes, "served bytes")


class Offer(Message):
    """Files that appeared in the sender's Shared folder after it joined."""

    KIND: ClassVar[int] = 3
    files: tuple[FileMeta, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", as_metas(self.files, "files"))


class Have(Message):
    """Chunks the sender now holds, verified, in batches."""

    KIND: ClassVar[int] = 4
    reports: tuple[HaveReport, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "reports", as_records(self.reports, "reports", HaveReport))


class Complete(Message):
    """The sender holds the whole file, verified, in its Shared folder; the
    chunks it had not reported yet come with it, as a Have's would."""

    KIND: ClassVar[int] = 5
    digest: bytes
    reports: tuple[HaveReport, ...] = ()

    def __post_init__(self) -> None:
        as_digest(self.digest)
        object.__setattr__(self, "reports", as_records(self.reports, "reports", HaveReport))


class SyncRequest(Message):
    """Ask for a fresh Snapshot (after a gap in the event numbers)."""

    KIND: ClassVar[int] = 6


class HoldersQuery(Message):
    """Which peers hold which chunks of a file, within [first_chunk,
    first_chunk + chunk_count); a count of 0 means "to the end"."""

    KIND: ClassVar[int] = 7
    digest: bytes
    first_chunk: int
    chunk_count: int

    def __post_init__(self) -> None:
        as_digest(self.digest)
        as_int(self.first_chunk, "first chunk", 0, MAX_CHUNKS)
        as_int(self.chunk_count, "chunk count", 0, MAX_CHUNKS)


class MetaQuery(Message):
    """Ask for a file's hash list, to fetch and verify it."""

    KIND: ClassVar[int] = 8
    digest: bytes

    def __post_init__(self) -> None:
        as_digest(self.digest)


class Complaint(Message):
    """The sender caught ``peer_id`` serving bytes that fail verification."""

    KIND: ClassVar[int] = 9
    peer_id: int
    digest: bytes
    reason: str

    def __post_init__(self) -> None:
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        as_digest(self.digest)
        as_text(self.reason, "reason")


class Goodbye(Message):
    """Leave.  Unless ``force``, the tracker checks rules (a) and (b) against
    its own, newest state and answers NotYet when they do not hold: the
    sender decided on news that had not reached it yet."""

    KIND: ClassVar[int] = 10
    force: bool

    def __post_init__(self) -> None:
        as_bool(self.force, "force")


class LeaveQuery(Message):
    """Why may I not leave yet, in detail?  Asked every few seconds only by a
    peer that shows a person its status: the answer (a LeaveStatus) names a
    peer that lacks one of its files and how far along that peer is, which
    the pushed LeaveStatus does not keep up to date."""

    KIND: ClassVar[int] = 17


class Hello(Message):
    """A peer's first words, before it joins: where are the events published?
    (It subscribes first, then joins: the zguide's Clone pattern.)"""

    KIND: ClassVar[int] = 12
    version: int

    def __post_init__(self) -> None:
        as_int(self.version, "protocol version", 0, 1000)


class ListQuery(Message):
    """Ask for the file table with every holder (for tools, not for peers)."""

    KIND: ClassVar[int] = 11


class ReverseRequest(Message):
    """The sender cannot connect to ``peer_id`` (behind NAT or a firewall):
    ask it to connect to the sender instead."""

    KIND: ClassVar[int] = 13
    peer_id: int

    def __post_init__(self) -> None:
        as_int(self.peer_id, "peer id", 1, MAX_ID)


class PunchReady(Message):
    """The sender is behind NAT and can take part in hole punching: its punch
    port came out at ``port`` on both of the tracker's address echoes (its NAT
    keeps one public port per local port, whatever the destination)."""

    KIND: ClassVar[int] = 18
    port: int

    def __post_init__(self) -> None:
        as_int(self.port, "port", 1, 65535)


class CannotHold(Message):
    """The sender cannot hold ``name``: something else has that name in its
    Shared folder, or its disk refuses the writes.  Nobody waits for it to."""

    KIND: ClassVar[int] = 14
    name: str
    reason: str

    def __post_init__(self) -> None:
        as_name(self.name)
        as_text(self.reason, "reason")


class CanHoldAgain(Message):
    """The sender's disk takes writes again: it fetches ``name`` after all, and
    the others wait for it as for any peer."""

    KIND: ClassVar[int] = 15
    name: str

    def __post_init__(self) -> None:
        as_name(self.name)


class Withdraw(Message):
    """The sender no longer holds this file: it changed or was deleted in its
    Shared folder.  Nobody is sent to it for the file any more."""

    KIND: ClassVar[int] = 16
    digest: bytes
    reason: str

    def __post_init__(self) -> None:
        as_digest(self.digest)
        as_text(self.reason, "reason")


# --- tracker -> peer ----------------------------------------------------------


class Snapshot(Message):
    """The swarm's files as of file event ``seq``."""

    KIND: ClassVar[int] = 20
    seq: int
    files: tuple[FileSummary, ...]

    def __post_init__(self) -> None:
        as_int(self.seq, "seq")
        object.__setattr__(self, "files", as_records(self.files, "files", FileSummary))


class HelloReply(Message):
    """Where the events are published, and the tracker's two address echoes
    (TCP ports that answer "you came from IP PORT" and close), for a peer to
    learn its public mapping before hole punching (none: no punching)."""

    KIND: ClassVar[int] = 32
    version: int
    pub_port: int
    echo_ports: tuple[int, ...]

    def __post_init__(self) -> None:
        as_int(self.version, "protocol version", 0, 1000)
        as_int(self.pub_port, "pub port", 1, 65535)
        ports = as_list(self.echo_ports, "echo ports")
        if len(ports) not in (0, 2):
            raise ProtocolError("echo ports: expected none or two")
        for port in ports:
            as_int(port, "echo port", 1, 65535)
        object.__setattr__(self, "echo_ports", ports)


class Welcome(Message):
    """The sender's peer id, the swarm as of the snapshot, and the offers refused."""

    KIND: ClassVar[int] = 21
    peer_id: int
    snapshot: Snapshot
    refused: tuple[Refusal, ...]

    def __post_init__(self) -> None:
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        object.__setattr__(self, "snapshot", as_record(self.snapshot, "snapshot", Snapshot))
        object.__setattr__(self, "refused", as_records(self.refused, "refused", Refusal))


class Holders(Message):
    """Which peers hold which chunks of a file (answer to HoldersQuery): a
    bounded number of them, drawn afresh for each answer, the least named first."""

    KIND: ClassVar[int] = 22
    digest: bytes
    holders: tuple[HolderRanges, ...]

    def __post_init__(self) -> None:
        as_digest(self.digest)
        object.__setattr__(self, "holders", as_records(self.holders, "holders", HolderRanges))


class MetaReply(Message):
    """A file's metadata, with its hash list, and the holders its download
    starts from, as Holders would name them (answer to MetaQuery)."""

    KIND: ClassVar[int] = 23
    meta: FileMeta
    holders: tuple[HolderRanges, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", as_meta(self.meta))
        object.__setattr__(self, "holders", as_records(self.holders, "holders", HolderRanges))


class Refused(Message):
    """Offers the tracker did not take (name conflicts, bad metadata)."""

    KIND: ClassVar[int] = 24
    refused: tuple[Refusal, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "refused", as_records(self.refused, "refused", Refusal))


class Pong(Message):
    """Answer to a heartbeat, with the newest event number (to spot a lost
    last event, which no later event would reveal)."""

    KIND: ClassVar[int] = 25
    seq: int

    def __post_init__(self) -> None:
        as_int(self.seq, "seq")


class Farewell(Message):
    """The goodbye is taken: the peer may go."""

    KIND: ClassVar[int] = 26


class NotYet(Message):
    """The goodbye is refused: rule (a) or (b) does not hold on the tracker's newest state."""

    KIND: ClassVar[int] = 27
    seq: int

    def __post_init__(self) -> None:
        as_int(self.seq, "seq")


class ErrorReply(Message):
    """A request that could not be taken, and why.

    The answer to a ReverseRequest for a peer the tracker does not know
    (``no_peer``) is how the asker learns that the peer has left: peers hear
    of no departures otherwise."""

    KIND: ClassVar[int] = 28
    NO_PEER: ClassVar[str] = "no peer {} to reverse"
    reason: str

    def __post_init__(self) -> None:
        as_text(self.reason, "reason")

    @classmethod
    def no_peer(cls, peer_id: int) -> ErrorReply:
        return cls(cls.NO_PEER.format(peer_id))

    def peer_gone(self) -> int | None:
        """The peer a ``no_peer`` answer names; None for any other error."""
        head, _, tail = self.NO_PEER.partition("{}")
        reason = self.reason
        number = reason[len(head):len(reason) - len(tail)]
        if (reason.startswith(head) and reason.endswith(tail) and number.isdecimal()
                and number.isascii()):
            return int(number)
        return None


class Rejoin(Message):
    """The tracker does not know the sender (expired, or a new tracker)."""

    KIND: ClassVar[int] = 29


class Listing(Message):
    """Every peer and every file with its holders (answer to ListQuery), each
    peer's traffic, and the verified bytes peers have reported receiving
    since the tracker started (``moved_bytes``)."""

    KIND: ClassVar[int] = 30
    seq: int
    peers: tuple[PeerSummary, ...]
    files: tuple[FileListing, ...]
    traffic: tuple[PeerTraffic, ...]
    moved_bytes: int = 0

    def __post_init__(self) -> None:
        as_int(self.seq, "seq")
        object.__setattr__(self, "peers", as_records(self.peers, "peers", PeerSummary))
        object.__setattr__(self, "files", as_records(self.files, "files", FileListing))
        object.__setattr__(self, "traffic", as_records(self.traffic, "traffic", PeerTraffic))
        as_int(self.moved_bytes, "bytes moved")


class ConnectTo(Message):
    """Connect out to ``peer_id`` at ``endpoint`` and serve it chunks over that
    connection, introducing yourself with ``token`` (connection reversal)."""

    KIND: ClassVar[int] = 33
    peer_id: int
    endpoint: str
    token: bytes

    def __post_init__(self) -> None:
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        as_endpoint(self.endpoint)
        as_token(self.token)


class ReverseToken(Message):
    """``peer_id`` is asked to connect to you; it will show ``token``."""

    KIND: ClassVar[int] = 34
    peer_id: int
    token: bytes

    def __post_init__(self) -> None:
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        as_token(self.token)


class LeaveStatus(Message):
    """Whether rules (a) and (b) hold for you now, on the tracker's state,
    and if not, why; sent whenever that changes, so a peer need not follow
    everyone's completions to know when it may leave."""

    KIND: ClassVar[int] = 35
    ready: bool
    reason: str

    def __post_init__(self) -> None:
        as_bool(self.ready, "ready")
        as_text(self.reason, "reason")


# How often one pair of peers is told to punch (the tracker), and, less one,
# how often a peer asks again after a punched link did not come up: a pair
# whose punches keep failing is reversed, or left to reach each other
# through others.
PUNCH_ATTEMPTS = 3


class Punch(Message):
    """Hole punching: connect now, from your punch port, to ``peer_id`` at
    ``endpoint`` (its public punch mapping, as the tracker's echo saw it).  It
    is told the same of you at the same moment; the one connection that
    comes of it carries requests and answers both ways."""

    KIND: ClassVar[int] = 36
    peer_id: int
    endpoint: str

    def __post_init__(self) -> None:
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        as_endpoint(self.endpoint)
