"""Which connection the dashboard's server lets go when it is full, pure:
each connection's phase and since when it has been in it go in, the
connection to close comes out.

A connection is in one of three phases:

- *waiting* on its client: for a request head (nothing of it yet, part of
  it, or the next request on a kept-alive connection), for the client to
  read what it was sent, or for its leftovers after an error answer.  Its
  clock starts when it begins to wait and is not reset by the bytes of a
  head trickling in: a head sent a byte a second is as old as its first byte.
- *answering*: the server's turn (routing, a status being built, a short
  answer written).  Bounded by the server's own waits, never closed to make
  room.
- *streaming*: an event stream (``/api/events``).  A live stream is not
  idle, but the streams together are bounded (``max_streams``): one more
  ends the oldest, whose page opens it again and gets what it missed.

At the cap (``max_connections``), a new connection takes the place of the
one that has been waiting the longest; with none waiting, the new one is
closed at once.  So a client that connects and sends a whole request is
served, however many connections sit idle or half-sent.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from enum import Enum
from typing import Generic, TypeVar

from swarm.protocol.record import Record

Key = TypeVar("Key", bound=Hashable)


class Phase(Enum):
    WAITING = "waiting"
    ANSWERING = "answering"
    STREAMING = "streaming"


class Slot(Record, frozen=False):
    phase: Phase
    since_s: float  # when the connection entered its phase


class Admitted(Record, Generic[Key]):
    admitted: bool  # False: the cap is full of connections that may not be closed
    evicted: Key | None  # the connection closed to make room, already out of the table


def longest_waiting(slots: Mapping[Key, Slot]) -> Key | None:
    """The connection to close for room: the one that has been waiting on its
    client the longest (the first made, of equals), or None when none waits."""
    return _oldest(slots, Phase.WAITING)


def oldest_stream(slots: Mapping[Key, Slot]) -> Key | None:
    return _oldest(slots, Phase.STREAMING)


def _oldest(slots: Mapping[Key, Slot], phase: Phase) -> Key | None:
    found: Key | None = None
    found_since_s = 0.0
    for key, slot in slots.items():  # in the order they came: ties go to the first
        if slot.phase is phase and (found is None or slot.since_s < found_since_s):
            found, found_since_s = key, slot.since_s
    return found


class Admission(Generic[Key]):
    """The server's table of its connections.  ``admit`` when one is made,
    ``enter`` at each change of phase, ``leave`` when it ends (however it
    ends: leaving twice is harmless)."""

    def __init__(self, max_connections: int, max_streams: int) -> None:
        if max_connections < 1 or not 1 <= max_streams <= max_connections:
            raise ValueError(f"bad bounds: {max_connections} connections, "
                             f"{max_streams} streams")
        self.max_connections = max_connections
        self.max_streams = max_streams
        self.slots: dict[Key, Slot] = {}

    def __len__(self) -> int:
        return len(self.slots)

    def streams(self) -> int:
        return sum(slot.phase is Phase.STREAMING for slot in self.slots.values())

    def admit(self, key: Key, now_s: float) -> Admitted[Key]:
        """A new connection, waiting for its first request from ``now_s``."""
        evicted = None
        if len(self.slots) >= self.max_connections:
            evicted = longest_waiting(self.slots)
            if evicted is None:
                return Admitted(False, None)
            del self.slots[evicted]
        self.slots[key] = Slot(Phase.WAITING, now_s)
        return Admitted(True, evicted)

    def enter(self, key: Key, phase: Phase, now_s: float) -> Key | None:
        """``key`` is now in ``phase``; returns the stream to end when it
        starts one past ``max_streams`` (already out of the table)."""
        slot = self.slots.get(key)
        if slot is None:  # closed to make room meanwhile
            return None
        if slot.phase is phase:
            return None  # its clock keeps running
        slot.phase, slot.since_s = phase, now_s
        if phase is not Phase.STREAMING or self.streams() <= self.max_streams:
            return None
        ended = oldest_stream({k: s for k, s in self.slots.items() if k != key})
        if ended is not None:
            del self.slots[ended]
        return ended

    def leave(self, key: Key) -> None:
        self.slots.pop(key, None)
