"""A peer's own files: what it holds whole in Shared, and the names it is
excused from (it holds other bytes under the name, so it will never take the
swarm's file, and nobody waits for it to).  Read by the leave rule."""

from __future__ import annotations

from swarm.meta import FileMeta


class Holdings:
    def __init__(self) -> None:
        self.local: dict[str, FileMeta] = {}  # every file of ours in Shared, by name
        self.by_digest: dict[bytes, FileMeta] = {}
        self.complete: set[str] = set()  # what the swarm knows we hold whole
        self.excused: set[str] = set()

    def hold(self, meta: FileMeta) -> None:
        self.local[meta.name] = meta
        self.by_digest[meta.digest] = meta
        self.complete.add(meta.name)

    def refused(self, name: str) -> None:
        """The tracker did not take our file of that name: we keep it, but
        it is not shared, and we will not take the swarm's."""
        self.complete.discard(name)
        self.excused.add(name)
