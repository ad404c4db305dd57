"""A peer's heartbeats carry what it has served since it joined: the tracker's
send rate for `swarm status` (a whole swarm on the fake wire of tests/swarms)."""

from __future__ import annotations

import random

from swarm.peer.actions import ToTracker
from swarm.protocol import messages as m
from swarm.protocol.meta import meta_of_bytes
from swarm.protocol.output import Action
from swarm.protocol.peer_messages import ChunkRequest
from swarm.tracker.state import TrackerState
from tests.peer.test_state import lone_peer
from tests.swarms.sim import Simulation


def sent_by(tracker: TrackerState, peer_id: int) -> int:
    return tracker.registry.peers[peer_id].outflow.believed_total


def test_the_tracker_hears_every_byte_a_lone_source_served() -> None:
    content = random.Random(5).randbytes(300_000)
    sim = Simulation()
    source = sim.add_peer({"a.bin": content}, quiet_s=60.0)
    fetcher = sim.add_peer({}, quiet_s=60.0)
    sim.run(lambda: fetcher.store.shared.get("a.bin") == content, limit_s=30)
    assert source.state is not None and source.state.peer_id is not None
    assert fetcher.state is not None and fetcher.state.peer_id is not None
    source_id, fetcher_id = source.state.peer_id, fetcher.state.peer_id
    # The count arrives with the source's next heartbeat.
    sim.run(lambda: sent_by(sim.tracker, source_id) >= len(content), limit_s=sim.now_s + 5)
    assert sent_by(sim.tracker, source_id) == len(content)  # one source: nothing twice
    assert sent_by(sim.tracker, fetcher_id) == 0
    assert sim.tracker.figures().moved_bytes == len(content)


def heartbeats(actions: list[Action]) -> list[m.Message]:
    return [a.message for a in actions
            if isinstance(a, ToTracker) and isinstance(a.message, m.Heartbeat)]


def test_a_heartbeat_counts_only_what_was_served_since_the_last_join() -> None:
    doc = meta_of_bytes("doc", bytes(range(256)) * 4)  # 1024 bytes, 2 chunks
    state = lone_peer([doc])
    state.start()
    state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 0.0)
    state.on_tracker(m.Welcome(1, m.Snapshot(0, ()), ()), 0.0)
    state.on_request(b"route", ChunkRequest(7, doc.digest, 0, 2), 0.5)
    assert heartbeats(state.on_timer(1.0)) == [m.Heartbeat(1024)]
    # The tracker forgot it: it joins again, and a new count begins.
    assert any(isinstance(a, ToTracker) and isinstance(a.message, m.Join)
               for a in state.on_tracker(m.Rejoin(), 1.5))
    assert heartbeats(state.on_timer(2.5)) == [m.Heartbeat(0)]
    state.on_request(b"route", ChunkRequest(8, doc.digest, 1, 1), 3.0)
    assert heartbeats(state.on_timer(3.5)) == [m.Heartbeat(512)]
