"""Whole reads and writes at an offset of an open file (``os.pread`` and
``os.pwrite`` may do less than asked), and ``DiskError``: a write the disk
refused, said the way a person needs it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from swarm.io.common.write_blocks import WRITE_BLOCK_BYTES
from swarm.units import human_size


def pread_exact(fd: int, length: int, offset: int) -> bytes:
    """``length`` bytes at ``offset`` (an OSError if the file is shorter)."""
    data = os.pread(fd, length, offset)
    if len(data) == length:
        return data
    parts = [data]
    got = len(data)
    while got < length:
        more = os.pread(fd, length - got, offset + got)
        if not more:
            raise OSError(errno.EIO, f"file shorter than expected at offset {offset + got}")
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    """All of ``data`` at ``offset``, WRITE_BLOCK_BYTES a call (write_blocks says why)."""
    view = memoryview(data)
    written = 0
    while written < len(view):
        written += os.pwrite(fd, view[written:written + WRITE_BLOCK_BYTES], offset + written)


class DiskError(OSError):
    """A write the disk refused, said the way a person needs it: what was
    being done, to which file, in which folder, and how much room is left."""

    def __init__(self, cause: OSError, action: str, name: str, folder: Path) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.action = action
        self.name = name
        self.folder = folder.absolute()
        import shutil  # here: only a refused write needs it

        try:
            self.free_bytes: int | None = shutil.disk_usage(folder).free
        except OSError:
            self.free_bytes = None

    def __str__(self) -> str:
        free = "" if self.free_bytes is None else f"; {human_size(self.free_bytes)} free there"
        return (f"cannot {self.action} {self.name!r} in {self.folder}: {self.strerror} "
                f"(errno {self.errno}{free})")
