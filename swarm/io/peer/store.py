"""A peer's files on disk, as its loop and its runner use them: one ``Store``
over the Shared folder and the state folder.

``./Shared`` holds only complete, verified files; this peer serves them and
notices when one changes under it (``shared``).  A download lives in the
hidden state folder (``./.swarm/partial/`` by default) until it is complete,
and resumes from there after a restart (``partials``); a finished one is
placed into Shared under its name, which never replaces a file already there
(``placing``).  The Store ties the three together: a placed download is
served from the file it became.

Other modules touch the disk too, each for its own job: ``one_shot`` places
what a get fetched into its folder and makes a seed's folder of links; the
tracker writes its port file (``io/tracker/port_file``); ``--events`` appends
to its file (``io/common/event_log``); the HTTP server reads the dashboard's
files; ``swarm.config`` reads the settings file.
"""

from __future__ import annotations

import contextlib
import errno
from pathlib import Path

from swarm.io.peer.partials import Partial, Partials
from swarm.io.peer.placing import place, remove_leftover_copies
from swarm.io.peer.shared import SharedFolder, SharedScan
from swarm.peer.disk import PlaceResult
from swarm.protocol.meta import FileMeta


class Store:
    """Shared and the downloads under way: scanning and serving Shared,
    writing, resuming and placing downloads, reading either for other peers."""

    def __init__(self, shared_dir: Path, state_dir: Path, follow_symlinks: bool = False) -> None:
        self.shared_dir = shared_dir
        self.follow_symlinks = follow_symlinks
        self.shared = SharedFolder(shared_dir, follow_symlinks)
        self.partials = Partials(state_dir)

    @property
    def bytes_rechecked(self) -> int:
        """Bytes read back to re-verify partial data on resume."""
        return self.partials.bytes_rechecked

    def open(self) -> None:
        self.shared.open()
        self.partials.open()
        remove_leftover_copies(self.shared_dir)

    def close(self) -> None:
        self.shared.close()
        self.partials.close()

    # --- Shared ----------------------------------------------------------------

    def scan_shared(self) -> SharedScan:
        return self.shared.scan()

    def check_served(self) -> list[tuple[bytes, str]]:
        return self.shared.check_served()

    def hash_shared(self, name: str) -> FileMeta:
        """Hash one file of Shared (slow for big files: run it off the loop)."""
        return self.shared.hash(name)

    def blocking_entry(self, name: str) -> str | None:
        return self.shared.blocking_entry(name)

    def serve_complete(self, meta: FileMeta) -> None:
        self.shared.serve(meta)

    def stop_serving(self, digest: bytes) -> None:
        self.shared.stop_serving(digest)

    def read(self, digest: bytes, offset: int, length: int) -> bytes:
        """Bytes of a served file or of a download's verified pieces (an
        OSError when they cannot be had: ContentChanged for a served file no
        longer what was hashed, FileNotFoundError for a file neither served
        nor under way)."""
        if self.shared.serves(digest):
            return self.shared.read(digest, offset, length)
        try:
            return self.partials.read(digest, offset, length)
        except KeyError:
            raise FileNotFoundError(errno.ENOENT, "no such file") from None

    # --- downloads ---------------------------------------------------------------

    def start_partial(self, meta: FileMeta) -> None:
        self.partials.start(meta)

    def write_piece(self, digest: bytes, piece: int, data: bytes | memoryview) -> None:
        self.partials.write_piece(digest, piece, data)

    def place(self, digest: bytes) -> PlaceResult:
        """Move a finished download into Shared without replacing anything
        (a DiskError when the disk refuses); once placed, it is served."""
        partial = self.partials.get(digest)
        try:
            partial.seal()  # its resume record goes: Shared gets the file's bytes alone
            result = place(partial, self.shared_dir, self.follow_symlinks)
        except OSError:
            _unseal(partial)
            raise
        if result is PlaceResult.PLACED:
            self.partials.hand_over(digest)
            self.shared.serve_placed(digest, partial.meta.name, partial.fd)
            partial.remove()
        else:
            _unseal(partial)
        return result

    def drop_partial(self, digest: bytes) -> None:
        self.partials.drop(digest)

    def load_partials(self) -> list[tuple[FileMeta, list[int]]]:
        """Downloads left by an earlier run, with the pieces their data holds."""
        return self.partials.load()

    def remove_state_if_empty(self) -> None:
        self.partials.remove_state_if_empty()


def _unseal(partial: Partial) -> None:
    """A download that was not placed keeps its resume record (if the disk
    takes it: when it does not, a restart fetches the file again)."""
    with contextlib.suppress(OSError):
        partial.unseal()
