"""The one-shot clients on disk: ``swarm get`` and ``swarm seed``.

Both run the peer's own loop (``PeerLoop``) in a mode (``swarm.peer.mode``);
what is theirs is where the files come from and go to.

A get fetches into a folder of its own inside its state folder
(``DIR/.swarm/get/``, beside its partial downloads in ``DIR/.swarm/partial/``),
which the peer's loop takes as its Shared: the loop offers and serves only
what the get fetched, never the other files of DIR.  Once the loop is done,
each file is hard-linked into DIR under its name -- a link never replaces an
existing file -- and only then printed.  A get stopped half-way leaves its
pieces there, and the next get into the same DIR resumes them.

A seed serves files from anywhere: its Shared is a private temporary folder
of symbolic links, one per file, read through with ``follow_symlinks``.  So
the store serves a seed's files as it serves Shared (the same checks that a
file changed or went) and nothing is copied; the folder goes when the seed
does.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from swarm.config import Settings
from swarm.io.peer.hashing import hash_file
from swarm.io.peer.loop import run_peer
from swarm.peer.mode import Mode
from swarm.protocol.names import name_problem

log = logging.getLogger("swarm.peer")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
GET_FOLDER = "get"  # inside the state folder: what a get holds until it is placed
INCOMING_PREFIX = ".swarm-get-"  # a copy into DIR under way (the state folder is elsewhere)


class GetError(Exception):
    """A get that cannot place what it fetched (said on stderr, exit 1)."""


def _same_content(path: Path, name: str, digest: bytes) -> bool:
    meta, _ = hash_file(path, name)
    return meta.digest == digest


def _check_targets(wanted: Mapping[str, bytes], to_dir: Path) -> dict[str, bytes]:
    """The files still to fetch: those DIR does not hold yet.  A name in DIR
    with other content is an error: nothing is ever overwritten."""
    remaining = {}
    for name, digest in sorted(wanted.items()):
        target = to_dir / name
        if not os.path.lexists(target):
            remaining[name] = digest
        elif not target.is_file() or not _same_content(target, name, digest):
            raise GetError(f"{target} exists and is not the swarm's {name!r}; not overwriting it")
    return remaining


def _link_new(source: Path, target: Path, name: str, digest: bytes) -> None:
    """A link under the target name, which never replaces an existing file
    (the same content already there will do)."""
    try:
        os.link(source, target)
    except FileExistsError:
        if not target.is_file() or not _same_content(target, name, digest):
            raise GetError(f"{target} appeared while it was fetched and is not the swarm's "
                           f"{name!r}; not overwriting it (the fetched copy is in "
                           f"{source.parent})") from None


def _place(source: Path, target: Path, name: str, digest: bytes) -> None:
    """Into DIR under its name, never over an existing file."""
    try:
        _link_new(source, target, name, digest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # The state folder is on another file system: copy, then link the copy.
        incoming = target.parent / f"{INCOMING_PREFIX}{digest.hex()[:16]}"
        shutil.copyfile(source, incoming)
        try:
            _link_new(incoming, target, name, digest)
        finally:
            incoming.unlink()
    source.unlink()


def run_get(settings: Settings, tracker_host: str, tracker_port: int,
            wanted: Mapping[str, bytes], to_dir: Path, events: Path | None = None,
            progress: str = "auto") -> tuple[int, list[Path]]:
    """Fetch ``wanted`` (name -> digest, as the swarm lists them) into
    ``to_dir``: the exit code, and the paths of the files now there (the
    command prints them)."""
    state_dir = to_dir / settings.state_dir  # relative to DIR, unless absolute
    holding_dir = state_dir / GET_FOLDER
    try:
        to_dir.mkdir(parents=True, exist_ok=True)
        remaining = _check_targets(wanted, to_dir)
    except (GetError, OSError) as exc:
        log.error("%s", exc)
        return EXIT_FAILURE, []
    code = EXIT_OK
    placed = []
    if remaining:
        code = run_peer(settings, tracker_host, tracker_port, 0.0, holding_dir, state_dir,
                        events=events, progress=progress, mode=Mode.get(remaining))
        if code == EXIT_USAGE:  # it did not start (a port it cannot have): said already
            return code, []
    for name, digest in sorted(wanted.items()):
        target = to_dir / name
        if name in remaining:
            source = holding_dir / name
            if not source.is_file():
                if code == EXIT_OK:
                    log.error("stopped before %r was complete; the same get into %s "
                              "resumes it", name, to_dir)
                code = EXIT_FAILURE
                continue
            try:
                _place(source, target, name, digest)
            except (GetError, OSError) as exc:
                log.error("%s", exc)
                code = EXIT_FAILURE
                continue
        placed.append(target)
    for folder in (holding_dir, state_dir):
        with contextlib.suppress(OSError):  # only folders left empty go
            folder.rmdir()
    return code, placed


def seed_links(files: list[Path]) -> dict[str, Path]:
    """Each file under the name the swarm will know it by; a file missing,
    not regular, or with a name the swarm cannot carry is an error."""
    links: dict[str, Path] = {}
    for path in files:
        name = path.name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not a regular file")
        problem = name_problem(name)
        if problem is not None:
            raise ValueError(f"{path}: the swarm cannot carry this name ({problem})")
        if name in links:
            raise ValueError(f"{path} and {links[name]} have the same name; the swarm knows a "
                             "file by its name")
        links[name] = path.absolute()
    return links


def run_seed(settings: Settings, tracker_host: str, tracker_port: int, files: list[Path],
             forever: bool = False, events: Path | None = None, progress: str = "auto") -> int:
    try:
        links = seed_links(files)
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return EXIT_FAILURE
    except ValueError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    folder = Path(tempfile.mkdtemp(prefix="swarm-seed-"))
    try:
        shared = folder / "files"
        shared.mkdir()
        for name, target in links.items():
            (shared / name).symlink_to(target)
        return run_peer(settings.replace(follow_symlinks=True), tracker_host, tracker_port,
                        0.0, shared, folder / "state", events=events, progress=progress,
                        mode=Mode.seed(forever))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
