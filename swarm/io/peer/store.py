"""The only module that touches the disk.

``./Shared`` holds only complete, verified files.  A download lives in the
hidden state folder (``./.swarm/partial/`` by default) as two files named by
the digest: ``.part`` (the data, a sparse file written at piece offsets with
pwrite) and ``.meta`` (name, size, hash list).  Only verified pieces are ever
written, so the regions of ``.part`` that hold data are the evidence of what
was stored: a restart after SIGKILL asks the file system where they are
(``SEEK_DATA``/``SEEK_HOLE``) and re-verifies exactly those pieces.  Nothing
written before a crash is lost, and a 1 GiB partial with 10 MiB written costs
10 MiB of hashing.  A finished download is linked into ``./Shared`` under its
name, which never replaces a file already there.

The files this peer serves from Shared are watched: each is remembered with
the size, mtime and inode it had when it was hashed, a read for a peer
checks them, and every scan of Shared reports the ones that changed or went.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack

from swarm.peer.disk import ContentChanged, PlaceResult
from swarm.protocol.chunks import Layout
from swarm.protocol.meta import FileMeta, MetaBuilder, MetaError
from swarm.protocol.names import name_problem
from swarm.protocol.record import Record, field
from swarm.units import human_size

log = logging.getLogger("swarm.store")

INCOMING_PREFIX = ".swarm-incoming-"  # a copy on its way into Shared (hidden)
NOT_SHARED_YET = "a file that is not shared yet"


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


class SharedScan(Record):
    """One look at Shared."""

    # Regular, visible files with acceptable names that are not served yet.
    files: dict[str, LocalFile] = field(default_factory=dict)
    # Every other entry, with the reason it is not shared.
    skipped: dict[str, str] = field(default_factory=dict)
    # Every entry that is not a file this peer serves, with what it is (a
    # folder, a link, a file not offered yet): a swarm file of that name
    # cannot be placed.
    taken: dict[str, str] = field(default_factory=dict)
    # Files this peer serves that changed or went: (digest, what happened).
    changed: list[tuple[bytes, str]] = field(default_factory=list)


class DiskError(OSError):
    """A write the disk refused, said the way a person needs it: what was
    being done, to which file, in which folder, and how much room is left."""

    def __init__(self, cause: OSError, action: str, name: str, folder: Path) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.action = action
        self.name = name
        self.folder = folder.absolute()
        try:
            self.free_bytes: int | None = shutil.disk_usage(folder).free
        except OSError:
            self.free_bytes = None

    def __str__(self) -> str:
        free = "" if self.free_bytes is None else f"; {human_size(self.free_bytes)} free there"
        return (f"cannot {self.action} {self.name!r} in {self.folder}: {self.strerror} "
                f"(errno {self.errno}{free})")


def _entry_problem(entry: os.DirEntry[str], follow_symlinks: bool) -> tuple[
        os.stat_result | None, str | None]:
    """The stat of a Shared entry that can be shared, or why it cannot."""
    if entry.name.startswith("."):
        return None, "hidden (its name starts with a dot)"
    try:
        if entry.is_symlink():
            if not follow_symlinks:
                return None, ("a symbolic link (links are not followed; the setting "
                              "follow_symlinks shares what they point to)")
            try:
                st = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                return None, "a symbolic link to nothing"
        else:
            st = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return None, f"it cannot be read ({exc.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return None, "a folder (subfolders are not shared)"
    if not stat.S_ISREG(st.st_mode):
        return None, f"not a regular file but {_kind(st.st_mode)}"
    problem = name_problem(entry.name)
    if problem is not None:
        return None, f"its name is {problem}"
    return st, None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "something else"


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
            builder.feed(_pread_exact(fd, length, offset))
        if LocalFile.of(name, os.fstat(fd)) != seen:
            raise OSError(errno.EAGAIN, "it changed while it was being read")
        return builder.build(), seen
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


def _pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    written = os.pwrite(fd, data, offset)
    while written < len(data):
        written += os.pwrite(fd, memoryview(data)[written:], offset + written)


def written_pieces(fd: int, layout: Layout) -> Iterator[int]:
    """Pieces that lie at least partly in a region of the file that holds
    data, in order: what a sparse partial file may have stored.  Where the
    file system cannot tell, every piece."""
    size, piece_bytes = layout.size_bytes, layout.piece_bytes
    offset = 0
    next_piece = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = min(size, os.lseek(fd, start, os.SEEK_HOLE))
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # nothing but a hole from here on
                return
            yield from range(next_piece, layout.pieces)  # no SEEK_DATA here
            return
        if start >= size:
            return
        first = max(next_piece, start // piece_bytes)
        last = (end - 1) // piece_bytes
        yield from range(first, last + 1)
        next_piece = last + 1
        offset = end


def _allocate(fd: int, size_bytes: int) -> None:
    """Give a download its full size, as a sparse file.  Not fallocate: with
    eight peers writing at once on ext4, writes into fallocated (unwritten)
    extents cost four times the system time of writes into a sparse file
    (0.31 s against 0.09 s per 224 MiB, measured), though alone they are
    faster.  Sparse files are also what tells a restart which pieces were
    written."""
    if os.fstat(fd).st_size != size_bytes:
        os.ftruncate(fd, size_bytes)


class _Partial:
    """One download on disk."""

    def __init__(self, meta: FileMeta, base: Path, fd: int) -> None:
        self.meta = meta
        self.base = base
        self.fd = fd

    @property
    def data_path(self) -> Path:
        return self.base.with_suffix(".part")

    @property
    def meta_path(self) -> Path:
        return self.base.with_suffix(".meta")

    def remove_files(self) -> None:
        for path in (self.data_path, self.meta_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class _Served:
    """A file of Shared this peer serves, and what it was when hashed."""

    __slots__ = ("fd", "name", "seen")

    def __init__(self, name: str, fd: int | None, seen: LocalFile) -> None:
        self.name = name
        self.fd = fd
        self.seen = seen

    def check(self) -> None:
        """Raise ContentChanged if the open file is no longer what was hashed."""
        assert self.fd is not None
        st, seen = os.fstat(self.fd), self.seen
        # Compared field by field: this runs for every piece served.
        if (st.st_ino, st.st_size, st.st_mtime_ns) != (seen.inode, seen.size_bytes,
                                                        seen.mtime_ns):
            change = LocalFile.of(self.name, st).change_from(seen)
            raise ContentChanged(self.name, change or "modified")


class Store:
    def __init__(self, shared_dir: Path, state_dir: Path, follow_symlinks: bool = False) -> None:
        self.shared_dir = shared_dir
        self.state_dir = state_dir
        self.partial_dir = state_dir / "partial"
        self.follow_symlinks = follow_symlinks
        self._served: dict[bytes, _Served] = {}
        self._partials: dict[bytes, _Partial] = {}
        # What each file was when hash_shared read it, until serve_complete
        # takes it (written by the hashing thread; a dict item is atomic).
        self._hashed: dict[str, LocalFile] = {}
        self.bytes_rechecked = 0  # read back to re-verify partial data (resume)

    def open(self) -> None:
        try:
            self.shared_dir.mkdir(parents=True)
        except FileExistsError:
            if not self.shared_dir.is_dir():
                raise
        else:
            log.info("created the shared folder %s (it was missing); files copied into it are "
                     "offered", self.shared_dir.absolute())
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.shared_dir.glob(INCOMING_PREFIX + "*"):
            with contextlib.suppress(OSError):  # a copy a crash cut short
                leftover.unlink()

    def close(self) -> None:
        for served in self._served.values():
            if served.fd is not None:
                os.close(served.fd)
        for partial in self._partials.values():
            os.close(partial.fd)
        self._served.clear()
        self._partials.clear()

    # --- Shared ----------------------------------------------------------------

    def scan_shared(self) -> SharedScan:
        """Every entry of Shared: files to offer, entries skipped (and why),
        and the served files that changed or went.  One stat per entry: a
        served file seen unchanged costs a comparison, not a second stat."""
        scan = SharedScan()
        served_by_name = {served.name: digest for digest, served in self._served.items()}
        unchanged: set[bytes] = set()
        try:
            entries = list(os.scandir(self.shared_dir))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            name = entry.name
            if name.startswith(INCOMING_PREFIX):
                continue  # our own copy, about to be renamed into place
            st, problem = _entry_problem(entry, self.follow_symlinks)
            if st is None:
                scan.skipped[name] = problem or "unreadable"
                scan.taken[name] = self.blocking_entry(name) or "something"
                continue
            digest = served_by_name.get(name)
            if digest is None:
                scan.files[name] = LocalFile.of(name, st)
                scan.taken[name] = NOT_SHARED_YET
            elif self._served[digest].seen.same_as(st):
                unchanged.add(digest)
        scan.changed.extend(self.check_served(skip=unchanged))
        return scan

    def check_served(self, skip: set[bytes] | frozenset[bytes] = frozenset()
                     ) -> list[tuple[bytes, str]]:
        """The files this peer serves (but those in ``skip``, seen unchanged
        a moment ago) that changed or went since they were hashed: (digest,
        what happened).  One stat each."""
        changed = []
        for digest, served in self._served.items():
            if digest in skip:
                continue
            path = self.shared_dir / served.name
            try:
                st = os.stat(path) if self.follow_symlinks else os.lstat(path)
            except FileNotFoundError:
                changed.append((digest, "deleted"))
                continue
            except OSError as exc:
                changed.append((digest, f"unreadable ({exc.strerror})"))
                continue
            if not stat.S_ISREG(st.st_mode):
                what = "a folder" if stat.S_ISDIR(st.st_mode) else (
                    "a symbolic link" if stat.S_ISLNK(st.st_mode) else _kind(st.st_mode))
                changed.append((digest, f"replaced by {what}"))
                continue
            change = LocalFile.of(served.name, st).change_from(served.seen)
            if change is not None:
                changed.append((digest, change))
        return changed

    def hash_shared(self, name: str) -> FileMeta:
        """Hash one file of Shared (slow for big files: run it off the loop)."""
        meta, seen = hash_file(self.shared_dir / name, name, self.follow_symlinks)
        self._hashed[name] = seen
        return meta

    def blocking_entry(self, name: str) -> str | None:
        """What has ``name`` in Shared, if anything: it keeps the swarm's file
        of that name from being placed there."""
        path = self.shared_dir / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"an entry that cannot be read ({exc.strerror})"
        if stat.S_ISLNK(st.st_mode):
            return "a symbolic link" if os.path.exists(path) else "a symbolic link to nothing"
        if stat.S_ISDIR(st.st_mode):
            return "a folder"
        if stat.S_ISREG(st.st_mode):
            return NOT_SHARED_YET
        return _kind(st.st_mode)

    def serve_complete(self, meta: FileMeta) -> None:
        """Serve a file of Shared from now on."""
        if meta.digest in self._served:
            return
        flags = os.O_RDONLY | (0 if self.follow_symlinks else os.O_NOFOLLOW)
        seen = self._hashed.pop(meta.name, None)
        try:
            fd: int | None = os.open(self.shared_dir / meta.name, flags)
        except OSError:
            fd = None  # gone already: the next scan reports it
        if seen is None:
            # Placed by this peer a moment ago: what is there now is the file.
            seen = LocalFile.of(meta.name, os.fstat(fd)) if fd is not None else LocalFile(
                meta.name, -1, -1, -1)
        self._served[meta.digest] = _Served(meta.name, fd, seen)

    def stop_serving(self, digest: bytes) -> None:
        served = self._served.pop(digest, None)
        if served is not None and served.fd is not None:
            os.close(served.fd)

    # --- reading, for serving -----------------------------------------------------

    def read(self, digest: bytes, offset: int, length: int) -> bytes:
        served = self._served.get(digest)
        if served is not None:
            if served.fd is None:
                raise ContentChanged(served.name, "could not be opened")
            data = _pread_exact(served.fd, length, offset)
            # Checked after the read: a write that began before the check
            # has already moved the mtime, so bytes that pass are the hashed ones.
            served.check()
            return data
        partial = self._partials.get(digest)
        if partial is None:
            raise KeyError("no such file")
        return _pread_exact(partial.fd, length, offset)

    # --- downloads --------------------------------------------------------------------

    def _base(self, digest: bytes) -> Path:
        return self.partial_dir / digest.hex()

    def start_partial(self, meta: FileMeta) -> list[int]:
        """Open (or reopen) the download of a file; returns the pieces already held."""
        if meta.digest in self._partials:
            return []
        base = self._base(meta.digest)
        try:
            tmp = base.with_suffix(".meta.tmp")
            tmp.write_bytes(msgpack.packb(
                [meta.name, meta.size_bytes, meta.digest, meta.piece_hashes], use_bin_type=True))
            os.replace(tmp, base.with_suffix(".meta"))
            fd = os.open(base.with_suffix(".part"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DiskError(exc, "create", meta.name, self.partial_dir) from exc
        try:
            _allocate(fd, meta.size_bytes)
        except OSError as exc:
            os.close(fd)
            raise DiskError(exc, "create", meta.name, self.partial_dir) from exc
        self._partials[meta.digest] = _Partial(meta, base, fd)
        return []

    def write_piece(self, digest: bytes, piece: int, data: bytes | memoryview) -> None:
        partial = self._partials[digest]
        offset, _ = partial.meta.layout.piece_byte_range(piece)
        try:
            _pwrite_all(partial.fd, data, offset)
        except OSError as exc:
            raise DiskError(exc, "write", partial.meta.name, self.partial_dir) from exc

    def place(self, digest: bytes) -> PlaceResult:
        """Move a finished download into Shared without replacing anything
        (a DiskError when the disk refuses)."""
        partial = self._partials[digest]
        target = self.shared_dir / partial.meta.name
        try:
            os.link(partial.data_path, target)
        except FileExistsError:
            return self._name_taken(partial, target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise DiskError(exc, "place", partial.meta.name, self.shared_dir) from exc
            try:
                result = self._place_by_copy(partial, target)
            except OSError as exc2:
                raise DiskError(exc2, "place", partial.meta.name, self.shared_dir) from exc2
            if result is not PlaceResult.PLACED:
                return result
        self._partials.pop(digest)
        # Keeps serving from the same inode, which is the file now in Shared.
        self._served[digest] = _Served(partial.meta.name, partial.fd,
                                       LocalFile.of(partial.meta.name, os.fstat(partial.fd)))
        partial.remove_files()
        return PlaceResult.PLACED

    def _place_by_copy(self, partial: _Partial, target: Path) -> PlaceResult:
        # Another file system, or one without hard links: copy under a hidden
        # name inside Shared, then rename (atomic within one directory).
        tmp = self.shared_dir / f"{INCOMING_PREFIX}{partial.meta.digest.hex()[:16]}"
        try:
            shutil.copyfile(partial.data_path, tmp)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        if os.path.lexists(target):
            tmp.unlink()
            return self._name_taken(partial, target)
        os.replace(tmp, target)
        # Serve the copy in Shared from now on, not the partial file.
        os.close(partial.fd)
        partial.fd = os.open(target, os.O_RDONLY)
        return PlaceResult.PLACED

    def _name_taken(self, partial: _Partial, target: Path) -> PlaceResult:
        try:
            same = hash_file(target, partial.meta.name, self.follow_symlinks)[0].digest \
                == partial.meta.digest
        except (OSError, MetaError):
            same = False
        return PlaceResult.SAME_FILE_THERE if same else PlaceResult.NAME_TAKEN

    def drop_partial(self, digest: bytes) -> None:
        partial = self._partials.pop(digest, None)
        if partial is not None:
            os.close(partial.fd)
            partial.remove_files()

    # --- resume -----------------------------------------------------------------

    def load_partials(self) -> list[tuple[FileMeta, list[int]]]:
        """Downloads left by an earlier run, with the pieces their data holds
        (every written piece re-verified; torn ones are fetched again)."""
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
            try:
                held = self._reverify(meta, base)
            except OSError as exc:
                log.warning("cannot resume %r: %s", meta.name, exc)
                continue
            found.append((meta, held))
        return found

    def _reverify(self, meta: FileMeta, base: Path) -> list[int]:
        layout: Layout = meta.layout
        fd = os.open(base.with_suffix(".part"), os.O_RDWR)
        try:
            if os.fstat(fd).st_size != meta.size_bytes:
                os.ftruncate(fd, meta.size_bytes)
            started = time.monotonic()
            held, torn, checked = [], 0, 0
            for piece in written_pieces(fd, layout):
                offset, length = layout.piece_byte_range(piece)
                data = _pread_exact(fd, length, offset)
                checked += length
                if meta.piece_ok(piece, data):
                    held.append(piece)
                else:
                    torn += 1
        except BaseException:
            os.close(fd)
            raise
        self.bytes_rechecked += checked
        self._partials[meta.digest] = _Partial(meta, base, fd)
        log.info("resuming %r: %d of %d pieces verified (%s of written data read in %.2f s)%s",
                 meta.name, len(held), layout.pieces, human_size(checked),
                 time.monotonic() - started,
                 f"; {torn} torn piece(s) will be fetched again" if torn else "")
        return held

    def remove_state_if_empty(self) -> None:
        """After a clean finish: no partial data behind, no empty folders."""
        for path in (self.partial_dir, self.state_dir):
            with contextlib.suppress(OSError):
                path.rmdir()
