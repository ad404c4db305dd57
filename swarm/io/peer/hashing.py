"""A file on disk read piece by piece into its ``FileMeta`` (``hash_file``),
and ``LocalFile``: the size, mtime and inode it had then, which tell later
whether it changed."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from swarm.io.peer.file_io import pread_exact
from swarm.protocol.meta import FileMeta, MetaBuilder
from swarm.protocol.record import Record


class LocalFile(Record):
    """A file seen in Shared: what tells whether it changed since."""

    name: str
    size_bytes: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, name: str, st: os.stat_result) -> LocalFile:
        return cls(name, st.st_size, st.st_mtime_ns, st.st_ino)

    def same_as(self, st: os.stat_result) -> bool:
        """Whether ``st`` shows this file as it was (no record is built:
        this runs for every served file at every scan)."""
        return (st.st_ino == self.inode and st.st_size == self.size_bytes
                and st.st_mtime_ns == self.mtime_ns)

    def change_from(self, earlier: LocalFile) -> str | None:
        """How this differs from ``earlier`` (None: it does not)."""
        if self.inode != earlier.inode:
            return "replaced by another file"
        if self.size_bytes != earlier.size_bytes:
            return f"its size went from {earlier.size_bytes} to {self.size_bytes} bytes"
        if self.mtime_ns != earlier.mtime_ns:
            return "modified"
        return None


def hash_file(path: Path, name: str, follow_symlinks: bool = True) -> tuple[FileMeta, LocalFile]:
    """FileMeta of a file on disk, read piece by piece, and the file as it
    was while it was read (an OSError if it changed meanwhile)."""
    flags = os.O_RDONLY | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        seen = LocalFile.of(name, os.fstat(fd))
        builder = MetaBuilder(name, seen.size_bytes)
        while not builder.done:
            offset, length = builder.layout.piece_byte_range(builder.next_piece)
            builder.feed(pread_exact(fd, length, offset))
        if LocalFile.of(name, os.fstat(fd)) != seen:
            raise OSError(errno.EAGAIN, "it changed while it was being read")
        return builder.build(), seen
    finally:
        os.close(fd)
