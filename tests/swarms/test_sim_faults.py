"""Faults on a peer's own machine, in whole simulated swarms
(tests/swarms/sim.py): a full disk, names taken in Shared by things that are
not shared, files edited or deleted under a running peer, kills and restarts
on the same disk.  Each must end the swarm: every surviving peer leaves on
its own, holding every file it could get, byte for byte, and nobody waits for
what cannot come."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from swarm.config import Settings
from swarm.peer.disk_trouble import FIRST_RETRY_S, MAX_RETRY_S
from swarm.peer.phase import Phase
from swarm.protocol import display
from swarm.protocol.chunks import chunk_count
from swarm.protocol.events import (
    Event,
    Excused,
    ExcuseWithdrawn,
    FileAdded,
    FileDropped,
    FileRemoved,
)
from swarm.protocol.meta import meta_of_bytes
from tests.swarms.sim import MemoryStore, SimPeer, Simulation

SLOW = Settings(upload_limit_bytes_s=1_600_000)  # 3.2 MB (four pieces) take two simulated seconds


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def shutdown_of(peer: SimPeer) -> display.Shutdown:
    (block,) = [b for b in peer.blocks if isinstance(b, display.Shutdown)]
    return block


def peer_id(peer: SimPeer) -> int:
    assert peer.state is not None and peer.state.peer_id is not None
    return peer.state.peer_id


def fetched(sim: Simulation, peer: SimPeer, name: str) -> int:
    """Chunks of ``name`` the tracker has printed as acquired by ``peer`` so far."""
    if peer.state is None or peer.state.peer_id is None:
        return 0
    return len(sim.acquired(peer.state.peer_id, name))


def left_cleanly(peer: SimPeer) -> bool:
    return peer.state is not None and peer.state.exit_code == 0


def events_of(sim: Simulation, kind: type[Event]) -> list[Event]:
    """Every event of one kind the tracker published."""
    return [e for e in sim.published if isinstance(e, kind)]


# --- a full disk ---------------------------------------------------------------------


def test_a_full_disk_excuses_its_peer_and_nobody_waits_for_it() -> None:
    big, small = data(1, 3_200_000), data(2, 3_000)
    sim = Simulation(SLOW)
    seeder = sim.add_peer({"big": big, "small": small})
    full_disk = MemoryStore({})
    full_disk.capacity_bytes = 80_000  # "small" fits, "big" does not
    full = sim.add_peer({}, store=full_disk)
    other = sim.add_peer({})
    sim.run(sim.all_done, limit_s=60)
    assert all(left_cleanly(p) for p in (seeder, full, other))
    assert other.store.shared == {"big": big, "small": small}
    assert full.store.shared == {"small": small}
    assert shutdown_of(full).holds == ["small"]
    assert full.state is not None
    assert full.state.holdings.excused == {"big"}
    # Its partial data stays for a later run; it tried again with backoff,
    # not in a loop: one refused write per try.
    assert [meta.name for meta, _, _ in full_disk.partial.values()] == ["big"]
    tries = 1 + sim.now_s / FIRST_RETRY_S
    assert 1 <= full_disk.refused_writes <= tries
    excused = events_of(sim, Excused)
    assert [(e.peer_id, e.name) for e in excused] == [(peer_id(full), "big")]  # type: ignore[attr-defined]


def test_when_space_returns_the_peer_goes_on_and_is_waited_for_again() -> None:
    big = data(3, 3_200_000)
    sim = Simulation(SLOW)
    seeder = sim.add_peer({"big": big}, quiet_s=3.0)
    full_disk = MemoryStore({})
    full_disk.capacity_bytes = 50_000
    full = sim.add_peer({}, store=full_disk)
    sim.run(lambda: full_disk.refused_writes > 0, limit_s=30)
    full_disk.capacity_bytes = None
    sim.run(sim.all_done, limit_s=60)
    assert left_cleanly(seeder) and left_cleanly(full)
    assert full.store.shared == {"big": big}
    assert full_disk.partial == {}
    assert full_disk.refused_writes == 1, "the kept piece was written on the first try"
    # Excused while the disk refused, then waited for again.
    assert [type(e) for e in sim.published
            if isinstance(e, (Excused, ExcuseWithdrawn))] == [Excused, ExcuseWithdrawn]
    # Nothing was fetched twice: the piece that failed was kept and written later.
    assert sim.acquired(peer_id(full), "big") == list(range(chunk_count(len(big))))


def test_a_finished_file_that_cannot_be_placed_is_placed_when_it_can() -> None:
    doc = data(17, 1_600_000)
    sim = Simulation()
    seeder = sim.add_peer({"doc": doc}, quiet_s=4.0)
    stuck = sim.add_peer({}, quiet_s=4.0)
    stuck.store.read_only_shared = True
    sim.run(lambda: stuck.store.refused_writes > 0, limit_s=30)
    assert stuck.state is not None and stuck.state.holdings.excused == {"doc"}
    assert [meta.name for meta, _, _ in stuck.store.partial.values()] == ["doc"]
    # Not placed, but held: the tracker hears of its chunks with the next
    # batch of reports (a Have), as they did not go with a Complete.
    sim.run(lambda: bool(sim.acquired(peer_id(stuck), "doc")), limit_s=5)
    assert sim.acquired(peer_id(stuck), "doc") == list(range(chunk_count(len(doc))))
    stuck.store.read_only_shared = False
    sim.run(sim.all_done, limit_s=30)
    assert left_cleanly(seeder) and left_cleanly(stuck)
    assert stuck.store.shared == {"doc": doc}
    assert stuck.state.holdings.excused == set()
    assert sim.acquired(peer_id(stuck), "doc") == list(range(chunk_count(len(doc))))


def test_backoff_doubles_up_to_its_cap() -> None:
    big = data(4, 1_600_000)
    sim = Simulation(SLOW)
    seeder = sim.add_peer({"big": big}, quiet_s=120.0)
    full_disk = MemoryStore({})
    full_disk.capacity_bytes = 0
    sim.add_peer({}, store=full_disk, quiet_s=120.0)
    sim.run(lambda: sim.now_s > 100, limit_s=110)
    # 1 + 2 + 4 + 8 + 16 = 31 s, then every 30 s: tries at about 0, 1, 3, 7,
    # 15, 31, 61, 91.
    assert full_disk.refused_writes == 8
    assert seeder.state is not None and not seeder.state.done  # its quiet period runs
    assert MAX_RETRY_S == 30.0


# --- names taken in Shared --------------------------------------------------------------


def test_a_folder_under_a_swarm_name_is_found_before_a_chunk_is_fetched() -> None:
    album, other_file = data(5, 1_600_000), data(6, 1_000)
    sim = Simulation()
    owner = sim.add_peer({"album.zip": album, "notes": other_file})
    blocked_disk = MemoryStore({})
    blocked_disk.blocked = {"album.zip": "a folder"}
    blocked = sim.add_peer({}, store=blocked_disk)
    sim.run(sim.all_done, limit_s=30)
    assert left_cleanly(owner) and left_cleanly(blocked)
    assert blocked.store.shared == {"notes": other_file}
    assert sim.acquired(peer_id(blocked), "album.zip") == []
    assert blocked_disk.partial == {}
    assert shutdown_of(blocked).holds == ["notes"]


def test_a_name_taken_while_fetching_stops_the_fetch_and_excuses_the_peer() -> None:
    album = data(7, 3_200_000)
    sim = Simulation(SLOW)
    owner = sim.add_peer({"album.zip": album})
    fetcher = sim.add_peer({})
    sim.run(lambda: fetched(sim, fetcher, "album.zip") > 0, limit_s=30)
    fetcher.store.blocked["album.zip"] = "a symbolic link to nothing"
    sim.run(sim.all_done, limit_s=30)
    assert left_cleanly(owner) and left_cleanly(fetcher)
    assert fetcher.store.shared == {}
    assert fetcher.store.partial == {}
    got = len(sim.acquired(peer_id(fetcher), "album.zip"))
    assert 0 < got < chunk_count(len(album)), "it stopped fetching once it saw the link"


# --- files edited or deleted under a running peer -------------------------------------------


def test_an_edited_file_held_nowhere_else_is_removed_and_its_new_version_spreads() -> None:
    old, new = data(8, 3_200_000), data(9, 2_400_000)
    sim = Simulation(SLOW)
    # Quiet periods long enough for the new version, offered once it has
    # stopped changing, to be announced before anyone may leave.
    owner = sim.add_peer({"doc": old}, quiet_s=5.0)
    fetchers = [sim.add_peer({}, quiet_s=5.0), sim.add_peer({}, quiet_s=5.0)]
    sim.run(lambda: sim.now_s > 0.5, limit_s=5)
    sim.edit(owner, "doc", new)
    sim.run(sim.all_done, limit_s=60)
    assert all(left_cleanly(p) for p in (owner, *fetchers))
    for fetcher in fetchers:
        assert fetcher.store.shared == {"doc": new}
        assert fetcher.store.partial == {}, "what was fetched of the old version is dropped"
    assert [e.name for e in events_of(sim, FileRemoved)] == ["doc"]  # type: ignore[attr-defined]
    added = [e.file.digest for e in events_of(sim, FileAdded)]  # type: ignore[attr-defined]
    assert added == [meta_of_bytes("doc", old).digest, meta_of_bytes("doc", new).digest]


def test_an_edited_file_with_another_holder_is_finished_from_it() -> None:
    old, new = data(10, 3_200_000), data(11, 3_200_000)
    sim = Simulation(SLOW)
    owner = sim.add_peer({"doc": old})
    second = sim.add_peer({"doc": old})
    fetcher = sim.add_peer({})
    sim.run(lambda: sim.now_s > 0.5, limit_s=5)
    sim.edit(owner, "doc", new)
    sim.run(sim.all_done, limit_s=60)
    assert all(left_cleanly(p) for p in (owner, second, fetcher))
    assert fetcher.store.shared == {"doc": old}
    assert owner.store.shared == {"doc": new}, "its new content stays, not shared"
    assert owner.state is not None and "doc" in owner.state.holdings.excused
    assert events_of(sim, FileRemoved) == []
    dropped = events_of(sim, FileDropped)
    assert [(e.peer_id, e.name) for e in dropped] == [(peer_id(owner), "doc")]  # type: ignore[attr-defined]


def test_a_deleted_file_held_nowhere_else_is_waited_for_by_nobody() -> None:
    doc, keep = data(12, 3_200_000), data(13, 500)
    sim = Simulation(SLOW)
    owner = sim.add_peer({"doc": doc, "keep": keep})
    fetcher = sim.add_peer({})
    sim.run(lambda: sim.now_s > 0.5, limit_s=5)
    sim.edit(owner, "doc", None)
    sim.run(sim.all_done, limit_s=30)
    assert left_cleanly(owner) and left_cleanly(fetcher)
    assert fetcher.store.shared == {"keep": keep}
    assert fetcher.store.partial == {}
    assert shutdown_of(owner).holds == ["keep"]


def test_a_file_edited_between_scans_is_caught_when_it_is_read_for_a_peer() -> None:
    old, new = data(14, 3_200_000), data(15, 3_200_000)
    sim = Simulation(Settings(upload_limit_bytes_s=400_000, scan_interval_s=1000.0))
    owner = sim.add_peer({"doc": old})
    fetcher = sim.add_peer({})
    sim.run(lambda: sim.now_s > 0.5, limit_s=5)
    sim.edit(owner, "doc", new)  # no scan will see it: only reads can
    sim.run(sim.all_done, limit_s=30)
    assert left_cleanly(owner) and left_cleanly(fetcher)
    assert fetcher.store.shared == {}
    assert fetcher.state is not None and fetcher.state.fetcher.plan.bad_pieces == 0
    assert [e.name for e in events_of(sim, FileRemoved)] == ["doc"]  # type: ignore[attr-defined]


# --- kills and restarts on the same disk --------------------------------------------------------


def test_a_restarted_peer_fetches_only_what_its_partial_file_lacks() -> None:
    big = data(16, 6_400_000)
    sim = Simulation(SLOW)
    seeder = sim.add_peer({"big": big}, quiet_s=2.0)
    fetcher = sim.add_peer({})
    sim.run(lambda: fetched(sim, fetcher, "big") > 200, limit_s=30)
    ((meta, kept),) = fetcher.store.load_partials()
    kept_chunks = {c for piece in kept for c in range(*meta.layout.piece_chunk_range(piece))}
    assert len(kept_chunks) > 200
    again = sim.restart(fetcher)  # its old self has not expired yet
    sim.run(sim.all_done, limit_s=60)
    assert left_cleanly(seeder) and left_cleanly(again)
    assert again.store.shared == {"big": big}
    fetched_again = set(sim.acquired(peer_id(again), "big", brought=False))
    assert not fetched_again & kept_chunks, "every piece stored before the kill was kept"
    assert fetched_again | kept_chunks == set(range(chunk_count(len(big))))
    # What it kept is shown under its new id, as it joins: each id on its own.
    assert sim.acquired(peer_id(again), "big", brought=True) == sorted(kept_chunks)
    assert sim.acquired(peer_id(again), "big") == list(range(chunk_count(len(big))))


def test_a_partial_file_whose_file_changed_while_its_peer_was_dead_is_dropped() -> None:
    big, small, new_big = data(18, 6_400_000), data(19, 3_000), data(20, 5_000)
    sim = Simulation(SLOW)
    owner = sim.add_peer({"big": big, "small": small}, quiet_s=10.0)
    fetcher = sim.add_peer({})
    sim.run(lambda: fetched(sim, fetcher, "big") > 200, limit_s=30)
    sim.kill(fetcher)
    sim.edit(owner, "big", new_big)  # the swarm drops the old "big" and takes the new one
    new_digest = meta_of_bytes("big", new_big).digest
    sim.run(lambda: (record := sim.tracker.registry.files.get("big")) is not None
            and record.meta.digest == new_digest, limit_s=30)
    again = sim.restart(fetcher)  # its partial file of the old "big" comes with it
    sim.run(sim.all_done, limit_s=60)
    assert left_cleanly(owner) and left_cleanly(again)
    assert again.store.shared == {"big": new_big, "small": small}
    assert again.store.partial == {}, "no partial data is left for a later start"


# --- liveness, over many random swarms and faults -------------------------------------------

NAMES = ("a", "b", "c")
FAULTS = ("disk_full", "space_returns", "edit", "delete", "take_name", "restart", "kill")
SETTLE_S = 60.0  # every survivor leaves within this long after the last fault


@dataclass(frozen=True)
class Fault:
    kind: str
    peer: int  # index into the swarm's peers at the time
    at_s: float
    seed: int  # new content, capacity, name: whatever the fault needs


@dataclass(frozen=True)
class FaultPlan:
    files: list[dict[str, int]]  # per peer: name -> content seed
    faults: list[Fault]
    seed: int


@st.composite
def fault_plans(draw: st.DrawFn) -> FaultPlan:
    count = draw(st.integers(2, 4))
    files = draw(st.lists(st.dictionaries(st.sampled_from(NAMES), st.integers(0, 9),
                                          max_size=2), min_size=count, max_size=count))
    faults = draw(st.lists(st.builds(
        Fault, st.sampled_from(FAULTS), st.integers(0, count - 1), st.floats(0.0, 2.0),
        st.integers(0, 2**16)), min_size=1, max_size=3))
    return FaultPlan(files, sorted(faults, key=lambda f: f.at_s), draw(st.integers(0, 2**16)))


def content_of(seed: int) -> bytes:
    """Sizes from empty to a few pieces; the seed is the first byte, so two
    seeds never give the same file."""
    size = (0, 1, 700, 90_000, 250_000)[seed % 5]
    return bytes([seed % 256])[:size] + random.Random(seed).randbytes(size)[1:]


def apply_fault(sim: Simulation, current: list[SimPeer], fault: Fault) -> None:
    peer = current[fault.peer]
    if not peer.alive or peer.state is None or peer.state.phase in (Phase.LEAVING, Phase.DONE):
        return  # (a peer whose goodbye is taken has left, as far as the swarm goes)
    store, rng = peer.store, random.Random(fault.seed)
    if fault.kind == "disk_full":
        store.capacity_bytes = store.used_bytes + rng.choice((0, 1000, 40_000))
    elif fault.kind == "space_returns":
        store.capacity_bytes = None
    elif fault.kind in ("edit", "delete") and store.shared:
        name = rng.choice(sorted(store.shared))
        sim.edit(peer, name, content_of(100 + fault.seed % 50) if fault.kind == "edit" else None)
    elif fault.kind == "take_name":
        lacking = sorted(set(sim.tracker.registry.files) - set(store.shared))
        if lacking:
            store.blocked[rng.choice(lacking)] = rng.choice(("a folder", "a symbolic link"))
    elif fault.kind == "restart":
        current[fault.peer] = sim.restart(peer)
    elif fault.kind == "kill":
        sim.kill(peer)


def check_liveness(sim: Simulation, survivors: list[SimPeer]) -> None:
    ever_added = {e.file.digest for e in sim.published if isinstance(e, FileAdded)}
    for peer in survivors:
        assert left_cleanly(peer), f"peer {peer.index} did not leave on its own"
        assert peer.state is not None
        holds = shutdown_of(peer).holds
        assert set(holds) <= set(peer.store.shared)
        for name, content in peer.store.shared.items():
            if meta_of_bytes(name, content).digest in ever_added:
                continue  # byte for byte a version the swarm had
            # Else bytes of its own: brought, refused, or edited in and not
            # offered yet (rule (c) may end a stay before a file stops changing).
            own = name in peer.state.holdings.local or name in peer.state.holdings.excused
            assert own or name not in holds, f"peer {peer.index}: stray {name!r}"
        # Rule (a), as the tracker applied it through every withdrawal and
        # excuse: when it let this peer go, every other peer held each swarm
        # file this one held, or was excused from it.
        gone = sim.departures[peer.key]
        for name in holds:
            if gone.files.get(name) != meta_of_bytes(name, peer.store.shared[name]).digest:
                continue  # not the swarm's file: nobody had to take it
            for other, (complete, excused) in gone.peers.items():
                assert name in complete or name in excused, (
                    f"peer {peer.index} left while peer {other} lacked {name!r}")
    for peer in survivors:  # a refused write is tried again after a backoff, never in a loop
        assert peer.store.refused_writes <= 2 + sim.now_s / FIRST_RETRY_S


@settings(deadline=None, derandomize=True, database=None, max_examples=400,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(fault_plans())
# Two answers under the upload limit in one batch, the file edited: the first
# read finds it changed, the second asks for a file no longer served.
@example(FaultPlan(files=[{}, {"a": 2}, {"a": 2, "b": 1}], faults=[Fault("edit", 2, 0.0, 0)],
                   seed=0))
def test_every_survivor_leaves_after_the_last_fault(plan: FaultPlan) -> None:
    sim = Simulation(Settings(upload_limit_bytes_s=100_000), seed=plan.seed)
    current = [sim.add_peer({n: content_of(s) for n, s in files.items()}, quiet_s=2.0)
               for files in plan.files]
    for fault in plan.faults:
        sim.run(lambda f=fault: sim.all_done() or sim.now_s >= f.at_s,  # type: ignore[misc]
                fault.at_s + 1.0)
        apply_fault(sim, current, fault)
        event(f"fault {fault.kind} applied")
    last_s = max([sim.now_s, *(f.at_s for f in plan.faults)])
    sim.run(sim.all_done, last_s + SETTLE_S)
    check_liveness(sim, [p for p in current if p.alive])
    for kind in (Excused, ExcuseWithdrawn, FileDropped, FileRemoved):
        if any(isinstance(e, kind) for e in sim.published):
            event(f"published {kind.__name__}")
    if any(p.store.refused_writes for p in sim.peers):
        event("a write was refused")
