"""What identifies a file: its name, size, piece hashes and digest.

The digest commits to the name, the size, the piece size and every piece
hash, so a downloader that knows only the digest can check a hash list it was
handed, and then each piece as it arrives.  A file whose pieces all match a
checked hash list is, byte for byte, the file the digest names.

The name is in it because a file is known by its name and its content: the
same bytes under two names are two files of the swarm (two empty files are
common), and everything keyed by digest -- requests, downloads, resume
state -- keeps them apart without asking for the name as well.
"""

from __future__ import annotations

import hashlib

from swarm.protocol.chunks import Layout
from swarm.protocol.names import name_problem
from swarm.protocol.record import Record

HASH_BYTES = 32  # sha256: hashed in hardware on most machines, ~1.6 GB/s here
DIGEST_DOMAIN = b"swarm-file-v2\0"


def piece_hash(data: bytes | memoryview) -> bytes:
    return hashlib.sha256(data).digest()


def file_digest(name: str, size_bytes: int, piece_chunks: int, piece_hashes: bytes) -> bytes:
    encoded = name.encode("utf-8")
    header = (DIGEST_DOMAIN + len(encoded).to_bytes(2, "big") + encoded
              + size_bytes.to_bytes(8, "big") + piece_chunks.to_bytes(4, "big"))
    return hashlib.sha256(header + piece_hashes).digest()


class MetaError(ValueError):
    """Metadata that does not hold together (wrong hash count, wrong digest)."""


class FileMeta(Record):
    """Everything needed to fetch and verify one file."""

    name: str
    size_bytes: int
    digest: bytes
    piece_hashes: bytes

    def __post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem is not None:
            raise MetaError(f"bad file name {self.name!r}: {problem}")
        if not isinstance(self.size_bytes, int) or isinstance(self.size_bytes, bool):
            raise MetaError("size is not an integer")
        if self.size_bytes < 0 or self.size_bytes >= 1 << 50:
            raise MetaError(f"size {self.size_bytes} out of range")
        if not isinstance(self.digest, bytes) or len(self.digest) != HASH_BYTES:
            raise MetaError("digest is not 32 bytes")
        if not isinstance(self.piece_hashes, bytes):
            raise MetaError("piece hashes are not bytes")
        if len(self.piece_hashes) != self.layout.pieces * HASH_BYTES:
            raise MetaError(
                f"{len(self.piece_hashes) // HASH_BYTES} piece hashes for "
                f"{self.layout.pieces} pieces"
            )
        expected = file_digest(self.name, self.size_bytes, self.layout.piece_chunks,
                               self.piece_hashes)
        if expected != self.digest:
            raise MetaError(f"piece hashes of {self.name!r} do not match its digest")

    @property
    def layout(self) -> Layout:
        return Layout.for_size(self.size_bytes)

    @property
    def chunks(self) -> int:
        return self.layout.chunks

    def piece_ok(self, piece: int, data: bytes | memoryview) -> bool:
        """True when ``data`` is exactly piece ``piece`` of this file."""
        _, length = self.layout.piece_byte_range(piece)
        if len(data) != length:
            return False
        expected = self.piece_hashes[piece * HASH_BYTES : (piece + 1) * HASH_BYTES]
        return piece_hash(data) == expected

    @property
    def short_digest(self) -> str:
        return self.digest.hex()[:12]


class MetaBuilder:
    """Builds a FileMeta from a file's bytes fed piece by piece, in order."""

    def __init__(self, name: str, size_bytes: int) -> None:
        self.name = name
        self.layout = Layout.for_size(size_bytes)
        self._hashes: list[bytes] = []

    @property
    def next_piece(self) -> int:
        return len(self._hashes)

    @property
    def done(self) -> bool:
        return len(self._hashes) == self.layout.pieces

    def feed(self, data: bytes | memoryview) -> None:
        _, length = self.layout.piece_byte_range(self.next_piece)
        if len(data) != length:
            raise MetaError(f"piece {self.next_piece} is {len(data)} bytes, expected {length}")
        self._hashes.append(piece_hash(data))

    def build(self) -> FileMeta:
        if not self.done:
            raise MetaError("not every piece was fed")
        hashes = b"".join(self._hashes)
        digest = file_digest(self.name, self.layout.size_bytes, self.layout.piece_chunks, hashes)
        return FileMeta(self.name, self.layout.size_bytes, digest, hashes)


def meta_of_bytes(name: str, data: bytes) -> FileMeta:
    """FileMeta of an in-memory file (tests, small files)."""
    builder = MetaBuilder(name, len(data))
    view = memoryview(data)
    while not builder.done:
        offset, length = builder.layout.piece_byte_range(builder.next_piece)
        builder.feed(view[offset : offset + length])
    return builder.build()
