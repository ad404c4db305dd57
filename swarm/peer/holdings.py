"""A peer's own files: what it holds whole in Shared, what else has a name
in its Shared folder, and the names it is excused from (it cannot take the
swarm's file of that name: it holds other bytes or something else under the
name, or its disk refuses the writes, and nobody waits for it to).  Read by
the leave rule."""

from __future__ import annotations

from swarm.protocol.meta import FileMeta


class Holdings:
    def __init__(self) -> None:
        self.local: dict[str, FileMeta] = {}  # every file of ours in Shared, by name
        self.by_digest: dict[bytes, FileMeta] = {}
        self.complete: set[str] = set()  # what the swarm knows we hold whole
        self.excused: set[str] = set()
        # Entries of Shared that are not files of ours (a folder, a link, a
        # file not offered yet), with what each is, as the last look saw them.
        self.taken: dict[str, str] = {}

    def hold(self, meta: FileMeta) -> None:
        self.local[meta.name] = meta
        self.by_digest[meta.digest] = meta
        self.complete.add(meta.name)

    def refused(self, name: str) -> None:
        """The tracker did not take our file of that name: we keep it, but
        it is not shared, and we will not take the swarm's."""
        self.complete.discard(name)
        self.excused.add(name)

    def excuse(self, name: str) -> bool:
        """We cannot take the swarm's file of that name; True if that is news."""
        if name in self.excused:
            return False
        self.excused.add(name)
        return True

    def unexcuse(self, name: str) -> None:
        """We can take the swarm's file of that name after all."""
        self.excused.discard(name)

    def release(self, digest: bytes) -> FileMeta | None:
        """A file of ours changed or went: we no longer hold it."""
        meta = self.by_digest.pop(digest, None)
        if meta is not None and self.local.get(meta.name) is meta:
            del self.local[meta.name]
            self.complete.discard(meta.name)
        return meta
