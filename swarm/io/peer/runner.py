"""Carrying out what a peer's state asks for: its actions, against the
sockets, the disk, stdout and the event log.

The disk's answers go straight back to the state, and the actions they
lead to are carried out before the rest, as if the state had made the call
itself: a write that fails is known before the next action runs.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from swarm.io.common.event_log import EventLog
from swarm.io.common.stdout import StdoutWriter
from swarm.io.peer.console import Console
from swarm.io.peer.sockets import PeerSockets
from swarm.io.peer.store import Store
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
from swarm.protocol.output import Action, Observe, Say, Show

log = logging.getLogger("swarm.peer")


class ActionRunner:
    def __init__(self, state: PeerState, net: PeerSockets, store: Store, writer: StdoutWriter,
                 events: EventLog | None, clock: Callable[[], float],
                 console: Console | None = None) -> None:
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
