"""A tracker killed and started again on its port, in the simulation: the
peers notice at their next heartbeat (the new tracker answers a stranger's
with Rejoin), join it with what they hold, and the swarm completes; a peer
whose hello or join died with the old tracker says it again; peers that lose
the tracker for longer than tracker_grace_s leave as they always did.

The new tracker's blocks are held to the contract on their own: a CONNECT
per peer that joins it, each id's offers and ACQUIRED lines what it holds,
and its DISCONNECT listing the files it got whole there."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from swarm.config import Settings
from swarm.peer.phase import Phase
from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.chunks import chunk_count
from tests.swarms.sim import SimPeer, Simulation

SLOW = Settings(upload_limit_bytes_s=800_000, tracker_grace_s=5.0)


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def check_blocks(blocks: list[display.Block], everything: dict[str, bytes],
                 peers: list[SimPeer]) -> None:
    """The blocks of the tracker every peer left from: a CONNECT for each
    peer's last id, its offers and ACQUIRED lines every chunk once, and its
    DISCONNECT listing what it did not offer."""
    connects = {b.peer_id: dict(b.offers) for b in blocks if isinstance(b, display.Connect)}
    received = {b.peer_id: list(b.received) for b in blocks if isinstance(b, display.Disconnect)}
    acquired: dict[tuple[int, str], list[int]] = {}
    for block in blocks:
        if isinstance(block, display.Acquired):
            chunks = acquired.setdefault((block.peer_id, block.name), [])
            chunks.extend(c for start, end in block.ranges for c in range(start, end))
    for peer in peers:
        assert peer.state is not None and peer.state.exit_code == 0
        assert peer.store.shared == everything
        peer_id = peer.state.peer_id
        assert peer_id is not None and peer_id in connects and peer_id in received
        offers = connects[peer_id]
        assert set(offers) | set(received[peer_id]) == set(everything)
        for name in everything:
            got = sorted(acquired.get((peer_id, name), []))
            if name in offers:
                assert got == [], (peer_id, name)
            else:
                assert got == list(range(chunk_count(len(everything[name])))), (peer_id, name)


def run_until(sim: Simulation, done: Callable[[], bool], limit_s: float) -> None:
    sim.run(done, limit_s=sim.now_s + limit_s)


def test_the_swarm_completes_when_the_tracker_comes_back_mid_transfer() -> None:
    files = {"big": data(1, 6_000_000), "other": data(2, 1_200_000)}
    sim = Simulation(SLOW)
    peers = [sim.add_peer({"big": files["big"]}), sim.add_peer({"other": files["other"]}),
             sim.add_peer({}), sim.add_peer({})]
    run_until(sim, lambda: sim.now_s >= 1.0, 2)
    assert not any(p.store.shared == files for p in peers), "still mid-transfer"
    sim.kill_tracker()
    run_until(sim, lambda: sim.now_s >= 2.5, 2)
    first_ids = [p.state.peer_id for p in peers if p.state is not None]
    sim.start_tracker()
    run_until(sim, sim.all_done, 30)
    check_blocks(sim.tracker_blocks, files, peers)
    (before,) = sim.earlier_tracker_blocks
    assert sorted(b.peer_id for b in before if isinstance(b, display.Connect)) == first_ids
    assert not any(isinstance(b, display.Disconnect) for b in before)


def dies_on(kind: type[m.Message], peer: SimPeer) -> Callable[[bytes, m.Message], bool]:
    return lambda key, message: key == peer.key and isinstance(message, kind)


def test_no_peer_leaves_on_what_a_tracker_knows_before_the_others_join_it_again() -> None:
    """The first peer to join the new tracker again holds part of 'big':
    for that tracker it is the whole swarm, and 'big' is not available.
    Were it to leave on that (rules (a), (b) and (c) all seem to hold), it
    would leave without 'big', whose seeder joins a heartbeat later."""
    files = {"big": data(6, 6_000_000), "other": data(7, 40_000)}
    sim = Simulation(SLOW)
    seeder = sim.add_peer({"big": files["big"]}, quiet_s=0.5)
    first = sim.add_peer({"other": files["other"]}, quiet_s=0.5)
    run_until(sim, lambda: sim.now_s >= 1.5, 2)  # 'big' about half-way
    sim.kill_tracker()
    run_until(sim, lambda: sim.now_s >= 2.5, 2)
    sim.start_tracker(lost=[seeder])  # its words went with its connection
    run_until(sim, sim.all_done, 30)
    check_blocks(sim.tracker_blocks, files, [seeder, first])


@pytest.mark.parametrize("lost", [m.Hello, m.Join])
def test_a_hello_or_join_lost_with_the_tracker_is_said_again(lost: type[m.Message]) -> None:
    files = {"a": data(3, 40_000)}
    sim = Simulation(SLOW)
    # It stays a while: alone in the new tracker's swarm, it could leave
    # before the late peer has joined again.
    seeder = sim.add_peer(files, quiet_s=6.0)
    run_until(sim, lambda: seeder.state is not None and seeder.state.phase is Phase.RUNNING, 1)
    late = sim.add_peer({})
    sim.tracker_dies_on = dies_on(lost, late)
    run_until(sim, lambda: not sim.tracker_up, 1)
    sim.tracker_dies_on = lambda _key, _message: False
    run_until(sim, lambda: sim.now_s >= 2.0, 3)
    assert late.state is not None
    assert late.state.phase is (Phase.HELLO if lost is m.Hello else Phase.JOINING)
    sim.start_tracker()
    run_until(sim, sim.all_done, 30)
    check_blocks(sim.tracker_blocks, files, [seeder, late])


def test_peers_give_up_on_a_tracker_that_stays_away_past_their_grace() -> None:
    files = {"big": data(5, 2_400_000)}
    sim = Simulation(SLOW)
    peers = [sim.add_peer(files), sim.add_peer({})]
    run_until(sim, lambda: sim.now_s >= 1.0, 2)
    sim.kill_tracker()
    killed_at = sim.now_s
    run_until(sim, sim.all_done, 30)
    for peer in peers:
        assert peer.state is not None and peer.state.exit_code == 1
        assert any(isinstance(b, display.Shutdown) for b in peer.blocks)
    # The grace counts from the last word heard, a heartbeat's answer at most.
    assert sim.now_s - killed_at >= SLOW.tracker_grace_s - SLOW.heartbeat_interval_s
