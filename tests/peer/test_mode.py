"""A peer's modes: a get fetches what it names and leaves once it holds it; a
seed fetches nothing and leaves by rule (a); no peer waits for either.  Pure
``Mode`` checks, then whole simulated swarms (fake wire, fake clock)."""

from __future__ import annotations

import random

from swarm.peer.actions import ToTracker
from swarm.peer.mode import Mode
from swarm.peer.state import PeerState
from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.chunks import chunk_count
from swarm.protocol.message_parts import FileSummary
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.protocol.output import Show
from swarm.protocol.roles import ROLE_PEER, ROLE_SEED
from tests.peer.test_state import lone_peer
from tests.swarms.sim import SimPeer, Simulation


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


A = data(1, 70_000)
B = data(2, 40_000)
META_A = meta_of_bytes("a.bin", A)
META_B = meta_of_bytes("b.bin", B)


def summary(meta: FileMeta, available: bool = True) -> FileSummary:
    return FileSummary(meta.name, meta.size_bytes, meta.digest, available)


# --- Mode alone ---------------------------------------------------------------------------


def test_what_each_mode_fetches() -> None:
    get = Mode.get({"a.bin": META_A.digest})
    assert Mode().fetches(summary(META_B))
    assert get.fetches(summary(META_A)) and not get.fetches(summary(META_B))
    other_a = meta_of_bytes("a.bin", b"other content")
    assert not get.fetches(summary(other_a))  # the name, but not the content it asked for
    assert not Mode.seed().fetches(summary(META_A))


def test_a_get_knows_when_it_cannot_finish() -> None:
    get = Mode.get({"a.bin": META_A.digest})
    assert get.cannot_have({"a.bin": summary(META_A)}, {}) is None
    assert get.cannot_have({}, {}) == "'a.bin' is no longer in the swarm"
    assert get.cannot_have({"a.bin": summary(META_A, available=False)}, {}) == (
        "'a.bin' is not available: no living peer holds all of it")
    # Once it holds the file, nothing the swarm does matters to it.
    assert get.cannot_have({}, {"a.bin": META_A}) is None
    assert get.blockers({"a.bin": META_A}, None) == []
    assert get.blockers({}, None) == ["still fetching 'a.bin'"]


def test_a_seed_stays_until_rule_a_holds_or_forever() -> None:
    seed = Mode.seed()
    assert seed.blockers({}, None) == ["no word from the tracker yet on rule (a)"]
    assert seed.blockers({}, m.LeaveStatus(False, "1 peer still lacks 'a.bin'")) == [
        "1 peer still lacks 'a.bin'"]
    assert seed.blockers({}, m.LeaveStatus(True, "")) == []
    assert Mode.seed(forever=True).blockers({}, m.LeaveStatus(True, "")) == [
        "seeding until stopped"]


def join_of(state: PeerState) -> m.Join:
    state.start()
    actions = state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 0.1)
    (join,) = [a.message for a in actions
               if isinstance(a, ToTracker) and isinstance(a.message, m.Join)]
    return join


def test_the_join_says_the_role() -> None:
    assert join_of(lone_peer()).role == ROLE_PEER
    assert join_of(lone_peer(mode=Mode.seed())).role == ROLE_SEED


# --- whole swarms -----------------------------------------------------------------------------


def blocks_of(sim: Simulation, peer: SimPeer) -> list[display.Block]:
    assert peer.state is not None and peer.state.peer_id is not None
    pid = peer.state.peer_id
    return [b for b in sim.tracker_blocks if getattr(b, "peer_id", None) == pid]


def test_a_get_takes_only_its_file_and_nobody_waits_for_it() -> None:
    sim = Simulation()
    holder_a = sim.add_peer({"a.bin": A}, quiet_s=1.0)
    holder_b = sim.add_peer({"b.bin": B}, quiet_s=1.0)
    sim.run(lambda: all(p.store.shared.keys() == {"a.bin", "b.bin"}
                        for p in (holder_a, holder_b)), limit_s=10)
    get = sim.add_peer({}, mode=Mode.get({"a.bin": META_A.digest}))
    sim.run(sim.all_done, limit_s=20)
    assert get.state is not None and get.state.exit_code == 0
    assert get.store.shared == {"a.bin": A}  # never fetched b.bin
    # No SHUTDOWN block: a get keeps its stdout for the paths it writes.
    assert not [b for b in get.blocks if isinstance(b, display.Shutdown)]
    pid = get.state.peer_id
    assert pid is not None
    assert sim.acquired(pid, "a.bin") == list(range(chunk_count(len(A))))
    assert display.Disconnect(pid, ["a.bin"]) in blocks_of(sim, get)
    for holder in (holder_a, holder_b):
        assert holder.state is not None and holder.state.exit_code == 0


def test_peers_leave_while_a_get_still_lacks_their_other_file() -> None:
    sim = Simulation()
    holder = sim.add_peer({"a.bin": A, "b.bin": B}, quiet_s=0.5)
    get = sim.add_peer({}, mode=Mode.get({"a.bin": META_A.digest}))
    sim.run(lambda: holder.state is not None and holder.state.done, limit_s=10)
    assert holder.state is not None and holder.state.exit_code == 0
    assert "b.bin" not in get.store.shared


def test_a_get_of_a_file_nobody_covers_gives_up_with_exit_1() -> None:
    sim = Simulation()
    holder = sim.add_peer({"a.bin": A}, quiet_s=30.0)
    sim.run(lambda: sim.now_s > 0.5, limit_s=1)
    sim.kill(holder)
    sim.run(lambda: sim.now_s > 5.0, limit_s=6)  # the tracker expires it: a.bin is lost
    get = sim.add_peer({}, mode=Mode.get({"a.bin": META_A.digest}))
    sim.run(lambda: get.state is not None and get.state.done, limit_s=20)
    assert get.state is not None and get.state.exit_code == 1
    pid = get.state.peer_id
    assert pid is not None
    assert display.Disconnect(pid, []) in blocks_of(sim, get)  # a goodbye, not an expiry


def test_a_seed_hands_its_file_on_and_leaves_without_a_quiet_period() -> None:
    sim = Simulation()
    seed = sim.add_peer({"a.bin": A}, quiet_s=60.0, mode=Mode.seed())
    sim.run(lambda: sim.now_s > 1.0, limit_s=2)
    assert seed.state is not None and not seed.state.done  # nobody to hand it to yet
    peer = sim.add_peer({"b.bin": B}, quiet_s=1.0)
    sim.run(sim.all_done, limit_s=20)
    assert seed.state.exit_code == 0 and peer.state is not None and peer.state.exit_code == 0
    assert seed.store.shared == {"a.bin": A}  # fetched nothing
    assert peer.store.shared == {"a.bin": A, "b.bin": B}
    pid = seed.state.peer_id
    assert pid is not None
    assert blocks_of(sim, seed)[0] == display.Connect(pid, [("a.bin", chunk_count(len(A)))])
    assert display.Disconnect(pid, []) in blocks_of(sim, seed)
    assert not [b for b in seed.blocks if isinstance(b, display.Shutdown)]


def test_a_forever_seed_leaves_only_on_a_signal() -> None:
    sim = Simulation()
    seed = sim.add_peer({"a.bin": A}, mode=Mode.seed(forever=True))
    peer = sim.add_peer({}, quiet_s=0.5)
    sim.run(lambda: peer.state is not None and peer.state.done, limit_s=20)
    sim.run(lambda: sim.now_s > peer.state.quiet.quiet_until() + 5, limit_s=30)  # type: ignore[union-attr]
    assert seed.state is not None and not seed.state.done
    actions = seed.state.request_shutdown(sim.now_s)
    assert any(isinstance(a, ToTracker) and isinstance(a.message, m.Goodbye) for a in actions)
    assert not any(isinstance(a, Show) for a in actions)
