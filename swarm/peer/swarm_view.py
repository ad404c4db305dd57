"""A peer's copy of the swarm's files, kept by snapshot and file events.

The zguide's Clone pattern: the peer subscribes, joins, takes the snapshot that
comes with the welcome, drops events numbered at or below the snapshot, and
applies the rest in order.  A gap in the numbers (PUB drops messages under load,
and a SUB that connects late misses the first ones) or a heartbeat answer with
a newer number than the view has means events were lost: the view asks for a
fresh snapshot and ignores events until it arrives.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from swarm.protocol.events import FILE_TOPIC, Availability, Event, FileAdded, FileRemoved
from swarm.protocol.message_parts import FileSummary
from swarm.protocol.messages import Snapshot
from swarm.protocol.record import Record


class ViewChanges(Record):
    """What one snapshot or event changed, for the peer to act on."""

    new_files: tuple[str, ...] = ()  # names the view had not had before
    touched_files: tuple[str, ...] = ()  # its availability changed
    removed_files: tuple[str, ...] = ()  # names the swarm no longer has

    def __bool__(self) -> bool:
        return bool(self.new_files or self.touched_files or self.removed_files)


MAX_HELD_EVENTS = 10_000  # held while a snapshot is awaited; more means a long stall


class EventResult(enum.Enum):
    APPLIED = "applied"
    STALE = "stale"  # at or below what the view has: dropped
    GAP = "gap"  # events were lost: a snapshot is needed
    WAITING = "waiting"  # a snapshot is on its way: dropped
    OTHER_TOPIC = "other topic"  # not a file event: numbered apart, and of no use here


class SwarmView:
    def __init__(self) -> None:
        self.self_id: int | None = None  # this peer's id, once the tracker gave one
        self.files: dict[str, FileSummary] = {}
        # Names listed before the last reset: a tracker that lists them
        # again (one started again, say) announces no new file.
        self._listed_before: frozenset[str] = frozenset()
        self.reset()

    def reset(self) -> None:
        """Forget everything, as before the first snapshot (a peer joining
        again; it keeps its old id until the new welcome), but the names
        listed so far: the next snapshot does not call them new."""
        self._listed_before |= frozenset(self.files)
        self.seq = -1  # no snapshot yet
        self.files = {}
        self.awaiting_snapshot = True
        # Events that arrive while a snapshot is awaited; those newer than the
        # snapshot are applied after it, so they do not cause another resync.
        self._early: list[Event] = []

    @property
    def synced(self) -> bool:
        return not self.awaiting_snapshot

    def available_names(self) -> list[str]:
        return [name for name, f in self.files.items() if f.available]

    def apply_snapshot(self, snapshot: Snapshot) -> ViewChanges:
        before_files = set(self.files)
        self.seq = snapshot.seq
        self.files = {f.name: f for f in snapshot.files}
        self.awaiting_snapshot = False
        listed_before, self._listed_before = before_files | self._listed_before, frozenset()
        changes = ViewChanges(
            new_files=tuple(sorted(set(self.files) - listed_before)),
            touched_files=tuple(sorted(self.files)),
            removed_files=tuple(sorted(before_files - set(self.files))),
        )
        early, self._early = sorted(self._early, key=lambda e: e.seq), []
        for event in early:
            if event.seq > self.seq:
                result, more = self.on_event(event)
                if result is EventResult.APPLIED:
                    changes = _merge(changes, more)
        return changes

    def note_seq(self, latest_seq: int) -> bool:
        """The tracker says its newest event is ``latest_seq``; True when the
        view has missed some and must resync."""
        if self.awaiting_snapshot or latest_seq <= self.seq:
            return False
        self.awaiting_snapshot = True
        return True

    def on_event(self, event: Event) -> tuple[EventResult, ViewChanges]:
        if event.TOPIC != FILE_TOPIC:
            return EventResult.OTHER_TOPIC, ViewChanges()
        if self.awaiting_snapshot:
            if len(self._early) < MAX_HELD_EVENTS:
                self._early.append(event)
            return EventResult.WAITING, ViewChanges()
        if event.seq <= self.seq:
            return EventResult.STALE, ViewChanges()
        if event.seq != self.seq + 1:
            self.awaiting_snapshot = True
            self._early.append(event)
            return EventResult.GAP, ViewChanges()
        self.seq = event.seq
        return EventResult.APPLIED, self._apply(event)

    def _apply(self, event: Event) -> ViewChanges:
        apply = EVENTS.get(type(event))
        return apply(self, event) if apply is not None else ViewChanges()

    def _file_added(self, event: FileAdded) -> ViewChanges:
        is_new = event.file.name not in self.files
        self.files[event.file.name] = event.file
        return ViewChanges(new_files=(event.file.name,) if is_new else (),
                           touched_files=(event.file.name,))

    def _availability(self, event: Availability) -> ViewChanges:
        current = self.files.get(event.name)
        if current is not None:
            self.files[event.name] = FileSummary(
                current.name, current.size_bytes, current.digest, event.available
            )
        return ViewChanges(touched_files=(event.name,))

    def _file_removed(self, event: FileRemoved) -> ViewChanges:
        if self.files.pop(event.name, None) is None:
            return ViewChanges()
        return ViewChanges(removed_files=(event.name,))


# Each file event, and what it changes in the view (a peer subscribes to no
# other events: an event of another kind changes nothing).
EVENTS: dict[type[Event], Callable[[SwarmView, Any], ViewChanges]] = {
    FileAdded: SwarmView._file_added,
    Availability: SwarmView._availability,
    FileRemoved: SwarmView._file_removed,
}


def _merge(a: ViewChanges, b: ViewChanges) -> ViewChanges:
    return ViewChanges(
        new_files=a.new_files + tuple(n for n in b.new_files if n not in a.new_files),
        touched_files=a.touched_files + b.touched_files,
        removed_files=a.removed_files + b.removed_files,
    )
