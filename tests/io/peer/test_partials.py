"""Downloads under way on a real file system in a temporary folder: resume
from what a partial file holds (and nothing else), pieces torn by a kill,
and a write the disk refuses, said the way a person needs it."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from swarm.io.peer.file_io import DiskError
from swarm.io.peer.partials import Partials, read_record, written_pieces
from swarm.protocol.meta import FileMeta, meta_of_bytes

MIB = 1 << 20


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def make_partials(tmp_path: Path) -> Partials:
    partials = Partials(tmp_path / ".swarm")
    partials.open()
    return partials


def piece_of(meta: FileMeta, content: bytes, piece: int) -> bytes:
    offset, length = meta.layout.piece_byte_range(piece)
    return content[offset:offset + length]


def test_every_written_piece_survives_a_kill_without_any_saved_record(tmp_path: Path) -> None:
    content = data(1, 24 * MIB)
    meta = meta_of_bytes("big.bin", content)
    partials = make_partials(tmp_path)
    partials.start(meta)
    written = [0, 5, 6, 20, meta.layout.pieces - 1]
    for piece in written:
        partials.write_piece(meta.digest, piece, piece_of(meta, content, piece))
    # SIGKILL: nothing is closed or flushed by the process; the data is in
    # the page cache, as it is after a real kill.
    again = make_partials(tmp_path)
    ((resumed, held),) = again.load()
    assert resumed == meta
    assert held == written


def test_resume_reads_only_the_written_regions(tmp_path: Path) -> None:
    content_size = 256 * MIB  # sparse: only what is written takes room or time
    layout_meta = FileMeta("huge.bin", content_size, *_fake_digest_and_hashes(content_size))
    partials = make_partials(tmp_path)
    partials.start(layout_meta)
    piece_bytes = layout_meta.layout.piece_bytes
    for piece in (3, 4, 200):
        partials.write_piece(layout_meta.digest, piece, bytes(piece_bytes))
    again = make_partials(tmp_path)
    ((_, held),) = again.load()
    assert held == []  # the fake hashes match nothing: every piece was checked and failed
    assert again.bytes_rechecked == 3 * piece_bytes, (
        f"read {again.bytes_rechecked} bytes to re-verify 3 pieces of {piece_bytes}")


def _fake_digest_and_hashes(size: int) -> tuple[bytes, bytes]:
    """A FileMeta of the right shape for ``size`` whose hashes match nothing."""
    from swarm.protocol.chunks import Layout
    from swarm.protocol.meta import file_digest

    layout = Layout.for_size(size)
    hashes = bytes(32 * layout.pieces)
    return file_digest("huge.bin", size, layout.piece_chunks, hashes), hashes


def test_a_torn_piece_is_fetched_again(tmp_path: Path) -> None:
    content = data(2, 2 * MIB)
    meta = meta_of_bytes("a.bin", content)
    partials = make_partials(tmp_path)
    partials.start(meta)
    partials.write_piece(meta.digest, 1, piece_of(meta, content, 1))
    # A write cut short by the kill: half a piece.
    offset, length = meta.layout.piece_byte_range(2)
    part = next((tmp_path / ".swarm" / "partial").glob("*.part"))
    with open(part, "r+b") as f:
        f.seek(offset)
        f.write(piece_of(meta, content, 2)[: length // 2])
    ((_, held),) = make_partials(tmp_path).load()
    assert held == [1]


def test_written_pieces_of_a_file_with_no_data_is_empty(tmp_path: Path) -> None:
    meta = meta_of_bytes("z.bin", data(3, MIB))
    path = tmp_path / "z.part"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        os.ftruncate(fd, meta.size_bytes)
        assert list(written_pieces(fd, meta.layout)) == []
        os.pwrite(fd, b"x", meta.size_bytes - 1)  # the last byte: the last piece
        assert list(written_pieces(fd, meta.layout)) == [meta.layout.pieces - 1]
    finally:
        os.close(fd)


def test_a_refused_write_says_what_where_and_how_much_room_is_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = data(5, 100_000)
    meta = meta_of_bytes("a.bin", content)
    partials = make_partials(tmp_path)
    partials.start(meta)

    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(DiskError) as caught:
        partials.write_piece(meta.digest, 0, piece_of(meta, content, 0))
    message = str(caught.value)
    assert message.startswith(f"cannot write 'a.bin' in {tmp_path / '.swarm' / 'partial'}: "
                              "No space left on device (errno 28; ")
    assert message.endswith(" free there)")
    assert caught.value.errno == errno.ENOSPC


# --- one file per download ------------------------------------------------------------------


def test_a_download_is_one_file_and_its_record_comes_back(tmp_path: Path) -> None:
    content = data(6, 3 * MIB + 100)
    meta = meta_of_bytes("c.bin", content)
    partials = make_partials(tmp_path)
    partials.start(meta)
    (part,) = (tmp_path / ".swarm" / "partial").iterdir()
    assert part.name == f"{meta.digest.hex()}.part"
    fd = os.open(part, os.O_RDONLY)
    try:
        assert read_record(fd) == meta
    finally:
        os.close(fd)
    partials.write_piece(meta.digest, meta.layout.pieces - 1,
                         piece_of(meta, content, meta.layout.pieces - 1))
    ((resumed, held),) = make_partials(tmp_path).load()
    assert (resumed, held) == (meta, [meta.layout.pieces - 1]), "the record is no piece"


def test_a_sealed_download_is_exactly_its_bytes_and_unsealed_resumes(tmp_path: Path) -> None:
    content = data(7, 700_000)
    meta = meta_of_bytes("d.bin", content)
    partials = make_partials(tmp_path)
    partials.start(meta)
    for piece in range(meta.layout.pieces):
        partials.write_piece(meta.digest, piece, piece_of(meta, content, piece))
    partial = partials.get(meta.digest)
    partial.seal()
    assert partial.path.read_bytes() == content
    partial.unseal()
    ((resumed, held),) = make_partials(tmp_path).load()
    assert (resumed, held) == (meta, list(range(meta.layout.pieces)))


@pytest.mark.parametrize("cut", ["sealed", "torn"])
def test_a_file_without_a_whole_record_is_not_resumed(
        tmp_path: Path, cut: str, caplog: pytest.LogCaptureFixture) -> None:
    content = data(8, MIB)
    meta = meta_of_bytes("e.bin", content)
    partials = make_partials(tmp_path)
    partials.start(meta)
    partials.write_piece(meta.digest, 0, piece_of(meta, content, 0))
    partial = partials.get(meta.digest)
    if cut == "sealed":  # killed between cutting the record and linking into Shared
        partial.seal()
    else:  # killed while the record was written
        os.truncate(partial.path, os.fstat(partial.fd).st_size - 3)
    assert make_partials(tmp_path).load() == []
    assert "ignoring resume file" in caplog.text


def test_an_earlier_versions_record_file_is_taken_in(tmp_path: Path) -> None:
    import msgpack

    content = data(9, MIB)
    meta = meta_of_bytes("f.bin", content)
    folder = tmp_path / ".swarm" / "partial"
    folder.mkdir(parents=True)
    part = folder / f"{meta.digest.hex()}.part"
    part.write_bytes(piece_of(meta, content, 0).ljust(meta.size_bytes, b"\0"))
    part.with_suffix(".meta").write_bytes(msgpack.packb(
        [meta.name, meta.size_bytes, meta.digest, meta.piece_hashes], use_bin_type=True))
    ((resumed, held),) = make_partials(tmp_path).load()
    assert (resumed, held) == (meta, [0])
    assert [p.name for p in folder.iterdir()] == [part.name]
    ((again, _),) = make_partials(tmp_path).load()
    assert again == meta
