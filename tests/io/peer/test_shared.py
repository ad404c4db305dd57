"""The Shared folder on a real file system in a temporary folder: the scan
(what is skipped and why, what changed under the peer), reads for other
peers that notice edits, the entries that keep a swarm file's name taken."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from swarm.io.peer.hashing import LocalFile
from swarm.io.peer.shared import SharedFolder
from swarm.peer.disk import ContentChanged
from swarm.protocol.meta import meta_of_bytes

MIB = 1 << 20


def make_shared(tmp_path: Path, follow_symlinks: bool = False) -> SharedFolder:
    shared_folder = SharedFolder(tmp_path / "Shared", follow_symlinks)
    shared_folder.open()
    return shared_folder


def test_scan_names_every_entry_it_does_not_share(tmp_path: Path) -> None:
    shared_folder = make_shared(tmp_path)
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
    scan = shared_folder.scan()
    assert sorted(scan.files) == ["ok.txt"]
    assert scan.skipped["link"].reason.startswith("a symbolic link (links are not followed")
    assert scan.skipped["dangling"].reason.startswith("a symbolic link (links are not followed")
    assert scan.skipped["sub"].reason == "a folder (subfolders are not shared)"
    assert scan.skipped["pipe"].reason == "not a regular file but a FIFO"
    assert scan.skipped[".hidden"].reason == "hidden (its name starts with a dot)"
    assert scan.skipped["bad\nname"].reason.startswith("its name is ")
    # Said aloud: what a user put there to share; hidden entries and folders are a choice.
    assert {n for n, why in scan.skipped.items() if why.aloud} == {
        "link", "dangling", "pipe", "bad\nname"}
    assert scan.changed == []


def test_links_are_followed_only_when_asked(tmp_path: Path) -> None:
    shared_folder = make_shared(tmp_path, follow_symlinks=True)
    shared = tmp_path / "Shared"
    outside = tmp_path / "photo.jpg"
    outside.write_bytes(b"jpeg")
    (shared / "link.jpg").symlink_to(outside)
    (shared / "dangling").symlink_to(tmp_path / "nowhere")
    (shared / "dirlink").symlink_to(tmp_path)
    scan = shared_folder.scan()
    assert list(scan.files) == ["link.jpg"]
    assert scan.skipped["dangling"].reason == "a symbolic link to nothing"
    assert scan.skipped["dirlink"].reason == "a folder (subfolders are not shared)"
    assert scan.skipped["dangling"].aloud and not scan.skipped["dirlink"].aloud
    assert shared_folder.hash("link.jpg") == meta_of_bytes("link.jpg", b"jpeg")


def test_a_served_file_that_changes_is_reported_and_not_served(tmp_path: Path) -> None:
    shared_folder = make_shared(tmp_path)
    path = tmp_path / "Shared" / "doc.txt"
    path.write_bytes(b"version one, long enough to serve")
    meta = shared_folder.hash("doc.txt")
    shared_folder.serve(meta)
    assert shared_folder.read(meta.digest, 0, 7) == b"version"
    assert shared_folder.scan().changed == []
    with open(path, "r+b") as f:  # edited in place: same inode, new mtime
        f.write(b"VERSION")
    os.utime(path, ns=(1, 1))  # an mtime the hashed one cannot have had
    with pytest.raises(ContentChanged) as caught:
        shared_folder.read(meta.digest, 0, 7)
    assert caught.value.change == "modified"
    assert shared_folder.check_served() == [(meta.digest, "modified")]


@pytest.mark.parametrize("how", ["renamed over", "deleted", "replaced by a folder",
                                 "grown"])
def test_the_scan_says_how_a_served_file_changed(tmp_path: Path, how: str) -> None:
    shared_folder = make_shared(tmp_path)
    path = tmp_path / "Shared" / "doc.txt"
    path.write_bytes(b"one")
    meta = shared_folder.hash("doc.txt")
    shared_folder.serve(meta)
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
    assert shared_folder.scan().changed == [(meta.digest, expected)]
    shared_folder.stop_serving(meta.digest)
    assert shared_folder.scan().changed == []


def test_a_file_changed_while_it_is_hashed_is_not_offered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared_folder = make_shared(tmp_path)
    path = tmp_path / "Shared" / "log.txt"
    path.write_bytes(b"x" * MIB)
    real_pread = os.pread

    def pread_while_appending(fd: int, length: int, offset: int) -> bytes:
        with open(path, "ab") as f:
            f.write(b"appended while hashed")
        return real_pread(fd, length, offset)

    monkeypatch.setattr(os, "pread", pread_while_appending)
    with pytest.raises(OSError) as caught:
        shared_folder.hash("log.txt")
    assert caught.value.errno == errno.EAGAIN


def test_blocking_entries_are_named(tmp_path: Path) -> None:
    shared_folder = make_shared(tmp_path)
    shared = tmp_path / "Shared"
    (shared / "dir").mkdir()
    (shared / "dangling").symlink_to(tmp_path / "nowhere")
    (shared / "link").symlink_to(tmp_path)
    os.mkfifo(shared / "pipe")
    (shared / "file").write_bytes(b"f")
    assert shared_folder.blocking_entry("dir") == "a folder"
    assert shared_folder.blocking_entry("dangling") == "a symbolic link to nothing"
    assert shared_folder.blocking_entry("link") == "a symbolic link"
    assert shared_folder.blocking_entry("pipe") == "a FIFO"
    assert shared_folder.blocking_entry("file") == "a file that is not shared yet"
    assert shared_folder.blocking_entry("free") is None


def test_local_file_says_what_changed() -> None:
    before = LocalFile("a", 10, 100, 7)
    assert LocalFile("a", 10, 100, 7).change_from(before) is None
    assert LocalFile("a", 10, 100, 8).change_from(before) == "replaced by another file"
    assert LocalFile("a", 12, 100, 7).change_from(before) == "its size went from 10 to 12 bytes"
    assert LocalFile("a", 10, 101, 7).change_from(before) == "modified"
