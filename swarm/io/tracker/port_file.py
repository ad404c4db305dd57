"""The tracker's port file, and the lock that keeps one tracker per folder.

A tracker holds an exclusive ``flock`` on a hidden lock file beside
``port.txt`` for its whole life, with its pid written in it.  The kernel lets
go of the lock when the process ends, however it ends (SIGKILL too), so a
``port.txt`` left by a dead tracker is simply replaced, while one that a live
tracker serves from is never overwritten.  The lock file itself stays: removing
it would let a second tracker lock a file the first one had just unlinked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

PORT_FILE = "port.txt"
LOCK_FILE = f".{PORT_FILE}.lock"


class FolderTaken(Exception):
    """A live tracker already serves from this folder's port.txt."""

    def __init__(self, folder: Path, holder_pid: int | None, port: int | None) -> None:
        self.folder = folder
        self.holder_pid = holder_pid
        self.port = port
        pid = f"pid {holder_pid}" if holder_pid is not None else "pid unknown"
        where = f"port {port} in {PORT_FILE}" if port is not None else f"no {PORT_FILE} yet"
        super().__init__(
            f"a tracker is already running in {folder} ({pid}, {where}); stop it first, or "
            f"start this one in another folder")


class FolderLock:
    """The lock a tracker holds on its folder while it runs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.absolute()
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the folder, or raise FolderTaken naming the tracker that has it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise FolderTaken(self.folder, holder, read_port(self.folder)) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Emptied first, so the file never names a pid that no longer holds it.
        os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor lets go of the lock

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def read_port(folder: Path) -> int | None:
    """The port a folder's port.txt names (None: no such file, or not a port)."""
    try:
        text = (folder / PORT_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def write_port_file(directory: Path, port: int) -> Path:
    """Write the port where a reader never sees a partial file: tmp, then rename."""
    target = directory / PORT_FILE
    tmp = directory / f".{PORT_FILE}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
    os.replace(tmp, target)
    return target
