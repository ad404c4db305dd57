"""The Shared folder, watched: new files offered once they stop changing,
served files that changed or went reported, entries not shared named."""

from __future__ import annotations

import logging
import threading
from queue import SimpleQueue

from swarm.io.common.zmq_util import Waker
from swarm.io.peer.hashing import LocalFile
from swarm.io.peer.shared import SharedScan, Skipped
from swarm.io.peer.store import Store
from swarm.protocol.meta import FileMeta

log = logging.getLogger("swarm.peer")


class SharedWatcher:
    """Watches Shared: offers files copied in once they stop changing (a
    file is hashed when two scans, ``scan_interval_s`` apart, see the same
    size, mtime and inode), reports files this peer serves that changed or
    went, and names every entry it does not share once, with the reason.
    Hashing runs on a thread of its own (hashlib releases the GIL), started
    the first time it is needed, so a big file never stalls the loop."""

    def __init__(self, store: Store, waker: Waker) -> None:
        self.store = store
        self.waker = waker
        self._seen: dict[str, LocalFile] = {}
        self._hashing: dict[str, LocalFile] = {}
        self._skipped: dict[str, Skipped] = {}  # said on stderr, while it stays so
        self._jobs: SimpleQueue[str | None] = SimpleQueue()
        self._results: SimpleQueue[tuple[str, FileMeta | OSError]] = SimpleQueue()
        self._thread: threading.Thread | None = None

    def note_skipped(self, skipped: dict[str, Skipped]) -> None:
        """Say once why each entry is not shared: all of them at start, then
        each that appears or changes (again if it comes back).  A link or a
        special file at warning level, so that a user who put it there to
        share it hears why it never reaches the swarm; a hidden entry or a
        folder at info level (``Skipped`` says why)."""
        for name, why in sorted(skipped.items()):
            if self._skipped.get(name) != why:
                log.log(logging.WARNING if why.aloud else logging.INFO, "not sharing %r: %s",
                        name, why.reason)
        self._skipped = dict(skipped)

    def scan(self) -> SharedScan:
        """One look at Shared: says what is not shared, starts hashing the
        files that stopped changing, and returns the look for the state."""
        scan = self.store.scan_shared()
        self.note_skipped(scan.skipped)
        for name, seen in scan.files.items():
            if name in self._hashing:
                continue
            if self._seen.get(name) == seen:
                self._hashing[name] = seen
                self._submit(name)
        self._seen = dict(scan.files)
        return scan

    def _submit(self, name: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="hash", daemon=True)
            self._thread.start()
        self._jobs.put(name)

    def _work(self) -> None:
        while (name := self._jobs.get()) is not None:
            try:
                result: FileMeta | OSError = self.store.hash_shared(name)
            except OSError as exc:
                result = exc
            self._results.put((name, result))
            self.waker.wake()

    def finished(self) -> list[FileMeta]:
        done = []
        while not self._results.empty():
            name, result = self._results.get()
            self._hashing.pop(name)
            if isinstance(result, OSError):
                log.info("not offering %r yet: %s; looking again", name, result.strerror)
                continue
            done.append(result)
        return done

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
