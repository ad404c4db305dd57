"""The Store, which ties Shared and the downloads together, on a real file
system in a temporary folder: placing a finished download into Shared
(never over what has the name; served from then on), and copies into Shared
that a crash cut short, removed at start."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from swarm.io.peer.store import Store
from swarm.peer.disk import PlaceResult
from swarm.protocol.meta import FileMeta, meta_of_bytes


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def make_store(tmp_path: Path, follow_symlinks: bool = False) -> Store:
    store = Store(tmp_path / "Shared", tmp_path / ".swarm", follow_symlinks)
    store.open()
    return store


def piece_of(meta: FileMeta, content: bytes, piece: int) -> bytes:
    offset, length = meta.layout.piece_byte_range(piece)
    return content[offset:offset + length]


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


def finished_download(tmp_path: Path, content: bytes) -> tuple[Store, FileMeta]:
    meta = meta_of_bytes("a.bin", content)
    store = make_store(tmp_path)
    store.start_partial(meta)
    for piece in range(meta.layout.pieces):
        store.write_piece(meta.digest, piece, piece_of(meta, content, piece))
    return store, meta


def test_a_download_is_read_from_its_partial_file_until_it_is_placed(tmp_path: Path) -> None:
    content = data(6, 5000)
    store, meta = finished_download(tmp_path, content)
    assert store.read(meta.digest, 100, 10) == content[100:110]
    store.drop_partial(meta.digest)
    with pytest.raises(FileNotFoundError):
        store.read(meta.digest, 0, 10)


def test_the_same_file_already_there_is_not_placed_again(tmp_path: Path) -> None:
    content = data(7, 5000)
    store, meta = finished_download(tmp_path, content)
    (tmp_path / "Shared" / "a.bin").write_bytes(content)
    assert store.place(meta.digest) is PlaceResult.SAME_FILE_THERE


def test_without_hard_links_a_copy_is_renamed_into_place_and_served(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = data(8, 100_000)
    store, meta = finished_download(tmp_path, content)

    def across_file_systems(source: Path, target: Path) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "link", across_file_systems)
    assert store.place(meta.digest) is PlaceResult.PLACED
    assert [p.name for p in (tmp_path / "Shared").iterdir()] == ["a.bin"]
    assert (tmp_path / "Shared" / "a.bin").read_bytes() == content
    assert list((tmp_path / ".swarm" / "partial").iterdir()) == []
    assert store.read(meta.digest, 0, 10) == content[:10]
    assert store.check_served() == []


def test_leftover_incoming_copies_are_removed_at_start(tmp_path: Path) -> None:
    shared = tmp_path / "Shared"
    shared.mkdir()
    (shared / ".swarm-incoming-0123456789abcdef").write_bytes(b"half a copy")
    (shared / "kept.txt").write_bytes(b"k")
    make_store(tmp_path)
    assert [p.name for p in shared.iterdir()] == ["kept.txt"]


def test_a_download_the_disk_would_not_place_stays_resumable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = data(12, 300_000)
    store, meta = finished_download(tmp_path, content)

    def read_only(*_args: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    with monkeypatch.context() as patched:
        patched.setattr(os, "link", read_only)
        with pytest.raises(OSError):
            store.place(meta.digest)
    store.close()
    again = make_store(tmp_path)
    assert again.load_partials() == [(meta, list(range(meta.layout.pieces)))]
    assert again.place(meta.digest) is PlaceResult.PLACED
    assert (tmp_path / "Shared" / "a.bin").read_bytes() == content
    assert list((tmp_path / ".swarm" / "partial").iterdir()) == []
