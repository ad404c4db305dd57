"""Every message of the swarm protocol, one frozen record class each.

A message checks its own fields when it is built, so a message object that
exists is a valid one: decoding a malformed body raises ``ProtocolError`` and
never yields a half-checked object.  ``KIND`` is the first element of the
encoded header; ``codec`` holds the table from kind to class.

Who sends what to whom is the ``ROUTES`` table at the end of the module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from swarm.protocol.meta import HASH_BYTES, FileMeta, MetaError
from swarm.protocol.names import name_problem
from swarm.protocol.record import Record

PROTOCOL_VERSION = 6
# What a participant is (Join.role).  The one-shot clients take an id and
# appear in the tracker's blocks, but no peer's rule (a) waits for them.
ROLE_PEER = 0  # swarm peer: fetches everything, leaves by rules (a), (b), (c)
ROLE_GET = 1  # swarm get: fetches the files it names, leaves once it holds them
ROLE_SEED = 2  # swarm seed: fetches nothing, leaves by rule (a) (or never)
ROLE_NAMES = {ROLE_PEER: "peer", ROLE_GET: "get", ROLE_SEED: "seed"}
MAX_ID = 2**31 - 1
MAX_SIZE_BYTES = 2**50
MAX_CHUNKS = MAX_SIZE_BYTES // 512
MAX_LIST = 100_000  # entries in any one list field
MAX_TEXT = 1000  # characters in a free-text field (reasons)
MAX_ENDPOINT = 300


class ProtocolError(ValueError):
    """A message from the network that is not a valid swarm message."""


# --- field checks -----------------------------------------------------------


def _int(value: object, what: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    # type() rather than isinstance(): a bool is an int subclass, and not one of ours.
    if type(value) is not int:
        raise ProtocolError(f"{what}: expected an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ProtocolError(f"{what}: {value} is outside [{lo}, {hi}]")
    return value


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"{what}: expected a boolean, got {type(value).__name__}")
    return value


def _text(value: object, what: str, max_len: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{what}: expected a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise ProtocolError(f"{what}: longer than {max_len} characters")
    return value


def _name(value: object, what: str = "file name") -> str:
    problem = name_problem(value)
    if problem is not None:
        raise ProtocolError(f"{what} {value!r}: {problem}")
    assert isinstance(value, str)
    return value


def _digest(value: object, what: str = "digest") -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_BYTES:
        raise ProtocolError(f"{what}: expected {HASH_BYTES} bytes")
    return value


def _seq(value: object, what: str) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise ProtocolError(f"{what}: expected a list, got {type(value).__name__}")
    if len(value) > MAX_LIST:
        raise ProtocolError(f"{what}: more than {MAX_LIST} entries")
    return tuple(value)


def _ranges(value: object, what: str, limit: int = MAX_CHUNKS) -> tuple[int, ...]:
    """Flat chunk ranges [s0, e0, s1, e1, ...]: sorted, disjoint, non-empty."""
    flat = _seq(value, what)
    if len(flat) % 2:
        raise ProtocolError(f"{what}: odd number of range bounds")
    previous_end = -1
    for i in range(0, len(flat), 2):
        start = _int(flat[i], what, 0, limit)
        end = _int(flat[i + 1], what, 0, limit)
        if start >= end or start <= previous_end:
            raise ProtocolError(f"{what}: ranges must be sorted, disjoint and non-empty")
        previous_end = end
    return flat


def is_ipv6(host: str) -> bool:
    """An IPv6 address, bare or in brackets: the only hosts with a colon."""
    return ":" in host


def bracketed(host: str) -> str:
    """A host as a ZeroMQ endpoint writes it: an IPv6 address in brackets
    (once), any other host as it is."""
    return f"[{host}]" if is_ipv6(host) and not host.startswith("[") else host


def tcp_endpoint(host: str, port: int) -> str:
    """tcp://host:port, with an IPv6 address in brackets."""
    return f"tcp://{bracketed(host)}:{port}"


TOKEN_BYTES = 16


def _token(value: object) -> bytes:
    if not isinstance(value, bytes) or len(value) != TOKEN_BYTES:
        raise ProtocolError(f"token: expected {TOKEN_BYTES} bytes")
    return value


def _endpoint(value: object) -> str:
    endpoint = _text(value, "endpoint", MAX_ENDPOINT)
    if not endpoint.startswith("tcp://"):
        raise ProtocolError(f"endpoint {endpoint!r} is not tcp://")
    return endpoint


def _meta(value: object) -> FileMeta:
    if isinstance(value, FileMeta):
        return value
    items = _seq(value, "file metadata")
    if len(items) != 4:
        raise ProtocolError("file metadata: expected [name, size, digest, piece hashes]")
    try:
        return FileMeta(*items)
    except MetaError as exc:
        raise ProtocolError(str(exc)) from None


def field_count(cls: type[Record]) -> int:
    return len(cls._fields)


def _record(value: object, what: str, record: type[Any]) -> Any:
    """A nested record: already built, or its wire list."""
    if isinstance(value, record):
        return value
    items = _seq(value, what)
    if len(items) != field_count(record):
        raise ProtocolError(f"{what}: entry has {len(items)} fields")
    return record(*items)


def _records(value: object, what: str, record: type[Any]) -> tuple[Any, ...]:
    return tuple(_record(item, what, record) for item in _seq(value, what))


def _metas(value: object, what: str) -> tuple[FileMeta, ...]:
    return tuple(_meta(item) for item in _seq(value, what))


def _wire(value: Any) -> Any:
    """A field as msgpack takes it: records (nested messages' parts) become
    lists of their fields, all the way down; tuples pack as arrays as they are."""
    if isinstance(value, Record):
        return [_wire(v) for v in value.values()]
    if isinstance(value, tuple) and value and isinstance(value[0], Record):
        return [_wire(v) for v in value]
    return value


def meta_to_wire(meta: FileMeta) -> list[Any]:
    return [_wire(value) for value in meta.values()]


# --- records nested inside messages ------------------------------------------


class FileSummary(Record):
    """A file as the swarm knows it, without its hash list."""

    name: str
    size_bytes: int
    digest: bytes
    available: bool

    def __post_init__(self) -> None:
        _name(self.name)
        _int(self.size_bytes, "size", 0, MAX_SIZE_BYTES)
        _digest(self.digest)
        _bool(self.available, "available")


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
        _int(self.peer_id, "peer id", 1, MAX_ID)
        _int(self.role, "role", ROLE_PEER, ROLE_SEED)
        _endpoint(self.endpoint)
        complete = tuple(_name(n) for n in _seq(self.complete, "complete"))
        object.__setattr__(self, "complete", complete)
        object.__setattr__(self, "excused", tuple(_name(n) for n in _seq(self.excused, "excused")))


class PartialOffer(Record):
    """Chunks of a file a joining peer holds from an earlier run."""

    meta: FileMeta
    ranges: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", _meta(self.meta))
        object.__setattr__(self, "ranges", _ranges(self.ranges, "held ranges", self.meta.chunks))


class HaveReport(Record):
    """Chunks of one file newly held (verified) by the sender."""

    digest: bytes
    ranges: tuple[int, ...]

    def __post_init__(self) -> None:
        _digest(self.digest)
        object.__setattr__(self, "ranges", _ranges(self.ranges, "have ranges"))


class HolderRanges(Record):
    """One peer's chunks of a file, as the tracker knows them."""

    peer_id: int
    endpoint: str
    ranges: tuple[int, ...]

    def __post_init__(self) -> None:
        _int(self.peer_id, "peer id", 1, MAX_ID)
        _endpoint(self.endpoint)
        object.__setattr__(self, "ranges", _ranges(self.ranges, "holder ranges"))


class Refusal(Record):
    """An offer the tracker did not take, and why."""

    name: str
    reason: str

    def __post_init__(self) -> None:
        _text(self.name, "refused name", 1000)
        _text(self.reason, "reason")


def _peer_amounts(value: object, what: str, amount: str) -> tuple[tuple[int, int], ...]:
    """A list of [peer id, non-negative amount] pairs."""
    pairs = []
    for entry in _seq(value, what):
        pair = _seq(entry, what)
        if len(pair) != 2:
            raise ProtocolError(f"{what}: expected [peer id, {amount}]")
        pairs.append((_int(pair[0], "peer id", 1, MAX_ID), _int(pair[1], amount)))
    return tuple(pairs)


class FileListing(Record):
    """One file of a Listing: summary, complete holders, partial holders
    with their chunk counts, and the rate (bytes/s) at which peers have
    reported verified chunks of it over the last few seconds."""

    summary: FileSummary
    complete: tuple[int, ...]
    partial: tuple[tuple[int, int], ...]
    recv_bytes_s: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "summary", _record(self.summary, "summary", FileSummary))
        ids = tuple(_int(i, "peer id", 1, MAX_ID) for i in _seq(self.complete, "complete"))
        object.__setattr__(self, "complete", ids)
        object.__setattr__(self, "partial", _peer_amounts(self.partial, "partial", "chunks"))
        _int(self.recv_bytes_s, "receive rate")


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
        _int(self.peer_id, "peer id", 1, MAX_ID)
        for value, what in ((self.recv_bytes_s, "receive rate"), (self.send_bytes_s, "send rate"),
                            (self.received_bytes, "bytes received"),
                            (self.sent_bytes, "bytes sent")):
            _int(value, what)



# --- the messages ------------------------------------------------------------


class Message(Record):
    """Base of every wire message."""

    KIND: ClassVar[int]

    def to_wire(self) -> list[Any]:
        return [_wire(value) for value in self.values()]

    @classmethod
    def from_wire(cls, fields: Sequence[Any]) -> Message:
        return cls(*fields)


# Events go out on two topics (the first frame of each PUB message), each
# numbered on its own.  Peers subscribe to the file topic only: what files
# the swarm has, and whether the living peers cover them -- news that grows
# with the files, not with the peers.  Who holds what, and who comes and
# goes, is on the peer topic, for tools; a peer hears what it needs of it
# from the tracker directly (holders on request, LeaveStatus).
FILE_TOPIC = b"f"
PEER_TOPIC = b"p"


class Event(Message):
    """A tracker event published on PUB; ``seq`` numbers the events of its
    topic without gaps.

    ``seq`` is declared here once; a record's inherited fields come before its
    own, so it is the first field of every event, on the wire too."""

    TOPIC: ClassVar[bytes] = PEER_TOPIC
    seq: int

    def __post_init__(self) -> None:
        _int(self.seq, "seq")


class PeerFileEvent(Event):
    """An event about one peer and one file name (the fields, and their
    checks, of the four events that have them)."""

    peer_id: int
    name: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _int(self.peer_id, "peer id", 1, MAX_ID)
        _name(self.name)


# peer -> tracker


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
        _int(self.version, "protocol version", 0, 1000)
        _int(self.listen_port, "listen port", 1, 65535)
        _int(self.role, "role", ROLE_PEER, ROLE_SEED)
        object.__setattr__(self, "files", _metas(self.files, "files"))
        object.__setattr__(self, "partials", _records(self.partials, "partials", PartialOffer))



class Heartbeat(Message):
    """I am alive (any message counts; this one is sent every heartbeat
    interval), and I have sent ``served_bytes`` of chunk data to other peers
    since my Join (the tracker's send rate for `swarm status`)."""

    KIND: ClassVar[int] = 2
    served_bytes: int = 0

    def __post_init__(self) -> None:
        _int(self.served_bytes, "served bytes")


class Offer(Message):
    """Files that appeared in the sender's Shared folder after it joined."""

    KIND: ClassVar[int] = 3
    files: tuple[FileMeta, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", _metas(self.files, "files"))



class Have(Message):
    """Chunks the sender now holds, verified, in batches."""

    KIND: ClassVar[int] = 4
    reports: tuple[HaveReport, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "reports", _records(self.reports, "reports", HaveReport))



class Complete(Message):
    """The sender holds the whole file, verified, in its Shared folder."""

    KIND: ClassVar[int] = 5
    digest: bytes

    def __post_init__(self) -> None:
        _digest(self.digest)


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
        _digest(self.digest)
        _int(self.first_chunk, "first chunk", 0, MAX_CHUNKS)
        _int(self.chunk_count, "chunk count", 0, MAX_CHUNKS)


class MetaQuery(Message):
    """Ask for a file's hash list, to fetch and verify it."""

    KIND: ClassVar[int] = 8
    digest: bytes

    def __post_init__(self) -> None:
        _digest(self.digest)


class Complaint(Message):
    """The sender caught ``peer_id`` serving bytes that fail verification."""

    KIND: ClassVar[int] = 9
    peer_id: int
    digest: bytes
    reason: str

    def __post_init__(self) -> None:
        _int(self.peer_id, "peer id", 1, MAX_ID)
        _digest(self.digest)
        _text(self.reason, "reason")


class Goodbye(Message):
    """Leave.  Unless ``force``, the tracker checks rules (a) and (b) against
    its own, newest state and answers NotYet when they do not hold: the
    sender decided on news that had not reached it yet."""

    KIND: ClassVar[int] = 10
    force: bool

    def __post_init__(self) -> None:
        _bool(self.force, "force")


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
        _int(self.version, "protocol version", 0, 1000)


class ListQuery(Message):
    """Ask for the file table with every holder (for tools, not for peers)."""

    KIND: ClassVar[int] = 11


class ReverseRequest(Message):
    """The sender cannot connect to ``peer_id`` (behind NAT or a firewall):
    ask it to connect to the sender instead."""

    KIND: ClassVar[int] = 13
    peer_id: int

    def __post_init__(self) -> None:
        _int(self.peer_id, "peer id", 1, MAX_ID)


class PunchReady(Message):
    """The sender is behind NAT and can take part in hole punching: its punch
    port came out at ``port`` on both of the tracker's address echoes (its NAT
    keeps one public port per local port, whatever the destination)."""

    KIND: ClassVar[int] = 18
    port: int

    def __post_init__(self) -> None:
        _int(self.port, "port", 1, 65535)


class CannotHold(Message):
    """The sender cannot hold ``name``: something else has that name in its
    Shared folder, or its disk refuses the writes.  Nobody waits for it to."""

    KIND: ClassVar[int] = 14
    name: str
    reason: str

    def __post_init__(self) -> None:
        _name(self.name)
        _text(self.reason, "reason")


class CanHoldAgain(Message):
    """The sender's disk takes writes again: it fetches ``name`` after all, and
    the others wait for it as for any peer."""

    KIND: ClassVar[int] = 15
    name: str

    def __post_init__(self) -> None:
        _name(self.name)


class Withdraw(Message):
    """The sender no longer holds this file: it changed or was deleted in its
    Shared folder.  Nobody is sent to it for the file any more."""

    KIND: ClassVar[int] = 16
    digest: bytes
    reason: str

    def __post_init__(self) -> None:
        _digest(self.digest)
        _text(self.reason, "reason")


# tracker -> peer


class Snapshot(Message):
    """The swarm's files as of file event ``seq``."""

    KIND: ClassVar[int] = 20
    seq: int
    files: tuple[FileSummary, ...]

    def __post_init__(self) -> None:
        _int(self.seq, "seq")
        object.__setattr__(self, "files", _records(self.files, "files", FileSummary))



class HelloReply(Message):
    """Where the events are published, and the tracker's two address echoes
    (TCP ports that answer "you came from IP PORT" and close), for a peer to
    learn its public mapping before hole punching (none: no punching)."""

    KIND: ClassVar[int] = 32
    version: int
    pub_port: int
    echo_ports: tuple[int, ...]

    def __post_init__(self) -> None:
        _int(self.version, "protocol version", 0, 1000)
        _int(self.pub_port, "pub port", 1, 65535)
        ports = _seq(self.echo_ports, "echo ports")
        if len(ports) not in (0, 2):
            raise ProtocolError("echo ports: expected none or two")
        for port in ports:
            _int(port, "echo port", 1, 65535)
        object.__setattr__(self, "echo_ports", ports)


class Welcome(Message):
    """The sender's peer id, the swarm as of the snapshot, and the offers refused."""

    KIND: ClassVar[int] = 21
    peer_id: int
    snapshot: Snapshot
    refused: tuple[Refusal, ...]

    def __post_init__(self) -> None:
        _int(self.peer_id, "peer id", 1, MAX_ID)
        object.__setattr__(self, "snapshot", _record(self.snapshot, "snapshot", Snapshot))
        object.__setattr__(self, "refused", _records(self.refused, "refused", Refusal))



class Holders(Message):
    """Which peers hold which chunks of a file (answer to HoldersQuery): a
    bounded number of them, drawn afresh for each answer, the least named first."""

    KIND: ClassVar[int] = 22
    digest: bytes
    holders: tuple[HolderRanges, ...]

    def __post_init__(self) -> None:
        _digest(self.digest)
        object.__setattr__(self, "holders", _records(self.holders, "holders", HolderRanges))



class MetaReply(Message):
    """A file's metadata, with its hash list (answer to MetaQuery)."""

    KIND: ClassVar[int] = 23
    meta: FileMeta

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", _meta(self.meta))



class Refused(Message):
    """Offers the tracker did not take (name conflicts, bad metadata)."""

    KIND: ClassVar[int] = 24
    refused: tuple[Refusal, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "refused", _records(self.refused, "refused", Refusal))



class Pong(Message):
    """Answer to a heartbeat, with the newest event number (to spot a lost
    last event, which no later event would reveal)."""

    KIND: ClassVar[int] = 25
    seq: int

    def __post_init__(self) -> None:
        _int(self.seq, "seq")


class Farewell(Message):
    """The goodbye is taken: the peer may go."""

    KIND: ClassVar[int] = 26


class NotYet(Message):
    """The goodbye is refused: rule (a) or (b) does not hold on the tracker's newest state."""

    KIND: ClassVar[int] = 27
    seq: int

    def __post_init__(self) -> None:
        _int(self.seq, "seq")


class ErrorReply(Message):
    """A request that could not be taken, and why."""

    KIND: ClassVar[int] = 28
    reason: str

    def __post_init__(self) -> None:
        _text(self.reason, "reason")


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
        _int(self.seq, "seq")
        object.__setattr__(self, "peers", _records(self.peers, "peers", PeerSummary))
        object.__setattr__(self, "files", _records(self.files, "files", FileListing))
        object.__setattr__(self, "traffic", _records(self.traffic, "traffic", PeerTraffic))
        _int(self.moved_bytes, "bytes moved")



# tracker -> everyone (events)


class PeerJoined(Event):
    """A peer joined, serving at this endpoint."""

    KIND: ClassVar[int] = 40
    peer_id: int
    endpoint: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _int(self.peer_id, "peer id", 1, MAX_ID)
        _endpoint(self.endpoint)


class FileAdded(Event):
    """A file name the swarm has not had before ("new file")."""

    KIND: ClassVar[int] = 41
    TOPIC: ClassVar[bytes] = FILE_TOPIC
    file: FileSummary
    owner: int

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "file", _record(self.file, "file", FileSummary))
        _int(self.owner, "owner", 1, MAX_ID)



class FileCompleted(PeerFileEvent):
    """A peer holds a file whole (it brought it or finished fetching it)."""

    KIND: ClassVar[int] = 42


class PeerLeft(Event):
    """A peer said goodbye or expired."""

    KIND: ClassVar[int] = 43
    peer_id: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _int(self.peer_id, "peer id", 1, MAX_ID)


class Availability(Event):
    """The living peers together cover the file again, or no longer do."""

    KIND: ClassVar[int] = 44
    TOPIC: ClassVar[bytes] = FILE_TOPIC
    name: str
    available: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        _name(self.name)
        _bool(self.available, "available")


class Excused(PeerFileEvent):
    """``peer_id`` cannot take the swarm's ``name`` (it holds other bytes or
    something else under that name, or its disk refuses the writes); nobody
    waits for it to."""

    KIND: ClassVar[int] = 45


class ExcuseWithdrawn(PeerFileEvent):
    """``peer_id`` can hold ``name`` again (its disk takes writes again): it is
    waited for as any peer."""

    KIND: ClassVar[int] = 46


class FileDropped(PeerFileEvent):
    """``peer_id`` no longer holds ``name`` (it changed or was deleted there)."""

    KIND: ClassVar[int] = 47


class FileRemoved(Event):
    """The swarm no longer has ``name``: a holder withdrew it and the living
    peers do not cover it.  Partial copies are useless; the name is free."""

    KIND: ClassVar[int] = 48
    TOPIC: ClassVar[bytes] = FILE_TOPIC
    name: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _name(self.name)


class ConnectTo(Message):
    """Connect out to ``peer_id`` at ``endpoint`` and serve it chunks over that
    connection, introducing yourself with ``token`` (connection reversal)."""

    KIND: ClassVar[int] = 33
    peer_id: int
    endpoint: str
    token: bytes

    def __post_init__(self) -> None:
        _int(self.peer_id, "peer id", 1, MAX_ID)
        _endpoint(self.endpoint)
        _token(self.token)


class ReverseToken(Message):
    """``peer_id`` is asked to connect to you; it will show ``token``."""

    KIND: ClassVar[int] = 34
    peer_id: int
    token: bytes

    def __post_init__(self) -> None:
        _int(self.peer_id, "peer id", 1, MAX_ID)
        _token(self.token)


class LeaveStatus(Message):
    """Whether rules (a) and (b) hold for you now, on the tracker's state,
    and if not, why; sent whenever that changes, so a peer need not follow
    everyone's completions to know when it may leave."""

    KIND: ClassVar[int] = 35
    ready: bool
    reason: str

    def __post_init__(self) -> None:
        _bool(self.ready, "ready")
        _text(self.reason, "reason")


# peer -> peer


class Introduce(Message):
    """First message on a reversed connection: I am ``peer_id``, asked by the
    tracker (``token``) to serve you from here."""

    KIND: ClassVar[int] = 64
    peer_id: int
    token: bytes

    def __post_init__(self) -> None:
        _int(self.peer_id, "peer id", 1, MAX_ID)
        _token(self.token)


class Punch(Message):
    """Hole punching: connect now, from your punch port, to ``peer_id`` at
    ``endpoint`` (its public punch mapping, as the tracker's echo saw it).  It
    is told the same of you at the same moment; the one connection that
    comes of it carries requests and answers both ways."""

    KIND: ClassVar[int] = 36
    peer_id: int
    endpoint: str

    def __post_init__(self) -> None:
        _int(self.peer_id, "peer id", 1, MAX_ID)
        _endpoint(self.endpoint)


class ChunkRequest(Message):
    """Ask a peer for a run of chunks (in practice one piece)."""

    KIND: ClassVar[int] = 60
    request_id: int
    digest: bytes
    first_chunk: int
    chunk_count: int

    def __post_init__(self) -> None:
        _int(self.request_id, "request id")
        _digest(self.digest)
        _int(self.first_chunk, "first chunk", 0, MAX_CHUNKS)
        _int(self.chunk_count, "chunk count", 1, MAX_CHUNKS)


class Cancel(Message):
    """A request is no longer wanted (another holder answered first)."""

    KIND: ClassVar[int] = 61
    request_id: int

    def __post_init__(self) -> None:
        _int(self.request_id, "request id")


class ChunkData(Message):
    """The bytes of chunks [first_chunk, first_chunk + chunk_count); they
    travel in a frame of their own (``payload``), never inside msgpack."""

    KIND: ClassVar[int] = 62
    request_id: int
    digest: bytes
    first_chunk: int
    chunk_count: int

    def __post_init__(self) -> None:
        _int(self.request_id, "request id")
        _digest(self.digest)
        _int(self.first_chunk, "first chunk", 0, MAX_CHUNKS)
        _int(self.chunk_count, "chunk count", 1, MAX_CHUNKS)


class ChunkRefused(Message):
    """A request that will not be answered with data, and why."""

    KIND: ClassVar[int] = 63
    request_id: int
    reason: str

    def __post_init__(self) -> None:
        _int(self.request_id, "request id")
        _text(self.reason, "reason")


# Who sends what to whom, over which sockets: the protocol reference in the
# README is generated from this table (python -m swarm.tools.protocol_doc).
ROUTES: tuple[tuple[str, str, tuple[type[Message], ...]], ...] = (
    ("peer → tracker", "DEALER → ROUTER",
     (Hello, Join, Heartbeat, Offer, Have, Complete, SyncRequest, HoldersQuery, MetaQuery,
      Complaint, ReverseRequest, PunchReady, CannotHold, CanHoldAgain, Withdraw, Goodbye,
      LeaveQuery)),
    ("tool → tracker", "DEALER → ROUTER", (ListQuery,)),
    ("tracker → peer", "ROUTER → DEALER",
     (HelloReply, Welcome, Snapshot, Holders, MetaReply, Refused, Pong, LeaveStatus, Farewell,
      NotYet, ErrorReply, Rejoin, ConnectTo, ReverseToken, Punch)),
    ("tracker → tool", "ROUTER → DEALER", (Listing,)),
    ("tracker → every peer", "PUB → SUB, topic f", (FileAdded, Availability, FileRemoved)),
    ("tracker → tools", "PUB → SUB, topic p",
     (PeerJoined, FileCompleted, PeerLeft, Excused, ExcuseWithdrawn, FileDropped)),
    ("peer → peer", "ROUTER → ROUTER", (ChunkRequest, Cancel)),
    ("peer → peer", "ROUTER → ROUTER", (ChunkData, ChunkRefused, ErrorReply)),
    # Reversed: the serving peer connects out (it cannot be reached), so the
    # roles of the sockets swap and the requester's ROUTER does the asking.
    ("serving peer → requester", "DEALER → ROUTER", (Introduce, ChunkData, ChunkRefused)),
    ("requester → serving peer", "ROUTER → DEALER", (ChunkRequest, Cancel)),
    # Punched: both peers connect at once (TCP simultaneous open), and the one
    # connection joins a ROUTER of each; each asks and answers over it.
    ("peer ↔ peer, punched", "ROUTER ↔ ROUTER",
     (ChunkRequest, Cancel, ChunkData, ChunkRefused)),
)

# The records nested inside messages, for the reference.
RECORDS: tuple[type[Record], ...] = (
    FileMeta, FileSummary, PeerSummary, PartialOffer, HaveReport, HolderRanges, Refusal,
    FileListing, PeerTraffic,
)

ALL_MESSAGES: tuple[type[Message], ...] = tuple(
    dict.fromkeys(cls for _, _, classes in ROUTES for cls in classes)
)
