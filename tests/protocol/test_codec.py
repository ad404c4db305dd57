"""The codec: every message round-trips, and bad input raises ProtocolError only."""

from __future__ import annotations

import contextlib
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarm.protocol import messages as m
from swarm.protocol.catalogue import ALL_MESSAGES
from swarm.protocol.codec import MAX_HEADER_BYTES, decode, encode, encode_frames
from swarm.protocol.events import (
    Availability,
    Excused,
    ExcuseWithdrawn,
    FileAdded,
    FileCompleted,
    FileDropped,
    FileRemoved,
    PeerJoined,
    PeerLeft,
)
from swarm.protocol.fields import TOKEN_BYTES, ProtocolError
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
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.protocol.peer_messages import Cancel, ChunkData, ChunkRefused, ChunkRequest, Introduce
from swarm.protocol.roles import ROLE_SEED

META_SMALL = meta_of_bytes("small.txt", b"hello swarm\n" * 100)  # 1200 bytes, 3 chunks
META_EMPTY = meta_of_bytes("empty file", b"")
META_WIDE = meta_of_bytes("é ü 日本.txt", bytes(range(256)) * 300)  # 76800 bytes, 2 pieces
DIGEST = META_SMALL.digest
ENDPOINT = "tcp://127.0.0.1:5555"


def summary_of(meta: FileMeta, available: bool = True) -> FileSummary:
    return FileSummary(meta.name, meta.size_bytes, meta.digest, available)


PEERS = (
    PeerSummary(1, ENDPOINT, ("empty file", "small.txt"), ()),
    PeerSummary(2, "tcp://[::1]:6000", (), ("small.txt",)),
    PeerSummary(3, ENDPOINT, (), (), ROLE_SEED),
)
SNAPSHOT = m.Snapshot(7, (summary_of(META_EMPTY), summary_of(META_SMALL, False)))
FILE_LISTING = FileListing(summary_of(META_WIDE), (1, 3), ((2, 64), (4, 10)), 65536)
TRAFFIC = (PeerTraffic(1, 0, 524288, 0, 9 << 20), PeerTraffic(2, 524288, 0, 3 << 20, 0))


def sample_messages() -> list[m.Message]:
    """One valid instance of every message class, nested records filled in."""
    return [
        m.Join(1, 4000, (META_SMALL, META_EMPTY), (PartialOffer(META_WIDE, (0, 64, 100, 150)),)),
        m.Heartbeat(),
        m.Heartbeat(5 << 30),
        m.Offer((META_WIDE,)),
        m.Have((HaveReport(DIGEST, (0, 2)), HaveReport(META_WIDE.digest, (5, 9, 10, 11)))),
        m.Complete(DIGEST),
        m.SyncRequest(),
        m.HoldersQuery(DIGEST, 0, 0),
        m.MetaQuery(DIGEST),
        m.Complaint(3, DIGEST, "piece 0 failed its hash"),
        m.Goodbye(True),
        m.LeaveQuery(),
        m.ListQuery(),
        m.Hello(1),
        SNAPSHOT,
        m.HelloReply(1, 7001, (7002, 7003)),
        m.HelloReply(1, 7001, ()),
        m.Welcome(4, SNAPSHOT, (Refusal("clash.txt", "other content"),)),
        m.Holders(DIGEST, (HolderRanges(1, ENDPOINT, (0, 3)), HolderRanges(2, ENDPOINT, ()))),
        m.MetaReply(META_WIDE),
        m.Refused((Refusal("../x", "bad name"), Refusal("a", "conflict"))),
        m.Pong(12),
        m.Farewell(),
        m.NotYet(13),
        m.ErrorReply("unknown file"),
        m.Rejoin(),
        m.Listing(9, PEERS, (FILE_LISTING,), TRAFFIC, 12 << 20),
        PeerJoined(1, 5, ENDPOINT),
        FileAdded(2, summary_of(META_SMALL), 5),
        FileCompleted(3, 5, "small.txt"),
        PeerLeft(4, 5),
        Availability(5, "small.txt", False),
        Excused(6, 2, "small.txt"),
        ChunkRequest(10, DIGEST, 0, 3),
        Cancel(10),
        ChunkData(10, DIGEST, 0, 3),
        ChunkRefused(10, "not held"),
        m.ReverseRequest(5),
        m.ConnectTo(2, ENDPOINT, b"t" * TOKEN_BYTES),
        m.ReverseToken(5, b"t" * TOKEN_BYTES),
        Introduce(5, b"t" * TOKEN_BYTES),
        m.PunchReady(40123),
        m.Punch(3, ENDPOINT),
        m.CannotHold("small.txt", "a folder has that name in its Shared folder"),
        m.CanHoldAgain("small.txt"),
        m.Withdraw(DIGEST, "modified"),
        ExcuseWithdrawn(7, 2, "small.txt"),
        FileDropped(8, 1, "small.txt"),
        FileRemoved(9, "small.txt"),
        m.LeaveStatus(False, "2 peers still lack 'small.txt'"),
    ]


def test_samples_cover_every_message_class() -> None:
    assert {type(msg) for msg in sample_messages()} == set(ALL_MESSAGES)


@pytest.mark.parametrize("message", sample_messages(), ids=lambda msg: type(msg).__name__)
def test_round_trip(message: m.Message) -> None:
    if isinstance(message, ChunkData):
        payload = bytes(range(256)) * 6
        decoded, got_payload = decode(encode_frames(message, payload))
        assert isinstance(got_payload, memoryview)
        assert bytes(got_payload) == payload
    else:
        decoded, got_payload = decode(encode_frames(message))
        assert got_payload is None
    assert decoded == message
    assert type(decoded) is type(message)


def test_encode_frames_pairs_payload_with_chunk_data_only() -> None:
    with pytest.raises(ValueError):
        encode_frames(ChunkData(1, DIGEST, 0, 1))
    with pytest.raises(ValueError):
        encode_frames(m.Pong(1), b"payload")


# --- malformed input ------------------------------------------------------------------


def pack(*items: Any) -> bytes:
    packed: bytes = msgpack.packb(list(items), use_bin_type=True)
    return packed


def meta_wire(meta: FileMeta) -> list[Any]:
    return list(meta.values())  # its fields are msgpack's own types


MALFORMED_FRAMES: dict[str, list[Any]] = {
    "no frames": [],
    "three frames": [pack(m.Heartbeat.KIND), b"", b""],
    "not msgpack": [b"\xc1\xc1\xc1"],
    "truncated msgpack": [pack(m.Pong.KIND, 5)[:-1]],
    "trailing bytes": [pack(m.Pong.KIND, 5) + b"\x00"],
    "empty frame": [b""],
    "msgpack int, not array": [msgpack.packb(2)],
    "msgpack str, not array": [msgpack.packb("hello")],
    "empty array": [pack()],
    "unknown kind": [pack(99)],
    "negative kind": [pack(-1)],
    "bool kind": [pack(True, 1, 80, [], [])],  # a valid Join if True counted as 1
    "str kind": [pack("1")],
    "float kind": [pack(2.0)],
    "too few fields": [pack(m.Pong.KIND)],
    "too many fields": [pack(m.Pong.KIND, 1, 2)],
    "fields on a fieldless message": [pack(m.Farewell.KIND, 0)],
    "heartbeat without its count": [pack(m.Heartbeat.KIND)],
    "negative bytes served": [pack(m.Heartbeat.KIND, -1)],
    "float bytes served": [pack(m.Heartbeat.KIND, 1.5)],
    "str for int": [pack(m.Pong.KIND, "5")],
    "bool for int": [pack(m.Pong.KIND, True)],
    "float for int": [pack(m.Pong.KIND, 5.0)],
    "nil for int": [pack(m.Pong.KIND, None)],
    "int for bytes": [pack(m.Complete.KIND, 5)],
    "str for bytes": [pack(m.Complete.KIND, "x" * 32)],
    "int for bool": [pack(m.Goodbye.KIND, 1)],
    "list for str": [pack(m.ErrorReply.KIND, ["reason"])],
    "negative int": [pack(m.Pong.KIND, -1)],
    "huge int": [pack(m.Pong.KIND, 2**64 - 1)],
    "peer id zero": [pack(PeerLeft.KIND, 1, 0)],
    "peer id too big": [pack(PeerLeft.KIND, 1, 2**31)],
    "port zero": [pack(m.Join.KIND, 1, 0, [], [])],
    "port too big": [pack(m.Join.KIND, 1, 65536, [], [])],
    "pub port zero": [pack(m.HelloReply.KIND, 1, 0, [])],
    "one echo port": [pack(m.HelloReply.KIND, 1, 7001, [7002])],
    "echo port zero": [pack(m.HelloReply.KIND, 1, 7001, [0, 7003])],
    "punch port zero": [pack(m.PunchReady.KIND, 0)],
    "punch to a non-tcp endpoint": [pack(m.Punch.KIND, 3, "udp://10.0.0.1:5")],
    "chunk count zero": [pack(ChunkRequest.KIND, 1, DIGEST, 0, 0)],
    "name with dot-dot path": [pack(FileCompleted.KIND, 1, 1, "../x")],
    "hidden name": [pack(Availability.KIND, 1, ".h", True)],
    "name with slash": [pack(Excused.KIND, 1, 1, "a/b")],
    "hidden name in an excuse": [pack(m.CannotHold.KIND, ".h", "why")],
    "path in a removal": [pack(FileRemoved.KIND, 1, "../x")],
    "short digest in a withdrawal": [pack(m.Withdraw.KIND, DIGEST[:31], "modified")],
    "hostile name in meta": [pack(m.MetaReply.KIND, ["../x", *meta_wire(META_SMALL)[1:]])],
    "hostile name in summary": [pack(FileAdded.KIND, 1, ["a/b", 1, DIGEST, True], 1)],
    "hostile name in peer list": [pack(m.Snapshot.KIND, 1, [[1, ENDPOINT, [".h"], []]], [])],
    "31-byte digest": [pack(m.Complete.KIND, DIGEST[:31])],
    "33-byte digest": [pack(m.HoldersQuery.KIND, DIGEST + b"\0")],
    "meta with wrong digest": [
        pack(m.MetaReply.KIND, [META_SMALL.name, 1200, bytes(32), META_SMALL.piece_hashes])
    ],
    "meta with three fields": [pack(m.MetaReply.KIND, meta_wire(META_SMALL)[:3])],
    "odd ranges": [pack(m.Have.KIND, [[DIGEST, [0, 2, 5]]])],
    "unsorted ranges": [pack(m.Have.KIND, [[DIGEST, [5, 6, 0, 2]]])],
    "overlapping ranges": [pack(m.Have.KIND, [[DIGEST, [0, 5, 3, 8]]])],
    "touching ranges": [pack(m.Have.KIND, [[DIGEST, [0, 5, 5, 8]]])],
    "empty range": [pack(m.Have.KIND, [[DIGEST, [4, 4]]])],
    "negative range": [pack(m.Have.KIND, [[DIGEST, [-1, 4]]])],
    "partial past file end": [pack(m.Join.KIND, 1, 80, [], [[meta_wire(META_SMALL), [0, 4]]])],
    "report with three fields": [pack(m.Have.KIND, [[DIGEST, [0, 1], 0]])],
    "report that is not a list": [pack(m.Have.KIND, [DIGEST])],
    "msgpack map header": [msgpack.packb({"kind": 1})],
    "map as field": [pack(m.Have.KIND, {"a": 1})],
    "ext type": [pack(m.ErrorReply.KIND, msgpack.ExtType(1, b"x"))],
    "endpoint not tcp": [pack(PeerJoined.KIND, 1, 1, "ipc:///tmp/x")],
    "reason too long": [pack(m.ErrorReply.KIND, "x" * 1001)],
    "partial holder not a pair": [
        pack(m.Listing.KIND, 1, [], [[[META_SMALL.name, 1200, DIGEST, True], [], [[1, 2, 3]], 0]],
             [], 0)
    ],
    "negative file rate": [
        pack(m.Listing.KIND, 1, [], [[[META_SMALL.name, 1200, DIGEST, True], [], [], -1]], [], 0)
    ],
    "unknown role in a listing": [pack(m.Listing.KIND, 1, [[1, ENDPOINT, [], [], 7]], [], [], 0)],
    "traffic entry short": [pack(m.Listing.KIND, 1, [], [], [[1, 0, 0, 0]], 0)],
    "traffic of peer zero": [pack(m.Listing.KIND, 1, [], [], [[0, 0, 0, 0, 0]], 0)],
    "negative bytes moved": [pack(m.Listing.KIND, 1, [], [], [], -5)],
    "chunk data without payload": [pack(ChunkData.KIND, 1, DIGEST, 0, 1)],
    "pong with two frames": [pack(m.Pong.KIND, 1), b"extra"],
    "oversized header": [b"\x91" + b"\x00" * MAX_HEADER_BYTES],
    "oversized payload": [pack(ChunkData.KIND, 1, DIGEST, 0, 1), bytes((8 << 20) + 1)],
    "invalid utf-8 string": [b"\x92\x1c\xa2\xff\xfe"],
    # Join whose file list nests arrays deeper than msgpack's stack allows.
    "deeply nested arrays": [b"\x95\x01\x01\x50" + b"\x91" * 5000 + b"\x02\x90"],
    "nested arrays as a meta": [b"\x95\x01\x01\x50" + b"\x91" * 500 + b"\x02\x90"],
}


@pytest.mark.parametrize("frames", list(MALFORMED_FRAMES.values()), ids=list(MALFORMED_FRAMES))
def test_malformed_input_raises_protocol_error(frames: list[Any]) -> None:
    with pytest.raises(ProtocolError):
        decode(frames)


def test_header_size_limit_is_checked_before_parsing() -> None:
    valid = encode(m.ErrorReply("x"))
    # At the limit the header is parsed (and refused for its trailing bytes);
    # one byte over, it is refused by size before msgpack sees it.
    with pytest.raises(ProtocolError, match="undecodable"):
        decode([valid + b" " * (MAX_HEADER_BYTES - len(valid))])
    with pytest.raises(ProtocolError, match="larger"):
        decode([valid + b" " * (MAX_HEADER_BYTES - len(valid) + 1)])


# --- property tests ------------------------------------------------------------------------


def decode_or_protocol_error(frames: list[bytes]) -> None:
    """Decoding either succeeds or raises ProtocolError; anything else fails the test."""
    with contextlib.suppress(ProtocolError):
        decode(frames)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_decode_of_arbitrary_bytes(header: bytes) -> None:
    decode_or_protocol_error([header])


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=60), min_size=0, max_size=4))
def test_decode_of_arbitrary_frame_lists(frames: list[bytes]) -> None:
    decode_or_protocol_error(frames)


wire_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=40)
    | st.sampled_from([DIGEST, ENDPOINT, "small.txt", "../x", 0, 1, 2**31 - 1]),
    lambda children: st.lists(children, max_size=5),
    max_leaves=25,
)
kinds = st.sampled_from(sorted(cls.KIND for cls in ALL_MESSAGES))


@settings(max_examples=500)
@given(kinds, st.lists(wire_values, max_size=5), st.integers(0, 1))
def test_decode_of_msgpack_structures_after_a_valid_kind(
    kind: int, fields: list[Any], extra_frames: int
) -> None:
    frames = [pack(kind, *fields)] + [b"payload"] * extra_frames
    decode_or_protocol_error(frames)


@settings(max_examples=200)
@given(st.sampled_from(sample_messages()), st.data())
def test_decode_of_valid_messages_with_one_field_replaced(
    message: m.Message, data: st.DataObject
) -> None:
    # Near-misses of real messages reach deeper checks than random structures do.
    wire = msgpack.unpackb(encode(message), raw=False)
    if len(wire) > 1:
        index = data.draw(st.integers(1, len(wire) - 1))
        wire[index] = data.draw(wire_values)
    frames = [msgpack.packb(wire, use_bin_type=True)]
    if isinstance(message, ChunkData):
        frames.append(b"x" * 512)
    decode_or_protocol_error(frames)


def test_records_inside_a_message_go_on_the_wire_as_arrays_of_their_fields() -> None:
    holder = HolderRanges(3, "tcp://127.0.0.1:40000", (0, 4))
    reply = m.MetaReply(META_SMALL, (holder,))
    assert encode(reply) == pack(m.MetaReply.KIND, meta_wire(META_SMALL),
                                 [[3, "tcp://127.0.0.1:40000", [0, 4]]])


def test_an_object_outside_the_protocol_is_not_encoded() -> None:
    heartbeat = m.Heartbeat.unchecked(object())  # as a bug would build it: unchecked
    with pytest.raises(TypeError, match="not part of the protocol"):
        encode(heartbeat)
