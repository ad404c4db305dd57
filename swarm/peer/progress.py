"""What a download's progress is, as the state reports it (bars and
status lines draw it)."""

from __future__ import annotations

from swarm.protocol.record import Record


class FileProgress(Record):
    """One download, as the bars show it."""

    key: bytes
    name: str
    size_bytes: int
    held_bytes: int
    sources: int
    done: bool
