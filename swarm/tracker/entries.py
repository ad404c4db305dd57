"""The tracker's entries of the ``--events`` log, as ``Observe`` actions
(sans-IO).

What tools follow (the ``--events`` file and the dashboard's
``/api/events``, which get the same entries) is a view of what one call of
the state showed on stdout and published: the entries of its blocks first
(a peer's join before the files it brought), then those of its events.

- from the blocks: join, chunks (``brought``: kept from the peer's earlier
  run, shown as it joins), leave;
- from the events: file, complete, available, lost, excused, unexcused,
  dropped, removed (a peer's joining and leaving are told by its blocks).

Chunk ranges are ``[first, end)``, counted from 0 as on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from swarm.protocol.display import Acquired, Block, Connect, Disconnect
from swarm.protocol.events import (
    Availability,
    Event,
    Excused,
    ExcuseWithdrawn,
    FileAdded,
    FileCompleted,
    FileDropped,
    FileRemoved,
)
from swarm.protocol.output import Action, Observe, Show
from swarm.tracker.actions import Publish


class HasEndpoint(Protocol):
    @property
    def endpoint(self) -> str: ...


def entries(actions: Sequence[Action], peers: Mapping[int, HasEndpoint]) -> list[Observe]:
    """The entries for the actions of one call of the state; ``peers`` (the
    living ones, after the call) give a joined peer's endpoint."""
    shown: list[Observe] = []
    published: list[Observe] = []
    for action in actions:
        # ``type() is``: isinstance on the record classes costs more, and
        # this runs for every request.
        if type(action) is Show:
            entry = _block_entry(action.block, peers)
            if entry is not None:
                shown.append(entry)
        elif type(action) is Publish:
            make = EVENT_ENTRIES.get(type(action.event))
            if make is not None:
                published.append(make(action.event))
    return shown + published if published else shown


def _block_entry(block: Block, peers: Mapping[int, HasEndpoint]) -> Observe | None:
    if isinstance(block, Acquired):
        return Observe("chunks", {"peer": block.peer_id, "file": block.name,
                                  "chunks": sum(e - s for s, e in block.ranges),
                                  "ranges": [list(r) for r in block.ranges],
                                  "brought": block.brought})
    if isinstance(block, Connect):
        peer = peers.get(block.peer_id)
        return Observe("join", {"peer": block.peer_id,
                                "endpoint": peer.endpoint if peer is not None else "",
                                "offers": [name for name, _ in block.offers]})
    if isinstance(block, Disconnect):
        return Observe("leave", {"peer": block.peer_id, "reason": block.reason,
                                 "received": list(block.received)})
    return None


def _file_added(event: FileAdded) -> Observe:
    return Observe("file", {"name": event.file.name, "size": event.file.size_bytes,
                            "digest": event.file.digest.hex(), "owner": event.owner})


def _availability(event: Availability) -> Observe:
    return Observe("available" if event.available else "lost", {"file": event.name})


# The entry of each kind of event that has one.
EVENT_ENTRIES: dict[type[Event], Callable[[Any], Observe]] = {
    FileAdded: _file_added,
    FileCompleted: lambda e: Observe("complete", {"peer": e.peer_id, "file": e.name}),
    Availability: _availability,
    Excused: lambda e: Observe("excused", {"peer": e.peer_id, "file": e.name}),
    ExcuseWithdrawn: lambda e: Observe("unexcused", {"peer": e.peer_id, "file": e.name}),
    FileDropped: lambda e: Observe("dropped", {"peer": e.peer_id, "file": e.name}),
    FileRemoved: lambda e: Observe("removed", {"file": e.name}),
}
