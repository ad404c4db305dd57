"""Messages to ZeroMQ frames and back.

Frame 0 is a msgpack array ``[KIND, field, ...]``; only ChunkData has a second
frame, the raw chunk bytes, kept out of msgpack so they are never copied into
or out of it.  ``decode`` accepts any list of frames and either returns a valid
message or raises ``ProtocolError``: no other exception escapes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgpack

from swarm.protocol.catalogue import ALL_MESSAGES
from swarm.protocol.fields import ProtocolError, field_count
from swarm.protocol.messages import Message
from swarm.protocol.peer_messages import ChunkData
from swarm.protocol.record import Record

MAX_HEADER_BYTES = 16 << 20  # a join with thousands of files and their hash lists
MAX_PAYLOAD_BYTES = 8 << 20  # a reply carries at most a few pieces of <= 1 MiB
MAX_FRAMES = 2

Buffer = bytes | bytearray | memoryview


def _fields_of(value: object) -> tuple[object, ...]:
    """A record inside a message (a message's part, a file's meta) as msgpack
    packs it: the array of its fields.  msgpack asks for each object it does
    not know, and packs the rest of the message itself, in C."""
    if isinstance(value, Record):
        return value.values()
    raise TypeError(f"{type(value).__name__} is not part of the protocol")


# One packer for every header: packb would build one per message.
_PACK = msgpack.Packer(use_bin_type=True, default=_fields_of).pack

_BY_KIND: dict[int, type[Message]] = {cls.KIND: cls for cls in ALL_MESSAGES}
if len(_BY_KIND) != len(ALL_MESSAGES):  # pragma: no cover - a programming error
    raise RuntimeError("two message classes share a KIND")


def encode(message: Message) -> bytes:
    """The header frame of a message."""
    header: bytes = _PACK([message.KIND, *message.values()])
    return header


def encode_frames(message: Message, payload: Buffer | None = None) -> list[Buffer]:
    """All frames of a message; ``payload`` only with ChunkData."""
    if (payload is not None) != isinstance(message, ChunkData):
        raise ValueError("a payload goes with ChunkData and only with it")
    header = encode(message)
    return [header] if payload is None else [header, payload]


def decode_header(header: Buffer) -> Message:
    if len(header) > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {len(header)} bytes is larger than {MAX_HEADER_BYTES}")
    try:
        items = msgpack.unpackb(
            header,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_map_len=0,  # the protocol has no maps
            max_ext_len=0,
            max_str_len=MAX_HEADER_BYTES,
            max_bin_len=MAX_HEADER_BYTES,
            max_array_len=MAX_HEADER_BYTES,
        )
    except Exception as exc:  # msgpack raises many types for bad input
        raise ProtocolError(f"undecodable header: {type(exc).__name__}: {exc}") from None
    if not isinstance(items, list) or not items:
        raise ProtocolError("header is not a non-empty array")
    kind = items[0]
    if not isinstance(kind, int) or isinstance(kind, bool) or kind not in _BY_KIND:
        raise ProtocolError(f"unknown message kind {kind!r}")
    cls = _BY_KIND[kind]
    fields = items[1:]
    expected = field_count(cls)
    if len(fields) != expected:
        raise ProtocolError(f"{cls.__name__}: {len(fields)} fields, expected {expected}")
    try:
        return cls.from_wire(fields)
    except ProtocolError:
        raise
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise ProtocolError(f"{cls.__name__}: {exc}") from None


def decode(frames: Sequence[Buffer]) -> tuple[Message, memoryview | None]:
    """A message and, for ChunkData, its payload."""
    if not frames or len(frames) > MAX_FRAMES:
        raise ProtocolError(f"{len(frames)} frames; a message has 1 or 2")
    message = decode_header(frames[0])
    if isinstance(message, ChunkData):
        if len(frames) != 2:
            raise ProtocolError("ChunkData without its payload frame")
        payload = memoryview(frames[1])
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise ProtocolError(f"payload of {len(payload)} bytes is too large")
        return message, payload
    if len(frames) != 1:
        raise ProtocolError(f"{type(message).__name__} with {len(frames)} frames")
    return message, None
