"""What the peer's state needs to know of its disk, without touching it:
how placing a finished file in Shared went, and a file of Shared that is no
longer what was hashed."""

from __future__ import annotations

import enum
import errno


class PlaceResult(enum.Enum):
    PLACED = "placed"
    NAME_TAKEN = "name taken"  # a different file already has the name
    SAME_FILE_THERE = "same file there"  # somebody put the same bytes there


class ContentChanged(OSError):
    """A file of Shared is no longer what this peer hashed: not to be served."""

    def __init__(self, name: str, change: str) -> None:
        super().__init__(errno.ESTALE, f"{name!r} {change}")
        self.change = change
