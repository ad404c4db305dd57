"""Carrying out what a peer's state asks for: its actions, against the
sockets, the disk, stdout, the event log and the console.

The disk's answers go straight back to the state, and the actions they
lead to are carried out before the rest, as if the state had made the call
itself: a write that fails is known before the next action runs.

What the runner uses of each is a small Protocol here (``PeerNetwork``,
``PeerDisk``, ``BlockWriter``, ``EntryLog``, ``EntryWatcher``): a peer
process gives it its ZeroMQ sockets (``sockets.PeerSockets``), its
``store.Store``, the contract's ``StdoutWriter``, its ``EventLog`` and its
``Console``; the simulation of whole swarms (tests/swarms/sim.py) gives it a
wire and a disk in memory, so both run this one dispatch table.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Protocol

from swarm.peer.actions import (
    CheckShared,
    CloseLink,
    DropPartial,
    DropPeer,
    LearnMapping,
    OpenPunch,
    OpenReverse,
    Place,
    Reply,
    SendChunks,
    ServeFile,
    StartPartial,
    StopServing,
    Subscribe,
    ToPeer,
    ToTracker,
    WritePiece,
)
from swarm.peer.disk import PlaceResult
from swarm.peer.state import PeerState
from swarm.protocol.display import Block
from swarm.protocol.messages import Message
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Action, Observe, Say, Show

log = logging.getLogger("swarm.peer")


class PeerNetwork(Protocol):
    """What the runner sends through: the tracker, the sources we fetch
    from, the peers we serve (``route``: whom to answer, as the state got it)."""

    def to_tracker(self, message: Message) -> None: ...
    def to_peer(self, peer_id: int, endpoint: str, message: Message) -> None: ...
    def reply(self, route: Hashable, message: Message, payload: bytes | None = None) -> None: ...
    def subscribe(self, pub_port: int) -> None: ...
    def open_reverse(self, peer_id: int, endpoint: str) -> None: ...
    def open_punch(self, peer_id: int, endpoint: str, curve_server: bool) -> None: ...
    def learn_mapping(self, echo_ports: tuple[int, ...]) -> None: ...
    def close_link(self, peer_id: int) -> None: ...
    def drop_peer(self, peer_id: int) -> None: ...


class PeerDisk(Protocol):
    """What the runner asks of the disk: Shared and the partial files.
    What fails raises an OSError, which goes back to the state."""

    def read(self, digest: bytes, offset: int, length: int) -> bytes:
        """ContentChanged: a served file is no longer what was hashed;
        FileNotFoundError: the file is neither served nor under way."""
        ...

    def start_partial(self, meta: FileMeta) -> None: ...
    def write_piece(self, digest: bytes, piece: int, data: bytes | memoryview) -> None: ...
    def place(self, digest: bytes) -> PlaceResult: ...

    def blocking_entry(self, name: str) -> str | None:
        """What takes ``name`` in Shared (a folder, a link...), if anything."""
        ...

    def drop_partial(self, digest: bytes) -> None: ...
    def serve_complete(self, meta: FileMeta) -> None: ...
    def stop_serving(self, digest: bytes) -> None: ...

    def check_served(self) -> list[tuple[bytes, str]]:
        """Served files no longer as hashed: (digest, "modified" or "deleted")."""
        ...


class BlockWriter(Protocol):
    """stdout: whole blocks of the contract."""

    def write(self, blocks: Iterable[Block]) -> None: ...


class EntryLog(Protocol):
    """The ``--events`` log: one entry per Observe."""

    def emit(self, kind: str, **fields: Any) -> None: ...


class EntryWatcher(Protocol):
    """The console a person watches: it draws some entries as lines."""

    def observe(self, kind: str, fields: Mapping[str, Any]) -> None: ...


class ActionRunner:
    """Carries out one peer's actions, one dispatch table (``CARRY_OUT``)
    for a peer process and the simulation alike; ``clock`` is the time the
    disk's answers are handed back at."""

    def __init__(self, state: PeerState, net: PeerNetwork, store: PeerDisk,
                 writer: BlockWriter, events: EntryLog | None, clock: Callable[[], float],
                 console: EntryWatcher | None = None) -> None:
        self.state = state
        self.net = net
        self.store = store
        self.writer = writer
        self.events = events
        self.clock = clock
        self.console = console

    def run(self, actions: list[Action]) -> None:
        if len(actions) == 1:  # the usual case, on the hot path: no queue
            follow_up = self._do(actions[0])
            if not follow_up:
                return
            actions = follow_up
        queue = deque(actions)
        while queue:
            follow_up = self._do(queue.popleft())
            queue.extendleft(reversed(follow_up))

    def _do(self, action: Action) -> list[Action]:
        """Carry out one action; returns what the state asks next, if the
        world had an answer for it."""
        carry_out = CARRY_OUT.get(type(action))
        if carry_out is None:  # pragma: no cover - a new action without its carrying out
            raise TypeError(f"no way to carry out {type(action).__name__}")
        return carry_out(self, action) or []

    def _write(self, action: WritePiece) -> list[Action]:
        try:
            self.store.write_piece(action.digest, action.piece, action.data)
        except OSError as exc:
            return self.state.on_written(action, exc, self.clock())
        return self.state.on_written(action, None, self.clock())

    def _start_partial(self, action: StartPartial) -> list[Action]:
        try:
            self.store.start_partial(action.meta)
        except OSError as exc:
            return self.state.on_started(action, exc, self.clock())
        return self.state.on_started(action, None, self.clock())

    def _observe(self, action: Observe) -> None:
        if self.events is not None:
            self.events.emit(action.kind, **action.fields)
        if self.console is not None:
            self.console.observe(action.kind, action.fields)

    def _send_chunks(self, action: SendChunks) -> list[Action]:
        reply = action.reply
        try:
            data = self.store.read(reply.digest, action.offset, action.length)
        except OSError as exc:
            return self.state.on_read_failed(action, exc, self.clock())
        self.net.reply(action.route, reply, data)
        return []

    def _place(self, action: Place) -> list[Action]:
        try:
            result = self.store.place(action.digest)
        except OSError as exc:
            return self.state.on_placed(action, exc, None, self.clock())
        what = self.store.blocking_entry(action.name) if result is PlaceResult.NAME_TAKEN \
            else None
        return self.state.on_placed(action, result, what, self.clock())


# How each action is carried out (None: there is no answer to feed back).
CARRY_OUT: dict[type[Action], Callable[[ActionRunner, Any], list[Action] | None]] = {
    ToTracker: lambda r, a: r.net.to_tracker(a.message),
    ToPeer: lambda r, a: r.net.to_peer(a.peer_id, a.endpoint, a.message),
    Reply: lambda r, a: r.net.reply(a.route, a.message),
    SendChunks: ActionRunner._send_chunks,
    Subscribe: lambda r, a: r.net.subscribe(a.pub_port),
    OpenReverse: lambda r, a: r.net.open_reverse(a.peer_id, a.endpoint),
    OpenPunch: lambda r, a: r.net.open_punch(a.peer_id, a.endpoint, a.curve_server),
    LearnMapping: lambda r, a: r.net.learn_mapping(a.echo_ports),
    CloseLink: lambda r, a: r.net.close_link(a.peer_id),
    DropPeer: lambda r, a: r.net.drop_peer(a.peer_id),
    StartPartial: ActionRunner._start_partial,
    WritePiece: ActionRunner._write,
    Place: ActionRunner._place,
    DropPartial: lambda r, a: r.store.drop_partial(a.digest),
    ServeFile: lambda r, a: r.store.serve_complete(a.meta),
    StopServing: lambda r, a: r.store.stop_serving(a.digest),
    CheckShared: lambda r, _a: r.state.on_shared_checked(r.store.check_served(), r.clock()),
    Show: lambda r, a: r.writer.write([a.block]),
    Observe: ActionRunner._observe,
    Say: lambda _r, a: log.log(a.level, a.template, *a.args),
}
