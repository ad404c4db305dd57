"""What Shared holds, and serving it.

A scan looks at every entry of Shared once: the files to offer, the entries
that are not shared and why, what has a name there.  The files this peer
serves from Shared are watched: each is remembered with the size, mtime and
inode it had when it was hashed, a read for another peer checks them, and
every scan reports the served files that changed or went.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from swarm.io.peer.file_io import pread_exact
from swarm.io.peer.hashing import LocalFile, hash_file
from swarm.io.peer.placing import INCOMING_PREFIX
from swarm.peer.disk import ContentChanged
from swarm.protocol.meta import FileMeta
from swarm.protocol.names import name_problem
from swarm.protocol.record import Record, field

log = logging.getLogger("swarm.store")

NOT_SHARED_YET = "a file that is not shared yet"


class Skipped(Record):
    """Why an entry of Shared is not shared, and whether to say it aloud.

    Aloud (at warning level, the default) for what a user most likely put
    there to be shared and would otherwise wait for in vain: a symbolic
    link (the setting follow_symlinks shares its target), a FIFO, a socket
    or a device, a file whose name the swarm cannot carry.  Quietly (at
    info level) for hidden entries and folders: keeping them in Shared is a
    choice (a subfolder of finished work, an editor's dot-file), folders
    are visibly not files, and a warning for them would come back at every
    start.  An entry that cannot be looked at is said quietly too: it is
    most often one deleted while the scan ran."""

    reason: str
    aloud: bool = False


class SharedScan(Record):
    """One look at Shared."""

    # Regular, visible files with acceptable names that are not served yet.
    files: dict[str, LocalFile] = field(default_factory=dict)
    # Every other entry, with the reason it is not shared.
    skipped: dict[str, Skipped] = field(default_factory=dict)
    # Every entry that is not a file this peer serves, with what it is (a
    # folder, a link, a file not offered yet): a swarm file of that name
    # cannot be placed.
    taken: dict[str, str] = field(default_factory=dict)
    # Files this peer serves that changed or went: (digest, what happened).
    changed: list[tuple[bytes, str]] = field(default_factory=list)


def _entry_problem(entry: os.DirEntry[str], follow_symlinks: bool) -> tuple[
        os.stat_result | None, Skipped | None]:
    """The stat of a Shared entry that can be shared, or why it cannot."""
    if entry.name.startswith("."):
        return None, Skipped("hidden (its name starts with a dot)")
    try:
        if entry.is_symlink():
            if not follow_symlinks:
                return None, Skipped("a symbolic link (links are not followed; the setting "
                                     "follow_symlinks shares what they point to)", aloud=True)
            try:
                st = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                return None, Skipped("a symbolic link to nothing", aloud=True)
        else:
            st = entry.stat(follow_symlinks=False)
    except OSError as exc:
        return None, Skipped(f"it cannot be read ({exc.strerror})")
    if stat.S_ISDIR(st.st_mode):  # a link to a folder, followed, is a folder too
        return None, Skipped("a folder (subfolders are not shared)")
    if not stat.S_ISREG(st.st_mode):
        return None, Skipped(f"not a regular file but {_kind(st.st_mode)}", aloud=True)
    problem = name_problem(entry.name)
    if problem is not None:
        return None, Skipped(f"its name is {problem}", aloud=True)
    return st, None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "something else"


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


class SharedFolder:
    """The Shared folder: its scans, and the files this peer serves from it,
    each open from the moment it is served until it stops being served."""

    def __init__(self, folder: Path, follow_symlinks: bool = False) -> None:
        self.folder = folder
        self.follow_symlinks = follow_symlinks
        self._served: dict[bytes, _Served] = {}
        # What each file was when hash() read it, until serve() takes it
        # (written by the hashing thread; a dict item is atomic).
        self._hashed: dict[str, LocalFile] = {}

    def open(self) -> None:
        """Create the folder if it is missing (and say so)."""
        try:
            self.folder.mkdir(parents=True)
        except FileExistsError:
            if not self.folder.is_dir():
                raise
        else:
            log.info("created the shared folder %s (it was missing); files copied into it are "
                     "offered", self.folder.absolute())

    def close(self) -> None:
        for served in self._served.values():
            if served.fd is not None:
                os.close(served.fd)
        self._served.clear()

    def scan(self) -> SharedScan:
        """Every entry of Shared: files to offer, entries skipped (and why),
        and the served files that changed or went.  One stat per entry: a
        served file seen unchanged costs a comparison, not a second stat."""
        scan = SharedScan()
        served_by_name = {served.name: digest for digest, served in self._served.items()}
        unchanged: set[bytes] = set()
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            name = entry.name
            if name.startswith(INCOMING_PREFIX):
                continue  # our own copy, about to be renamed into place
            st, problem = _entry_problem(entry, self.follow_symlinks)
            if st is None:
                scan.skipped[name] = problem or Skipped("unreadable")
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
            path = self.folder / served.name
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

    def hash(self, name: str) -> FileMeta:
        """Hash one file of Shared (slow for big files: run it off the loop)."""
        meta, seen = hash_file(self.folder / name, name, self.follow_symlinks)
        self._hashed[name] = seen
        return meta

    def blocking_entry(self, name: str) -> str | None:
        """What has ``name`` in Shared, if anything: it keeps the swarm's file
        of that name from being placed there."""
        path = self.folder / name
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

    def serve(self, meta: FileMeta) -> None:
        """Serve a file of Shared from now on."""
        if meta.digest in self._served:
            return
        flags = os.O_RDONLY | (0 if self.follow_symlinks else os.O_NOFOLLOW)
        seen = self._hashed.pop(meta.name, None)
        try:
            fd: int | None = os.open(self.folder / meta.name, flags)
        except OSError:
            fd = None  # gone already: the next scan reports it
        if seen is None:
            # Placed by this peer a moment ago: what is there now is the file.
            seen = LocalFile.of(meta.name, os.fstat(fd)) if fd is not None else LocalFile(
                meta.name, -1, -1, -1)
        self._served[meta.digest] = _Served(meta.name, fd, seen)

    def serve_placed(self, digest: bytes, name: str, fd: int) -> None:
        """Serve a download just placed in Shared from ``fd``, open on the
        file that is there now (the partial file's own inode, or the copy's)."""
        self._served[digest] = _Served(name, fd, LocalFile.of(name, os.fstat(fd)))

    def stop_serving(self, digest: bytes) -> None:
        served = self._served.pop(digest, None)
        if served is not None and served.fd is not None:
            os.close(served.fd)

    def serves(self, digest: bytes) -> bool:
        return digest in self._served

    def read(self, digest: bytes, offset: int, length: int) -> bytes:
        """Bytes of a served file, for another peer (ContentChanged if the
        file is no longer what was hashed; KeyError if it is not served)."""
        served = self._served[digest]
        if served.fd is None:
            raise ContentChanged(served.name, "could not be opened")
        data = pread_exact(served.fd, length, offset)
        # Checked after the read: a write that began before the check
        # has already moved the mtime, so bytes that pass are the hashed ones.
        served.check()
        return data
