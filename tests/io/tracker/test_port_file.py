"""One tracker per folder: the lock a tracker holds on its folder, and the
port file beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from swarm.io.tracker.port_file import (
    LOCK_FILE,
    PORT_FILE,
    FolderLock,
    FolderTaken,
    read_port,
    write_port_file,
)

REPO = Path(__file__).resolve().parents[2]


def test_a_second_lock_on_the_folder_fails_naming_the_first_holder(tmp_path: Path) -> None:
    write_port_file(tmp_path, 40001)
    first = FolderLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(FolderTaken) as taken:
            FolderLock(tmp_path).acquire()
    finally:
        first.release()
    assert taken.value.holder_pid == os.getpid()
    assert taken.value.port == 40001
    message = str(taken.value)
    assert str(tmp_path.absolute()) in message
    assert f"pid {os.getpid()}" in message
    assert "port 40001" in message


def test_the_folder_can_be_taken_again_once_released(tmp_path: Path) -> None:
    with FolderLock(tmp_path):
        pass
    second = FolderLock(tmp_path)
    second.acquire()
    assert second.held
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    second.release()
    assert (tmp_path / LOCK_FILE).read_text() == "", "a released lock names nobody"


def test_a_lock_file_left_by_a_dead_process_does_not_block(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text("999999999\n")  # no such pid; no lock held
    with FolderLock(tmp_path) as lock:
        assert lock.held
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"


def test_the_lock_of_a_process_killed_with_sigkill_is_let_go(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, pathlib\n"
         "from swarm.io.tracker.port_file import FolderLock\n"
         "FolderLock(pathlib.Path(sys.argv[1])).acquire()\n"
         "print('held', flush=True)\n"
         "sys.stdin.read()\n",
         str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(FolderTaken) as taken:
            FolderLock(tmp_path).acquire()
        assert taken.value.holder_pid == holder.pid
        assert taken.value.port is None
        assert f"no {PORT_FILE} yet" in str(taken.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.stdout.close()
    with FolderLock(tmp_path) as lock:
        assert lock.held


def test_the_port_file_holds_the_port_alone_and_is_read_back(tmp_path: Path) -> None:
    path = write_port_file(tmp_path, 40001)
    assert path == tmp_path / PORT_FILE
    assert path.read_text() == "40001\n"
    assert read_port(tmp_path) == 40001
    assert [p.name for p in tmp_path.iterdir()] == [PORT_FILE], "no temporary file left"


def test_a_missing_or_garbled_port_file_reads_as_no_port(tmp_path: Path) -> None:
    assert read_port(tmp_path) is None
    (tmp_path / PORT_FILE).write_text("not a port\n")
    assert read_port(tmp_path) is None
