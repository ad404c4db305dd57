"""The events the tracker publishes (PUB), on two topics, each numbered.

A peer keeps in step with the file topic the zguide's Clone way: it
subscribes first, takes a snapshot, drops events at or below the
snapshot's number, and asks for a new snapshot when it sees a gap.
"""

from __future__ import annotations

from typing import ClassVar

from swarm.protocol.fields import MAX_ID, as_bool, as_endpoint, as_int, as_name, as_record
from swarm.protocol.message_parts import FileSummary
from swarm.protocol.messages import Message

# Events go out on two topics (the first frame of each PUB message), each
# numbered on its own.  Peers subscribe to the file topic only: what files
# the swarm has, and whether the living peers cover them -- news that grows
# with the files, not with the peers.  Who holds what, and who comes and
# goes, is on the peer topic, for tools; a peer hears what it needs of it
# from the tracker directly (holders on request, LeaveStatus).
FILE_TOPIC = b"f"


PEER_TOPIC = b"p"


class Event(Message):
    """A tracker event published on PUB; ``seq`` numbers the events of its
    topic without gaps.

    ``seq`` is declared here once; a record's inherited fields come before its
    own, so it is the first field of every event, on the wire too."""

    TOPIC: ClassVar[bytes] = PEER_TOPIC
    seq: int

    def __post_init__(self) -> None:
        as_int(self.seq, "seq")


class PeerFileEvent(Event):
    """An event about one peer and one file name (the fields, and their
    checks, of the four events that have them)."""

    peer_id: int
    name: str

    def __post_init__(self) -> None:
        super().__post_init__()
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        as_name(self.name)


class PeerJoined(Event):
    """A peer joined, serving at this endpoint."""

    KIND: ClassVar[int] = 40
    peer_id: int
    endpoint: str

    def __post_init__(self) -> None:
        super().__post_init__()
        as_int(self.peer_id, "peer id", 1, MAX_ID)
        as_endpoint(self.endpoint)


class FileAdded(Event):
    """A file name the swarm has not had before ("new file")."""

    KIND: ClassVar[int] = 41
    TOPIC: ClassVar[bytes] = FILE_TOPIC
    file: FileSummary
    owner: int

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "file", as_record(self.file, "file", FileSummary))
        as_int(self.owner, "owner", 1, MAX_ID)


class FileCompleted(PeerFileEvent):
    """A peer holds a file whole (it brought it or finished fetching it)."""

    KIND: ClassVar[int] = 42


class PeerLeft(Event):
    """A peer said goodbye or expired."""

    KIND: ClassVar[int] = 43
    peer_id: int

    def __post_init__(self) -> None:
        super().__post_init__()
        as_int(self.peer_id, "peer id", 1, MAX_ID)


class Availability(Event):
    """The living peers together cover the file again, or no longer do."""

    KIND: ClassVar[int] = 44
    TOPIC: ClassVar[bytes] = FILE_TOPIC
    name: str
    available: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        as_name(self.name)
        as_bool(self.available, "available")


class Excused(PeerFileEvent):
    """``peer_id`` cannot take the swarm's ``name`` (it holds other bytes or
    something else under that name, or its disk refuses the writes); nobody
    waits for it to."""

    KIND: ClassVar[int] = 45


class ExcuseWithdrawn(PeerFileEvent):
    """``peer_id`` can hold ``name`` again (its disk takes writes again): it is
    waited for as any peer."""

    KIND: ClassVar[int] = 46


class FileDropped(PeerFileEvent):
    """``peer_id`` no longer holds ``name`` (it changed or was deleted there)."""

    KIND: ClassVar[int] = 47


class FileRemoved(Event):
    """The swarm no longer has ``name``: a holder withdrew it and the living
    peers do not cover it.  Partial copies are useless; the name is free."""

    KIND: ClassVar[int] = 48
    TOPIC: ClassVar[bytes] = FILE_TOPIC
    name: str

    def __post_init__(self) -> None:
        super().__post_init__()
        as_name(self.name)
