"""The disk side of a peer, on a real file system in a temporary folder:
resume from what a partial file holds, the Shared scan (what is skipped and
why, what changed under the peer), reads that notice edits, disk errors
said the way a person needs them."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from swarm.io.peer.store import DiskError, LocalFile, Store, written_pieces
from swarm.peer.disk import ContentChanged, PlaceResult
from swarm.protocol.meta import FileMeta, meta_of_bytes

MIB = 1 << 20


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def make_store(tmp_path: Path, follow_symlinks: bool = False) -> Store:
    store = Store(tmp_path / "Shared", tmp_path / ".swarm", follow_symlinks)
    store.open()
    return store


def piece_of(meta: FileMeta, content: bytes, piece: int) -> bytes:
    offset, length = meta.layout.piece_byte_range(piece)
    return content[offset:offset + length]


# --- resume ------------------------------------------------------------------------------


def test_every_written_piece_survives_a_kill_without_any_saved_record(tmp_path: Path) -> None:
    content = data(1, 8 * MIB)
    meta = meta_of_bytes("big.bin", content)
    store = make_store(tmp_path)
    store.start_partial(meta)
    written = [0, 5, 6, 20, meta.layout.pieces - 1]
    for piece in written:
        store.write_piece(meta.digest, piece, piece_of(meta, content, piece))
    # SIGKILL: nothing is closed or flushed by the process; the data is in
    # the page cache, as it is after a real kill.
    again = make_store(tmp_path)
    ((resumed, held),) = again.load_partials()
    assert resumed == meta
    assert held == written


def test_resume_reads_only_the_written_regions(tmp_path: Path) -> None:
    content_size = 256 * MIB  # sparse: only what is written takes room or time
    layout_meta = FileMeta("huge.bin", content_size, *_fake_digest_and_hashes(content_size))
    store = make_store(tmp_path)
    store.start_partial(layout_meta)
    piece_bytes = layout_meta.layout.piece_bytes
    for piece in (3, 4, 200):
        store.write_piece(layout_meta.digest, piece, bytes(piece_bytes))
    again = make_store(tmp_path)
    ((_, held),) = again.load_partials()
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
    store = make_store(tmp_path)
    store.start_partial(meta)
    store.write_piece(meta.digest, 1, piece_of(meta, content, 1))
    # A write cut short by the kill: half a piece.
    offset, length = meta.layout.piece_byte_range(2)
    part = next((tmp_path / ".swarm" / "partial").glob("*.part"))
    with open(part, "r+b") as f:
        f.seek(offset)
        f.write(piece_of(meta, content, 2)[: length // 2])
    ((_, held),) = make_store(tmp_path).load_partials()
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


# --- the Shared scan ---------------------------------------------------------------------


def test_scan_names_every_entry_it_does_not_share(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    shared = tmp_path / "Shared"
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"not for the swarm")
    (shared / "ok.txt").write_bytes(b"fine")
    (shared / ".hidden").write_bytes(b"h")
    (shared / "sub").mkdir()
    (shared / "link").symlink_to(outside)
    (shared / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(shared / "pipe")
    (shared / "bad\nname").write_bytes(b"b")
    scan = store.scan_shared()
    assert sorted(scan.files) == ["ok.txt"]
    assert scan.skipped["link"].startswith("a symbolic link (links are not followed")
    assert scan.skipped["dangling"].startswith("a symbolic link (links are not followed")
    assert scan.skipped["sub"] == "a folder (subfolders are not shared)"
    assert scan.skipped["pipe"] == "not a regular file but a FIFO"
    assert scan.skipped[".hidden"] == "hidden (its name starts with a dot)"
    assert scan.skipped["bad\nname"].startswith("its name is ")
    assert scan.changed == []


def test_links_are_followed_only_when_asked(tmp_path: Path) -> None:
    store = make_store(tmp_path, follow_symlinks=True)
    shared = tmp_path / "Shared"
    outside = tmp_path / "photo.jpg"
    outside.write_bytes(b"jpeg")
    (shared / "link.jpg").symlink_to(outside)
    (shared / "dangling").symlink_to(tmp_path / "nowhere")
    (shared / "dirlink").symlink_to(tmp_path)
    scan = store.scan_shared()
    assert list(scan.files) == ["link.jpg"]
    assert scan.skipped["dangling"] == "a symbolic link to nothing"
    assert scan.skipped["dirlink"] == "a folder (subfolders are not shared)"
    assert store.hash_shared("link.jpg") == meta_of_bytes("link.jpg", b"jpeg")


def test_a_served_file_that_changes_is_reported_and_not_served(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    path = tmp_path / "Shared" / "doc.txt"
    path.write_bytes(b"version one, long enough to serve")
    meta = store.hash_shared("doc.txt")
    store.serve_complete(meta)
    assert store.read(meta.digest, 0, 7) == b"version"
    assert store.scan_shared().changed == []
    with open(path, "r+b") as f:  # edited in place: same inode, new mtime
        f.write(b"VERSION")
    os.utime(path, ns=(1, 1))  # an mtime the hashed one cannot have had
    with pytest.raises(ContentChanged) as caught:
        store.read(meta.digest, 0, 7)
    assert caught.value.change == "modified"
    assert store.check_served() == [(meta.digest, "modified")]


@pytest.mark.parametrize("how", ["renamed over", "deleted", "replaced by a folder",
                                 "grown"])
def test_the_scan_says_how_a_served_file_changed(tmp_path: Path, how: str) -> None:
    store = make_store(tmp_path)
    path = tmp_path / "Shared" / "doc.txt"
    path.write_bytes(b"one")
    meta = store.hash_shared("doc.txt")
    store.serve_complete(meta)
    if how == "renamed over":
        (tmp_path / "new").write_bytes(b"two")
        os.replace(tmp_path / "new", path)
        expected = "replaced by another file"
    elif how == "deleted":
        path.unlink()
        expected = "deleted"
    elif how == "replaced by a folder":
        path.unlink()
        path.mkdir()
        expected = "replaced by a folder"
    else:
        with open(path, "ab") as f:
            f.write(b" and more")
        expected = "its size went from 3 to 12 bytes"
    assert store.scan_shared().changed == [(meta.digest, expected)]
    store.stop_serving(meta.digest)
    assert store.scan_shared().changed == []


def test_a_file_changed_while_it_is_hashed_is_not_offered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = make_store(tmp_path)
    path = tmp_path / "Shared" / "log.txt"
    path.write_bytes(b"x" * MIB)
    real_pread = os.pread

    def pread_while_appending(fd: int, length: int, offset: int) -> bytes:
        with open(path, "ab") as f:
            f.write(b"appended while hashed")
        return real_pread(fd, length, offset)

    monkeypatch.setattr(os, "pread", pread_while_appending)
    with pytest.raises(OSError) as caught:
        store.hash_shared("log.txt")
    assert caught.value.errno == errno.EAGAIN


def test_blocking_entries_are_named(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    shared = tmp_path / "Shared"
    (shared / "dir").mkdir()
    (shared / "dangling").symlink_to(tmp_path / "nowhere")
    (shared / "link").symlink_to(tmp_path)
    os.mkfifo(shared / "pipe")
    (shared / "file").write_bytes(b"f")
    assert store.blocking_entry("dir") == "a folder"
    assert store.blocking_entry("dangling") == "a symbolic link to nothing"
    assert store.blocking_entry("link") == "a symbolic link"
    assert store.blocking_entry("pipe") == "a FIFO"
    assert store.blocking_entry("file") == "a file that is not shared yet"
    assert store.blocking_entry("free") is None


# --- placing and disk errors ------------------------------------------------------------


def test_placing_never_replaces_what_has_the_name(tmp_path: Path) -> None:
    content = data(4, 100_000)
    meta = meta_of_bytes("a.bin", content)
    store = make_store(tmp_path)
    store.start_partial(meta)
    for piece in range(meta.layout.pieces):
        store.write_piece(meta.digest, piece, piece_of(meta, content, piece))
    (tmp_path / "Shared" / "a.bin").mkdir()
    assert store.place(meta.digest) is PlaceResult.NAME_TAKEN
    (tmp_path / "Shared" / "a.bin").rmdir()
    assert store.place(meta.digest) is PlaceResult.PLACED
    assert (tmp_path / "Shared" / "a.bin").read_bytes() == content
    assert list((tmp_path / ".swarm" / "partial").iterdir()) == []
    assert store.read(meta.digest, 0, 10) == content[:10]
    assert store.check_served() == []


def test_a_refused_write_says_what_where_and_how_much_room_is_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = data(5, 100_000)
    meta = meta_of_bytes("a.bin", content)
    store = make_store(tmp_path)
    store.start_partial(meta)

    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(DiskError) as caught:
        store.write_piece(meta.digest, 0, piece_of(meta, content, 0))
    message = str(caught.value)
    assert message.startswith(f"cannot write 'a.bin' in {tmp_path / '.swarm' / 'partial'}: "
                              "No space left on device (errno 28; ")
    assert message.endswith(" free there)")
    assert caught.value.errno == errno.ENOSPC


def test_leftover_incoming_copies_are_removed_at_start(tmp_path: Path) -> None:
    shared = tmp_path / "Shared"
    shared.mkdir()
    (shared / ".swarm-incoming-0123456789abcdef").write_bytes(b"half a copy")
    (shared / "kept.txt").write_bytes(b"k")
    make_store(tmp_path)
    assert [p.name for p in shared.iterdir()] == ["kept.txt"]


def test_local_file_says_what_changed() -> None:
    before = LocalFile("a", 10, 100, 7)
    assert LocalFile("a", 10, 100, 7).change_from(before) is None
    assert LocalFile("a", 10, 100, 8).change_from(before) == "replaced by another file"
    assert LocalFile("a", 12, 100, 7).change_from(before) == "its size went from 10 to 12 bytes"
    assert LocalFile("a", 10, 101, 7).change_from(before) == "modified"
