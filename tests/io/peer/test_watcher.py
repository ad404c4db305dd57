"""Nothing in Shared is skipped in silence: each entry that is not shared is
named once, with the reason -- at warning level (the default) when a user
most likely put it there to share it (a link, a FIFO, a socket, a device, a
name the swarm cannot carry), at info level when keeping it there is a
choice (hidden entries, folders); and a missing Shared is created, with a
word."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarm.io.common.zmq_util import Waker
from swarm.io.peer.store import Store
from swarm.io.peer.watcher import SharedWatcher

LINK_REASON = ("a symbolic link (links are not followed; the setting follow_symlinks shares "
               "what they point to)")


@pytest.fixture
def waker() -> Iterator[Waker]:
    w = Waker()
    yield w
    w.close()


def not_sharing_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.getMessage().startswith("not sharing")]


def watch(shared: Path, tmp_path: Path, waker: Waker,
          follow_symlinks: bool = False) -> tuple[Store, SharedWatcher]:
    store = Store(shared, tmp_path / ".swarm", follow_symlinks)
    store.open()
    return store, SharedWatcher(store, waker)


def test_a_folder_and_a_hidden_file_get_an_info_line_a_link_a_warning(
        tmp_path: Path, waker: Waker, caplog: pytest.LogCaptureFixture) -> None:
    shared = tmp_path / "Shared"
    (shared / "album").mkdir(parents=True)
    (shared / ".notes").write_bytes(b"private")
    (shared / "song.mp3").write_bytes(b"la la")
    os.symlink(shared / "song.mp3", shared / "link.mp3")
    store, watcher = watch(shared, tmp_path, waker)
    caplog.set_level(logging.INFO)
    scan = watcher.scan()
    watcher.scan()  # a second look says nothing new
    assert sorted(scan.files) == ["song.mp3"]
    assert not_sharing_lines(caplog) == [
        (logging.INFO, "not sharing '.notes': hidden (its name starts with a dot)"),
        (logging.INFO, "not sharing 'album': a folder (subfolders are not shared)"),
        (logging.WARNING, f"not sharing 'link.mp3': {LINK_REASON}"),
    ]
    store.close()


def test_special_files_get_a_warning_each_once(
        tmp_path: Path, waker: Waker, caplog: pytest.LogCaptureFixture) -> None:
    shared = tmp_path / "Shared"
    shared.mkdir()
    os.mkfifo(shared / "pipe")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(shared / "sock"))
    expected = [(logging.WARNING, "not sharing 'pipe': not a regular file but a FIFO"),
                (logging.WARNING, "not sharing 'sock': not a regular file but a socket")]
    with contextlib.suppress(PermissionError):  # making a device takes CAP_MKNOD
        os.mknod(shared / "null", 0o600 | 0o020000, os.makedev(1, 3))
        expected.insert(0, (logging.WARNING,
                            "not sharing 'null': not a regular file but a device"))
    store, watcher = watch(shared, tmp_path, waker)
    caplog.set_level(logging.INFO)
    for _ in range(3):
        watcher.scan()
    assert not_sharing_lines(caplog) == expected
    listener.close()
    store.close()


def test_a_link_to_nothing_and_a_name_the_swarm_cannot_carry_get_a_warning(
        tmp_path: Path, waker: Waker, caplog: pytest.LogCaptureFixture) -> None:
    shared = tmp_path / "Shared"
    shared.mkdir()
    (shared / "gone.bin").symlink_to(tmp_path / "nowhere")
    (shared / "sub").symlink_to(tmp_path)  # followed: a folder, said as a folder
    (shared / "two\nlines").write_bytes(b"x")
    store, watcher = watch(shared, tmp_path, waker, follow_symlinks=True)
    caplog.set_level(logging.INFO)
    watcher.scan()
    watcher.scan()
    lines = not_sharing_lines(caplog)
    assert lines[0] == (logging.WARNING, "not sharing 'gone.bin': a symbolic link to nothing")
    assert lines[1] == (logging.INFO, "not sharing 'sub': a folder (subfolders are not shared)")
    assert lines[2][0] == logging.WARNING
    assert lines[2][1].startswith("not sharing 'two\\nlines': its name is ")
    assert len(lines) == 3
    store.close()


def test_at_the_default_level_only_the_warnings_are_seen(
        tmp_path: Path, waker: Waker, caplog: pytest.LogCaptureFixture) -> None:
    shared = tmp_path / "Shared"
    (shared / "album").mkdir(parents=True)
    (shared / ".notes").write_bytes(b"private")
    os.symlink(tmp_path / "elsewhere.iso", shared / "disk.iso")
    store, watcher = watch(shared, tmp_path, waker)
    caplog.set_level(logging.WARNING)
    watcher.scan()
    assert not_sharing_lines(caplog) == [
        (logging.WARNING, f"not sharing 'disk.iso': {LINK_REASON}")]
    store.close()


def test_an_entry_that_appears_later_is_named_once_and_again_if_it_returns(
        tmp_path: Path, waker: Waker, caplog: pytest.LogCaptureFixture) -> None:
    store, watcher = watch(tmp_path / "Shared", tmp_path, waker)
    caplog.set_level(logging.INFO)
    watcher.scan()
    (tmp_path / "Shared" / "later").mkdir()
    watcher.scan()
    watcher.scan()
    (tmp_path / "Shared" / "later").rmdir()
    watcher.scan()
    (tmp_path / "Shared" / "later").mkdir()
    watcher.scan()
    assert not_sharing_lines(caplog) == [
        (logging.INFO, "not sharing 'later': a folder (subfolders are not shared)")] * 2
    store.close()


def test_a_missing_shared_folder_is_created_with_a_word(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    store = Store(tmp_path / "Shared", tmp_path / ".swarm")
    store.open()
    store.close()
    assert (tmp_path / "Shared").is_dir()
    created = [r for r in caplog.records if "created the shared folder" in r.getMessage()]
    assert len(created) == 1 and created[0].levelno == logging.INFO
    assert str(tmp_path / "Shared") in created[0].getMessage()
    caplog.clear()
    again = Store(tmp_path / "Shared", tmp_path / ".swarm")
    again.open()
    again.close()
    assert not any("created" in r.getMessage() for r in caplog.records)


def test_a_link_made_while_the_peer_runs_is_warned_of_once_and_again_if_it_returns(
        tmp_path: Path, waker: Waker, caplog: pytest.LogCaptureFixture) -> None:
    store, watcher = watch(tmp_path / "Shared", tmp_path, waker)
    caplog.set_level(logging.INFO)
    link = tmp_path / "Shared" / "report.pdf"
    watcher.scan()
    link.symlink_to(tmp_path / "report.pdf")
    watcher.scan()
    watcher.scan()
    link.unlink()
    watcher.scan()
    link.symlink_to(tmp_path / "report.pdf")
    watcher.scan()
    assert not_sharing_lines(caplog) == [
        (logging.WARNING, f"not sharing 'report.pdf': {LINK_REASON}")] * 2
    store.close()
