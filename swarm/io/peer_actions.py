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

from swarm.io.event_log import EventLog
from swarm.io.peer_sockets import PeerSockets
from swarm.io.stdout import StdoutWriter
from swarm.io.store import Store
from swarm.peer.actions import (
    Action,
    CheckShared,
    CloseLink,
    DropPartial,
    DropPeer,
    Observe,
    OpenReverse,
    Place,
    Reply,
    SendChunks,
    ServeFile,
    Show,
    StartPartial,
    StopServing,
    Subscribe,
    ToPeer,
    ToTracker,
    WritePiece,
)
from swarm.peer.disk import ContentChanged, PlaceResult
from swarm.peer.state import PeerState
from swarm.protocol.messages import ChunkRefused

log = logging.getLogger("swarm.peer")


class ActionRunner:
    def __init__(self, state: PeerState, net: PeerSockets, store: Store, writer: StdoutWriter,
                 events: EventLog | None, clock: Callable[[], float]) -> None:
        self.state = state
        self.net = net
        self.store = store
        self.writer = writer
        self.events = events
        self.clock = clock

    def run(self, actions: list[Action]) -> None:
        queue = deque(actions)
        while queue:
            follow_up = self._do(queue.popleft())
            queue.extendleft(reversed(follow_up))

    def _do(self, action: Action) -> list[Action]:
        """Carry out one action; returns what the state asks next, if the
        world had an answer for it."""
        net, store, state = self.net, self.store, self.state
        if isinstance(action, ToPeer):
            net.to_peer(action.peer_id, action.endpoint, action.message)
        elif isinstance(action, SendChunks):
            return self._send_chunks(action)
        elif isinstance(action, WritePiece):
            try:
                store.write_piece(action.digest, action.piece, action.data)
            except OSError as exc:
                return state.on_written(action, exc, self.clock())
            return state.on_written(action, None, self.clock())
        elif isinstance(action, ToTracker):
            net.to_tracker(action.message)
        elif isinstance(action, Reply):
            net.reply(action.route, action.message)
        elif isinstance(action, Observe):
            if self.events is not None:
                self.events.emit(action.kind, **action.fields)
        elif isinstance(action, StartPartial):
            try:
                store.start_partial(action.meta)
            except OSError as exc:
                return state.on_started(action, exc, self.clock())
            return state.on_started(action, None, self.clock())
        elif isinstance(action, Place):
            return self._place(action)
        elif isinstance(action, ServeFile):
            store.serve_complete(action.meta)
        elif isinstance(action, StopServing):
            store.stop_serving(action.digest)
        elif isinstance(action, DropPartial):
            store.drop_partial(action.digest)
        elif isinstance(action, CheckShared):
            return state.on_shared_checked(store.check_served(), self.clock())
        elif isinstance(action, Show):
            self.writer.write([action.block])
        elif isinstance(action, Subscribe):
            net.subscribe(action.pub_port)
        elif isinstance(action, OpenReverse):
            net.open_reverse(action.peer_id, action.endpoint)
        elif isinstance(action, CloseLink):
            net.close_link(action.peer_id)
        elif isinstance(action, DropPeer):
            net.drop_peer(action.peer_id)
        else:  # pragma: no cover - a new action without its carrying out
            raise TypeError(f"no way to carry out {type(action).__name__}")
        return []

    def _send_chunks(self, action: SendChunks) -> list[Action]:
        reply = action.reply
        try:
            data = self.store.read(reply.digest, action.offset, action.length)
        except ContentChanged as exc:
            self.net.reply(action.route, ChunkRefused(reply.request_id, "file changed"))
            return self.state.on_local_changed(reply.digest, exc.change, self.clock())
        except (OSError, KeyError) as exc:
            log.warning("cannot read a file for a peer: %s", exc)
            self.net.reply(action.route, ChunkRefused(reply.request_id, "read failed"))
            return []
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
