"""The only module that touches the disk.

``./Shared`` holds only complete, verified files.  A download lives in the
hidden state folder (``./.swarm/partial/`` by default) as three files named
by the digest: ``.part`` (the data, written at piece offsets with pwrite),
``.meta`` (name, size, hash list) and ``.have`` (one byte per piece: stored
and verified; rewritten in place).  SIGKILL loses at most the pieces stored
since the last ``.have`` write, and a restart re-verifies every piece the
``.have`` file claims before offering it.  A finished download is linked into
``./Shared`` under its name, which never replaces a file already there.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import os
import shutil
from pathlib import Path

import msgpack

from swarm.chunks import Layout
from swarm.meta import FileMeta, MetaBuilder, MetaError
from swarm.names import name_problem
from swarm.record import Record

log = logging.getLogger("swarm.store")

READ_BLOCK_BYTES = 1 << 20  # reads while hashing stay within this much memory


class LocalFile(Record):
    """A file seen in Shared: what tells whether it changed since."""

    name: str
    size_bytes: int
    mtime_ns: int
    inode: int


class PlaceResult(enum.Enum):
    PLACED = "placed"
    NAME_TAKEN = "name taken"  # a different file already has the name
    SAME_FILE_THERE = "same file there"  # somebody put the same bytes there


def hash_file(path: Path, name: str) -> FileMeta:
    """FileMeta of a file on disk, read piece by piece."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        builder = MetaBuilder(name, size)
        while not builder.done:
            offset, length = builder.layout.piece_byte_range(builder.next_piece)
            data = _pread_exact(fd, length, offset)
            builder.feed(data)
        return builder.build()
    finally:
        os.close(fd)


def _pread_exact(fd: int, length: int, offset: int) -> bytes:
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


def _allocate(fd: int, size_bytes: int) -> None:
    """Give a download its full size, as a sparse file.  Not fallocate: with
    eight peers writing at once on ext4, writes into fallocated (unwritten)
    extents cost four times the system time of writes into a sparse file
    (0.31 s against 0.09 s per 224 MiB, measured), though alone they are
    faster."""
    if os.fstat(fd).st_size != size_bytes:
        os.ftruncate(fd, size_bytes)


class _Partial:
    """One download on disk."""

    def __init__(self, meta: FileMeta, base: Path, fd: int, stored: bytearray) -> None:
        self.meta = meta
        self.base = base
        self.fd = fd
        self.stored = stored  # per piece: 1 = written and verified
        self.dirty = False
        self._have_fd: int | None = None

    @property
    def data_path(self) -> Path:
        return self.base.with_suffix(".part")

    @property
    def have_path(self) -> Path:
        return self.base.with_suffix(".have")

    @property
    def meta_path(self) -> Path:
        return self.base.with_suffix(".meta")

    def save_have(self) -> None:
        # Rewritten in place, not by rename: a torn write can only claim a
        # piece the restart then fails to verify, and fetches again.
        if self._have_fd is None:
            self._have_fd = os.open(self.have_path, os.O_WRONLY | os.O_CREAT, 0o644)
        os.pwrite(self._have_fd, self.stored, 0)
        self.dirty = False

    def close_have(self) -> None:
        if self._have_fd is not None:
            os.close(self._have_fd)
            self._have_fd = None

    def close(self) -> None:
        os.close(self.fd)
        self.close_have()

    def remove_files(self) -> None:
        for path in (self.data_path, self.have_path, self.meta_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class Store:
    def __init__(self, shared_dir: Path, state_dir: Path) -> None:
        self.shared_dir = shared_dir
        self.state_dir = state_dir
        self.partial_dir = state_dir / "partial"
        self._complete_fds: dict[bytes, int] = {}
        self._partials: dict[bytes, _Partial] = {}
        self._warned_names: set[str] = set()

    def open(self) -> None:
        self.shared_dir.mkdir(parents=True, exist_ok=True)
        self.partial_dir.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        self.flush_progress()
        for fd in self._complete_fds.values():
            os.close(fd)
        for partial in self._partials.values():
            partial.close()
        self._complete_fds.clear()
        self._partials.clear()

    # --- Shared ----------------------------------------------------------------

    def scan_shared(self) -> dict[str, LocalFile]:
        """Every regular, visible file in Shared whose name the swarm accepts."""
        found: dict[str, LocalFile] = {}
        try:
            entries = list(os.scandir(self.shared_dir))
        except FileNotFoundError:
            return found
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if not entry.is_file():
                    continue
                st = entry.stat()
            except OSError:
                continue
            problem = name_problem(entry.name)
            if problem is not None:
                if entry.name not in self._warned_names:
                    self._warned_names.add(entry.name)
                    log.warning("not sharing %r: its name is %s", entry.name, problem)
                continue
            found[entry.name] = LocalFile(entry.name, st.st_size, st.st_mtime_ns, st.st_ino)
        return found

    def hash_shared(self, name: str) -> FileMeta:
        """Hash one file of Shared (slow for big files: run it off the loop)."""
        return hash_file(self.shared_dir / name, name)

    def name_in_shared(self, name: str) -> bool:
        return os.path.lexists(self.shared_dir / name)

    def serve_complete(self, meta: FileMeta) -> None:
        """Serve a file of Shared from now on."""
        if meta.digest in self._complete_fds:
            return
        self._complete_fds[meta.digest] = os.open(self.shared_dir / meta.name, os.O_RDONLY)

    # --- reading, for serving -----------------------------------------------------

    def read(self, digest: bytes, offset: int, length: int) -> bytes:
        fd = self._complete_fds.get(digest)
        if fd is None:
            partial = self._partials.get(digest)
            if partial is None:
                raise KeyError("no such file")
            fd = partial.fd
        return _pread_exact(fd, length, offset)

    # --- downloads --------------------------------------------------------------------

    def _base(self, digest: bytes) -> Path:
        return self.partial_dir / digest.hex()

    def start_partial(self, meta: FileMeta) -> list[int]:
        """Open (or reopen) the download of a file; returns the pieces already held."""
        existing = self._partials.get(meta.digest)
        if existing is not None:
            return [i for i, held in enumerate(existing.stored) if held]
        base = self._base(meta.digest)
        meta_path = base.with_suffix(".meta")
        tmp = base.with_suffix(".meta.tmp")
        tmp.write_bytes(msgpack.packb(
            [meta.name, meta.size_bytes, meta.digest, meta.piece_hashes], use_bin_type=True))
        os.replace(tmp, meta_path)
        fd = os.open(base.with_suffix(".part"), os.O_RDWR | os.O_CREAT, 0o644)
        _allocate(fd, meta.size_bytes)
        partial = _Partial(meta, base, fd, bytearray(meta.layout.pieces))
        self._partials[meta.digest] = partial
        partial.save_have()
        return []

    def write_piece(self, digest: bytes, piece: int, data: bytes | memoryview) -> None:
        partial = self._partials[digest]
        offset, _ = partial.meta.layout.piece_byte_range(piece)
        written = os.pwrite(partial.fd, data, offset)
        while written < len(data):
            written += os.pwrite(partial.fd, memoryview(data)[written:], offset + written)
        partial.stored[piece] = 1
        partial.dirty = True

    def flush_progress(self) -> None:
        """Write every changed ``.have`` file (cheap: one byte per piece)."""
        for partial in self._partials.values():
            if partial.dirty:
                try:
                    partial.save_have()
                except OSError as exc:
                    log.warning("could not save progress of %r: %s", partial.meta.name, exc)

    def place(self, digest: bytes) -> PlaceResult:
        """Move a finished download into Shared without replacing anything."""
        partial = self._partials[digest]
        target = self.shared_dir / partial.meta.name
        try:
            os.link(partial.data_path, target)
        except FileExistsError:
            return self._name_taken(partial, target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            result = self._place_by_copy(partial, target)
            if result is not PlaceResult.PLACED:
                return result
        self._partials.pop(digest)
        self._complete_fds[digest] = partial.fd  # keeps serving from the same inode
        partial.close_have()
        partial.remove_files()
        return PlaceResult.PLACED

    def _place_by_copy(self, partial: _Partial, target: Path) -> PlaceResult:
        # Another file system, or one without hard links: copy under a hidden
        # name inside Shared, then rename (atomic within one directory).
        tmp = self.shared_dir / f".swarm-incoming-{partial.meta.digest.hex()[:16]}"
        shutil.copyfile(partial.data_path, tmp)
        if os.path.lexists(target):
            tmp.unlink()
            return self._name_taken(partial, target)
        os.replace(tmp, target)
        return PlaceResult.PLACED

    def _name_taken(self, partial: _Partial, target: Path) -> PlaceResult:
        try:
            same = hash_file(target, partial.meta.name).digest == partial.meta.digest
        except (OSError, MetaError):
            same = False
        return PlaceResult.SAME_FILE_THERE if same else PlaceResult.NAME_TAKEN

    def drop_partial(self, digest: bytes) -> None:
        partial = self._partials.pop(digest, None)
        if partial is not None:
            partial.close()
            partial.remove_files()

    def has_partial(self, digest: bytes) -> bool:
        return digest in self._partials

    # --- resume -----------------------------------------------------------------

    def load_partials(self) -> list[tuple[FileMeta, list[int]]]:
        """Downloads left by an earlier run, each piece it claims re-verified."""
        found = []
        for meta_path in sorted(self.partial_dir.glob("*.meta")):
            try:
                meta = FileMeta(*msgpack.unpackb(meta_path.read_bytes(), raw=False))
            except Exception as exc:  # a torn or foreign file: not ours to trust
                log.warning("ignoring resume file %s: %s", meta_path.name, exc)
                continue
            base = self._base(meta.digest)
            if base != meta_path.with_suffix("") or not base.with_suffix(".part").exists():
                continue
            held = self._reverify(meta, base)
            found.append((meta, held))
        return found

    def _reverify(self, meta: FileMeta, base: Path) -> list[int]:
        layout: Layout = meta.layout
        try:
            claimed = base.with_suffix(".have").read_bytes()
        except FileNotFoundError:
            claimed = b""
        fd = os.open(base.with_suffix(".part"), os.O_RDWR)
        if os.fstat(fd).st_size != meta.size_bytes:
            os.ftruncate(fd, meta.size_bytes)
        stored = bytearray(layout.pieces)
        for piece, flag in enumerate(claimed[: layout.pieces]):
            if not flag:
                continue
            offset, length = layout.piece_byte_range(piece)
            if meta.piece_ok(piece, os.pread(fd, length, offset)):
                stored[piece] = 1
        partial = _Partial(meta, base, fd, stored)
        self._partials[meta.digest] = partial
        held = [i for i, flag in enumerate(stored) if flag]
        bad = sum(1 for f in claimed[: layout.pieces] if f) - len(held)
        if bad:
            log.warning("%r: %d piece(s) failed re-verification and will be fetched again",
                        meta.name, bad)
        partial.dirty = True
        return held

    def remove_state_if_empty(self) -> None:
        """After a clean finish: no partial data behind, no empty folders."""
        for path in (self.partial_dir, self.state_dir):
            with contextlib.suppress(OSError):
                path.rmdir()
