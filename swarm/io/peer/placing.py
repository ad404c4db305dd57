"""Placing a finished download into Shared under its name: a hard link to
its partial file (cut to its size first: ``Partial.seal``), or where links
cannot be made (another file system), a copy under a hidden name renamed
into place.  Never over anything that has the name already."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from swarm.io.peer.file_io import DiskError
from swarm.io.peer.hashing import hash_file
from swarm.io.peer.partials import Partial
from swarm.peer.disk import PlaceResult
from swarm.protocol.meta import MetaError

INCOMING_PREFIX = ".swarm-incoming-"  # a copy on its way into Shared (hidden)


def remove_leftover_copies(shared_dir: Path) -> None:
    """Copies into Shared that a crash cut short."""
    for leftover in shared_dir.glob(INCOMING_PREFIX + "*"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def place(partial: Partial, shared_dir: Path, follow_symlinks: bool) -> PlaceResult:
    """Put a finished download into Shared without replacing anything (a
    DiskError when the disk refuses).  Once PLACED, ``partial.fd`` is open on
    the file in Shared: the same inode when linked, the copy when copied."""
    target = shared_dir / partial.meta.name
    try:
        os.link(partial.path, target)
    except FileExistsError:
        return _name_taken(partial, target, follow_symlinks)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise DiskError(exc, "place", partial.meta.name, shared_dir) from exc
        try:
            return _place_by_copy(partial, target, follow_symlinks)
        except OSError as exc2:
            raise DiskError(exc2, "place", partial.meta.name, shared_dir) from exc2
    return PlaceResult.PLACED


def _place_by_copy(partial: Partial, target: Path, follow_symlinks: bool) -> PlaceResult:
    # Another file system, or one without hard links: copy under a hidden
    # name inside Shared, then rename (atomic within one directory).
    import shutil  # here: linking is the rule, copying the exception

    tmp = target.parent / f"{INCOMING_PREFIX}{partial.meta.digest.hex()[:16]}"
    try:
        shutil.copyfile(partial.path, tmp)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if os.path.lexists(target):
        tmp.unlink()
        return _name_taken(partial, target, follow_symlinks)
    os.replace(tmp, target)
    # Serve the copy in Shared from now on, not the partial file.
    os.close(partial.fd)
    partial.fd = os.open(target, os.O_RDONLY)
    return PlaceResult.PLACED


def _name_taken(partial: Partial, target: Path, follow_symlinks: bool) -> PlaceResult:
    try:
        same = hash_file(target, partial.meta.name, follow_symlinks)[0].digest \
            == partial.meta.digest
    except (OSError, MetaError):
        same = False
    return PlaceResult.SAME_FILE_THERE if same else PlaceResult.NAME_TAKEN
