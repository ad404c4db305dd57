"""Nothing in Shared is skipped in silence: each entry that is not shared is
named once, at info level, with the reason; and a missing Shared is created,
with a word."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarm.io.common.zmq_util import Waker
from swarm.io.peer.store import Store
from swarm.io.peer.watcher import SharedWatcher


@pytest.fixture
def waker() -> Iterator[Waker]:
    w = Waker()
    yield w
    w.close()


def not_sharing_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.getMessage().startswith("not sharing")]


def test_a_folder_a_hidden_file_and_a_link_get_one_info_line_each(
        tmp_path: Path, waker: Waker, caplog: pytest.LogCaptureFixture) -> None:
    shared = tmp_path / "Shared"
    (shared / "album").mkdir(parents=True)
    (shared / ".notes").write_bytes(b"private")
    (shared / "song.mp3").write_bytes(b"la la")
    os.symlink(shared / "song.mp3", shared / "link.mp3")
    store = Store(shared, tmp_path / ".swarm")
    store.open()
    watcher = SharedWatcher(store, waker)
    caplog.set_level(logging.INFO)
    scan = watcher.scan()
    watcher.scan()  # a second look says nothing new
    assert sorted(scan.files) == ["song.mp3"]
    assert not_sharing_lines(caplog) == [
        (logging.INFO, "not sharing '.notes': hidden (its name starts with a dot)"),
        (logging.INFO, "not sharing 'album': a folder (subfolders are not shared)"),
        (logging.INFO, "not sharing 'link.mp3': a symbolic link (links are not followed; the "
                       "setting follow_symlinks shares what they point to)"),
    ]
    store.close()


def test_an_entry_that_appears_later_is_named_once_and_again_if_it_returns(
        tmp_path: Path, waker: Waker, caplog: pytest.LogCaptureFixture) -> None:
    store = Store(tmp_path / "Shared", tmp_path / ".swarm")
    store.open()
    watcher = SharedWatcher(store, waker)
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
