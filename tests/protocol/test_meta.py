"""FileMeta: what names a file, and how a piece is checked against it."""

from __future__ import annotations

import pytest

from swarm.protocol.chunks import PIECE_BYTES, PIECE_CHUNKS
from swarm.protocol.meta import (
    HASH_BYTES,
    FileMeta,
    MetaBuilder,
    MetaError,
    file_digest,
    meta_of_bytes,
    piece_hash,
)


def patterned_bytes(size_bytes: int, seed: int = 0) -> bytes:
    """Content that differs from piece to piece, so swapped pieces are caught."""
    return bytes((i * 7 + seed + i // 251) % 256 for i in range(size_bytes))


@pytest.mark.parametrize(
    ("size_bytes", "chunks", "pieces"),
    [(0, 0, 0), (512, 1, 1), (513, 2, 1), (3 * PIECE_BYTES + 100, 3 * PIECE_CHUNKS + 1, 4)],
)
def test_meta_of_bytes_sizes(size_bytes: int, chunks: int, pieces: int) -> None:
    meta = meta_of_bytes("file.bin", patterned_bytes(size_bytes))
    assert meta.size_bytes == size_bytes
    assert meta.chunks == chunks
    assert meta.layout.pieces == pieces
    assert len(meta.piece_hashes) == pieces * HASH_BYTES
    assert len(meta.digest) == HASH_BYTES
    assert meta.short_digest == meta.digest.hex()[:12]


def test_digest_is_deterministic() -> None:
    data = patterned_bytes(5000)
    assert meta_of_bytes("a.bin", data) == meta_of_bytes("a.bin", data)
    # A file is its name and its bytes: the same bytes under another name are
    # another file, with another digest (but the same piece hashes).
    a, b = meta_of_bytes("a.bin", data), meta_of_bytes("b.bin", data)
    assert a.digest != b.digest and a.piece_hashes == b.piece_hashes


def test_digest_differs_for_different_content() -> None:
    data = patterned_bytes(5000)
    one_byte_changed = data[:-1] + bytes([data[-1] ^ 1])
    digests = {
        meta_of_bytes("a.bin", data).digest,
        meta_of_bytes("a.bin", one_byte_changed).digest,
        meta_of_bytes("a.bin", data[:-1]).digest,  # shorter
        meta_of_bytes("a.bin", b"").digest,
    }
    assert len(digests) == 4


def test_empty_files_of_different_names_are_different_files() -> None:
    assert meta_of_bytes("x", b"").digest != meta_of_bytes("y", b"").digest


def test_piece_ok_accepts_the_right_bytes() -> None:
    data = patterned_bytes(2 * PIECE_BYTES + 10)
    meta = meta_of_bytes("f", data)
    assert meta.piece_ok(0, data[:PIECE_BYTES])
    assert meta.piece_ok(1, memoryview(data)[PIECE_BYTES : 2 * PIECE_BYTES])
    assert meta.piece_ok(2, data[2 * PIECE_BYTES :])  # the short last piece


def test_piece_ok_rejects_wrong_or_short_bytes() -> None:
    data = patterned_bytes(2 * PIECE_BYTES + 10)
    meta = meta_of_bytes("f", data)
    first = data[:PIECE_BYTES]
    assert not meta.piece_ok(0, bytes([first[0] ^ 0xFF]) + first[1:])
    assert not meta.piece_ok(0, first[:-1])  # short
    assert not meta.piece_ok(0, first + b"\0")  # long
    assert not meta.piece_ok(1, first)  # right size, wrong piece
    assert not meta.piece_ok(2, data[2 * PIECE_BYTES :] + b"x")


def valid_meta() -> FileMeta:
    return meta_of_bytes("good.txt", patterned_bytes(PIECE_BYTES + 1))


@pytest.mark.parametrize("bad_name", ["", ".", "..", ".hidden", "a/b", "a\\b", "a\x00b", "a\nb"])
def test_filemeta_refuses_bad_names(bad_name: str) -> None:
    meta = valid_meta()
    with pytest.raises(MetaError):
        meta.replace(name=bad_name)


def test_filemeta_refuses_a_wrong_hash_count() -> None:
    meta = valid_meta()
    one_hash_short = meta.piece_hashes[:HASH_BYTES]
    with pytest.raises(MetaError, match="piece hashes"):
        FileMeta(meta.name, meta.size_bytes, meta.digest, one_hash_short)
    with pytest.raises(MetaError):
        FileMeta(meta.name, meta.size_bytes, meta.digest, meta.piece_hashes + bytes(HASH_BYTES))
    with pytest.raises(MetaError):
        FileMeta(meta.name, meta.size_bytes, meta.digest, meta.piece_hashes[:-1])


def test_filemeta_refuses_a_digest_mismatch() -> None:
    meta = valid_meta()
    wrong_digest = bytes([meta.digest[0] ^ 1]) + meta.digest[1:]
    with pytest.raises(MetaError, match="digest"):
        FileMeta(meta.name, meta.size_bytes, wrong_digest, meta.piece_hashes)
    # Hashes that are well-formed but not the ones the digest commits to.
    other_hashes = piece_hash(b"x") * 2
    with pytest.raises(MetaError):
        FileMeta(meta.name, meta.size_bytes, meta.digest, other_hashes)


def test_filemeta_refuses_a_size_that_disagrees_with_the_digest() -> None:
    meta = valid_meta()
    # Same piece count (2), other size: the digest commits to the size.
    with pytest.raises(MetaError):
        FileMeta(meta.name, meta.size_bytes + 1, meta.digest, meta.piece_hashes)


@pytest.mark.parametrize("bad_size", [-1, 1 << 50, 1.5, True, "10"])
def test_filemeta_refuses_bad_sizes(bad_size: object) -> None:
    with pytest.raises(MetaError):
        FileMeta("f", bad_size, bytes(HASH_BYTES), b"")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_digest", [bytes(31), bytes(33), "0" * 32, None])
def test_filemeta_refuses_bad_digests(bad_digest: object) -> None:
    with pytest.raises(MetaError):
        FileMeta("f", 0, bad_digest, b"")  # type: ignore[arg-type]


def test_filemeta_refuses_piece_hashes_that_are_not_bytes() -> None:
    digest = file_digest("f", 0, PIECE_CHUNKS, b"")
    assert FileMeta("f", 0, digest, b"").chunks == 0
    with pytest.raises(MetaError):
        FileMeta("f", 0, digest, bytearray())  # type: ignore[arg-type]


def test_builder_refuses_a_wrong_piece_length_and_early_build() -> None:
    builder = MetaBuilder("f", PIECE_BYTES + 1)
    with pytest.raises(MetaError):
        builder.build()
    with pytest.raises(MetaError):
        builder.feed(bytes(PIECE_BYTES - 1))
    builder.feed(bytes(PIECE_BYTES))
    assert builder.next_piece == 1
    builder.feed(b"\0")
    assert builder.done
    assert builder.build() == meta_of_bytes("f", bytes(PIECE_BYTES + 1))
