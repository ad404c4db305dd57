"""What peers say to each other: chunk requests and their answers, and the
first word on a reversed connection."""

from __future__ import annotations

from typing import ClassVar

from swarm.protocol.fields import MAX_CHUNKS, MAX_ID, as_digest, as_int, as_text, as_token
from swarm.protocol.messages import Message


class Introduce(Message):
    """First message on a reversed connection: I am ``peer_id``, asked by the
    tracker (``token``) to serve you from here."""

    KIND: ClassVar[int] = 64
    peer_id: int
    token: bytes

    def __post_init__(self) -> None:
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        as_token(self.token)


class ChunkRequest(Message):
    """Ask a peer for a run of chunks (in practice one piece)."""

    KIND: ClassVar[int] = 60
    request_id: int
    digest: bytes
    first_chunk: int
    chunk_count: int

    def __post_init__(self) -> None:
        as_int(self.request_id, "request id")
        as_digest(self.digest)
        as_int(self.first_chunk, "first chunk", 0, MAX_CHUNKS)
        as_int(self.chunk_count, "chunk count", 1, MAX_CHUNKS)


class Cancel(Message):
    """A request is no longer wanted (another holder answered first)."""

    KIND: ClassVar[int] = 61
    request_id: int

    def __post_init__(self) -> None:
        as_int(self.request_id, "request id")


class ChunkData(Message):
    """The bytes of chunks [first_chunk, first_chunk + chunk_count); they
    travel in a frame of their own (``payload``), never inside msgpack."""

    KIND: ClassVar[int] = 62
    request_id: int
    digest: bytes
    first_chunk: int
    chunk_count: int

    def __post_init__(self) -> None:
        as_int(self.request_id, "request id")
        as_digest(self.digest)
        as_int(self.first_chunk, "first chunk", 0, MAX_CHUNKS)
        as_int(self.chunk_count, "chunk count", 1, MAX_CHUNKS)


class ChunkRefused(Message):
    """A request that will not be answered with data, and why."""

    KIND: ClassVar[int] = 63
    request_id: int
    reason: str

    def __post_init__(self) -> None:
        as_int(self.request_id, "request id")
        as_text(self.reason, "reason")
