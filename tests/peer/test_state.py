"""PeerState: alone, values in and actions out; and with a TrackerState and
other peers, whole swarms on a fake wire and a fake clock, no sockets, no
disk."""

from __future__ import annotations

import random

import pytest

from swarm.config import Settings
from swarm.peer.actions import (
    DropPartial,
    Reply,
    SendChunks,
    ServeFile,
    StartPartial,
    Subscribe,
    ToPeer,
    ToTracker,
)
from swarm.peer.fetcher import MAX_ACTIVE_DOWNLOADS
from swarm.peer.mode import Mode
from swarm.peer.phase import TRANSITIONS, IllegalTransition, Phase
from swarm.peer.state import PeerState
from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.chunks import chunk_count
from swarm.protocol.events import FileAdded
from swarm.protocol.message_parts import FileSummary, HolderRanges
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.protocol.output import Level, Show
from swarm.protocol.peer_messages import ChunkData, ChunkRefused, ChunkRequest
from tests.peer.said import said
from tests.swarms.sim import SimPeer, Simulation


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def shutdown_of(peer: SimPeer) -> display.Shutdown:
    (block,) = [b for b in peer.blocks if isinstance(b, display.Shutdown)]
    return block


def check_complete(sim: Simulation, everything: dict[str, bytes], peers: list[SimPeer]) -> None:
    for peer in peers:
        assert peer.state is not None
        assert peer.state.exit_code == 0
        assert peer.store.shared == everything
        assert shutdown_of(peer).holds == sorted(everything)
        peer_id = peer.state.peer_id
        assert peer_id is not None
        for name, content in everything.items():
            got = sim.acquired(peer_id, name)
            if got:  # fetched from the swarm (a file it brought has no ACQUIRED line)
                assert got == list(range(chunk_count(len(content)))), (peer_id, name)


def test_three_peers_share_everything_and_leave() -> None:
    sim = Simulation()
    files = [{"a": data(1, 70_000)}, {"b": data(2, 513), "empty": b""}, {}]
    peers = [sim.add_peer(f) for f in files]
    sim.run(sim.all_done, limit_s=30)
    everything = {k: v for f in files for k, v in f.items()}
    check_complete(sim, everything, peers)
    disconnects = [b for b in sim.tracker_blocks if isinstance(b, display.Disconnect)]
    assert sorted(b.peer_id for b in disconnects) == [1, 2, 3]
    assert {b.peer_id: list(b.received) for b in disconnects}[3] == ["a", "b", "empty"]


def test_no_peer_leaves_before_quiet_period() -> None:
    sim = Simulation()
    a = sim.add_peer({"a": data(3, 1000)}, quiet_s=5.0)
    b = sim.add_peer({"b": data(4, 1000)}, quiet_s=5.0)
    sim.run(lambda: all(p.store.shared.keys() == {"a", "b"} for p in (a, b)), limit_s=5)
    assert sim.now_s < 5.0
    assert not a.state.done and not b.state.done  # type: ignore[union-attr]
    sim.run(sim.all_done, limit_s=10)
    assert sim.now_s >= 5.0


def test_a_late_file_extends_everyones_stay() -> None:
    sim = Simulation()
    early = [sim.add_peer({"e1": data(5, 2000)}, quiet_s=2.0),
             sim.add_peer({"e2": data(6, 2000)}, quiet_s=2.0)]
    sim.run(lambda: sim.now_s >= 1.5, limit_s=2)
    late = sim.add_peer({"late": data(7, 3000)}, quiet_s=2.0)
    sim.run(sim.all_done, limit_s=10)
    assert sim.now_s >= 3.5  # the late file reset the clocks at t=1.5
    check_complete(sim, {"e1": data(5, 2000), "e2": data(6, 2000), "late": data(7, 3000)},
                   [*early, late])


def test_a_long_download_asks_for_holders_less_often_when_nothing_changes() -> None:
    big = data(21, 2_000_000)
    sim = Simulation(Settings(upload_limit_bytes_s=100_000))  # twenty seconds
    seeder = sim.add_peer({"big.bin": big})
    fetcher = sim.add_peer({})
    sim.run(sim.all_done, limit_s=60)
    assert fetcher.store.shared == {"big.bin": big} and seeder.store.shared == {"big.bin": big}
    # Asked at 0, then after 1, 2, 4 and every 8 s: a handful of questions,
    # where a refresh every second would have asked twenty times.
    assert sim.tracker_requests["HoldersQuery"] <= 7, sim.tracker_requests


def test_a_download_starts_from_the_holders_its_meta_came_with() -> None:
    """One question to the tracker per file fetched: the meta's answer
    names the holders, so the requests go out without asking again."""
    meta = meta_of_bytes("f.bin", data(23, 3 << 20))  # three pieces
    state = PeerState(Settings().peer_settings(), 1.0, [], [], {}, 20001, 0.0,
                      random.Random(1))
    state.start()
    state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 0.1)
    summary = FileSummary(meta.name, meta.size_bytes, meta.digest, True)
    asked = state.on_tracker(m.Welcome(3, m.Snapshot(1, (summary,)), ()), 0.2)
    assert [a.message for a in asked if isinstance(a, ToTracker)
            and isinstance(a.message, m.MetaQuery)] == [m.MetaQuery(meta.digest)]
    holders = tuple(HolderRanges(pid, f"tcp://127.0.0.1:{5000 + pid}", (0, meta.chunks))
                    for pid in (5, 6))
    actions = state.on_tracker(m.MetaReply(meta, holders), 0.3) + state.flush(0.3)
    requested = {a.peer_id for a in actions
                 if isinstance(a, ToPeer) and isinstance(a.message, ChunkRequest)}
    assert requested == {5, 6}
    assert not [a for a in actions if isinstance(a, ToTracker)
                and isinstance(a.message, m.HoldersQuery)], "nothing asked twice"


def test_swarm_peers_ask_and_tell_the_tracker_once_per_file_they_fetch() -> None:
    files = {f"f{i}.bin": data(30 + i, 200_000) for i in range(4)}
    sim = Simulation()
    peers = [sim.add_peer({name: content}) for name, content in files.items()]
    sim.run(sim.all_done, limit_s=30)
    check_complete(sim, files, peers)
    assert sim.tracker_requests["MetaQuery"] == 4 * 3, sim.tracker_requests
    assert sim.tracker_requests["HoldersQuery"] == 0, sim.tracker_requests
    # And one report: a file of one piece is whole as that piece is stored,
    # so its chunks go with the Complete.
    assert sim.tracker_requests["Complete"] == 4 * 3, sim.tracker_requests
    assert sim.tracker_requests["Have"] == 0, sim.tracker_requests


def test_a_peer_fetches_a_few_files_at_a_time_and_gets_them_all() -> None:
    files = {f"f{i:02d}.bin": data(100 + i, 300_000) for i in range(20)}
    sim = Simulation(Settings(upload_limit_bytes_s=2_000_000))
    sim.add_peer(files)
    fetcher = sim.add_peer({})
    most = 0
    while not sim.all_done():
        assert sim.now_s < 60, "still running"
        sim.step()
        assert fetcher.state is not None
        most = max(most, len(fetcher.state.fetcher.plan.downloads))
    assert fetcher.store.shared == files
    assert most == MAX_ACTIVE_DOWNLOADS


def test_downloads_whose_holders_are_gone_do_not_keep_other_files_waiting() -> None:
    stranded = {f"s{i}.bin": data(200 + i, 1_200_000) for i in range(MAX_ACTIVE_DOWNLOADS)}
    sim = Simulation(Settings(upload_limit_bytes_s=100_000))
    holder = sim.add_peer(stranded)
    fetcher = sim.add_peer({})
    sim.run(lambda: fetcher.state is not None
            and len(fetcher.state.fetcher.plan.downloads) == MAX_ACTIVE_DOWNLOADS, limit_s=10)
    sim.kill(holder)  # every slot now holds a file nobody can supply
    late = data(300, 5_000)
    sim.add_peer({"late.bin": late})
    sim.run(sim.all_done, limit_s=60)
    assert fetcher.store.shared == {"late.bin": late}


@pytest.mark.parametrize("seed", range(5))
def test_lost_events_are_repaired_by_resync(seed: int) -> None:
    sim = Simulation(seed=seed)
    rng = random.Random(seed)
    sim.drop_event = lambda _event: rng.random() < 0.3
    files = [{f"f{i}": data(10 + i, 5000 * (i + 1))} for i in range(4)]
    peers = [sim.add_peer(f) for f in files]
    sim.run(sim.all_done, limit_s=60)
    assert sim.events_dropped > 0
    check_complete(sim, {k: v for f in files for k, v in f.items()}, peers)


def test_losing_only_the_last_event_is_noticed_by_heartbeat() -> None:
    sim = Simulation()
    a = sim.add_peer({"a": data(20, 1000)}, quiet_s=1.0)
    sim.run(lambda: sim.now_s > 0.5, limit_s=1)
    dropped: list[int] = []

    def drop_new_file_for_a(event: object) -> bool:
        if isinstance(event, FileAdded) and not dropped:
            dropped.append(event.seq)
            return True
        return False

    sim.drop_event = drop_new_file_for_a
    b = sim.add_peer({"b": data(21, 1000)}, quiet_s=1.0)
    sim.run(sim.all_done, limit_s=10)
    assert dropped
    check_complete(sim, {"a": data(20, 1000), "b": data(21, 1000)}, [a, b])


def test_corrupting_peer_is_banned_and_data_comes_from_others() -> None:
    sim = Simulation(seed=3)
    content = data(30, 300_000)
    good = sim.add_peer({"x": content})
    bad = sim.add_peer({"x": content})
    bad.store.corrupt_reads = True
    fetchers = [sim.add_peer({}), sim.add_peer({})]
    sim.run(lambda: all(f.state.done for f in fetchers), limit_s=60)  # type: ignore[union-attr]
    for fetcher in fetchers:
        assert fetcher.store.shared == {"x": content}
    assert any(
        f.state.plan.bad_pieces > 0 for f in fetchers  # type: ignore[union-attr]
    ), "the corrupting peer was asked at least once"
    assert good.state is not None


def test_killed_seeder_others_finish_from_remaining_holder() -> None:
    sim = Simulation(seed=4)
    content = data(40, 500_000)
    doomed = sim.add_peer({"x": content})
    sim.add_peer({"x": content})
    fetchers = [sim.add_peer({}), sim.add_peer({})]
    sim.run(lambda: sim.now_s > 0.05, limit_s=1)
    sim.kill(doomed)

    def expired() -> bool:
        return any(isinstance(b, display.Disconnect) and b.peer_id == 1 for b in sim.tracker_blocks)

    sim.run(lambda: sim.all_done() and expired(), limit_s=30)
    for fetcher in fetchers:
        assert fetcher.store.shared == {"x": content}


def test_tracker_silence_makes_peers_give_up() -> None:
    settings = Settings(tracker_grace_s=2.0)
    sim = Simulation(settings)
    a = sim.add_peer({"a": data(50, 100)}, quiet_s=100)
    sim.run(lambda: sim.now_s > 0.5, limit_s=1)
    sim.tracker.handle = lambda *args, **kw: sim.tracker.expire(-1)  # type: ignore[method-assign]
    sim.run(sim.all_done, limit_s=5)
    assert a.state is not None and a.state.exit_code == 1
    assert shutdown_of(a).holds == ["a"]


def test_same_name_other_content_is_excused_and_everyone_leaves() -> None:
    sim = Simulation()
    first = sim.add_peer({"same": b"one"})
    sim.run(lambda: sim.now_s > 0.2, limit_s=1)
    second = sim.add_peer({"same": b"two", "other": b"three"})
    third = sim.add_peer({})
    sim.run(sim.all_done, limit_s=20)
    assert first.store.shared == {"same": b"one", "other": b"three"}
    assert second.store.shared == {"same": b"two", "other": b"three"}
    assert third.store.shared == {"same": b"one", "other": b"three"}
    assert all(p.state is not None and p.state.exit_code == 0 for p in (first, second, third))


def test_signal_leaves_at_once_even_when_rules_do_not_hold() -> None:
    sim = Simulation()
    a = sim.add_peer({"a": data(60, 100)}, quiet_s=100)
    sim.run(lambda: a.state is not None and a.state.phase is Phase.RUNNING, limit_s=1)
    assert a.state is not None
    a.run(a.state.request_shutdown(sim.now_s))
    sim.run(sim.all_done, limit_s=3)
    assert a.state.exit_code == 0
    assert any(isinstance(b, display.Disconnect) for b in sim.tracker_blocks)


def test_a_peer_behind_nat_is_reached_by_connection_reversal() -> None:
    sim = Simulation(seed=5)
    public_file = data(70, 200_000)
    hidden_file = data(71, 150_000)
    public = sim.add_peer({"public.bin": public_file})
    hidden = sim.add_peer({"hidden.bin": hidden_file}, reachable=False)
    sim.run(sim.all_done, limit_s=30)
    everything = {"public.bin": public_file, "hidden.bin": hidden_file}
    check_complete(sim, everything, [public, hidden])
    assert public.state is not None and hidden.state is not None
    hidden_id = hidden.state.peer_id
    assert hidden_id in public.state.links.reversals.routes  # its chunks came over its connection


def test_two_peers_behind_nat_cannot_reach_each_other() -> None:
    sim = Simulation(seed=6)
    a = sim.add_peer({"a.bin": data(72, 50_000)}, reachable=False, quiet_s=1.0)
    b = sim.add_peer({"b.bin": data(73, 50_000)}, reachable=False, quiet_s=1.0)
    sim.run(lambda: sim.now_s > 5.0, limit_s=6)
    # Neither can serve the other: both still wait, holding only their own file.
    assert a.store.shared.keys() == {"a.bin"} and b.store.shared.keys() == {"b.bin"}
    assert not a.state.done and not b.state.done  # type: ignore[union-attr]
    # A reachable peer joining brings both files to both.
    relay = sim.add_peer({})
    sim.run(sim.all_done, limit_s=30)
    assert a.store.shared.keys() == b.store.shared.keys() == relay.store.shared.keys() \
        == {"a.bin", "b.bin"}


# --- the state alone: values in, actions out ------------------------------------------


def lone_peer(local: list[FileMeta] | None = None, mode: Mode | None = None) -> PeerState:
    return PeerState(Settings().peer_settings(), 1.0, local or [], [], {}, 20001, 0.0,
                     random.Random(1), mode)


def test_a_peer_says_hello_then_subscribes_before_it_joins() -> None:
    doc = meta_of_bytes("doc", b"hello")
    state = lone_peer([doc])
    assert state.start() == [ServeFile(doc), ToTracker(m.Hello(m.PROTOCOL_VERSION))]
    actions = state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 0.1)
    assert actions == [Subscribe(5556),
                       ToTracker(m.Join(m.PROTOCOL_VERSION, 20001, (doc,), ()))]
    assert state.phase is Phase.JOINING


def test_phases_change_only_along_the_table() -> None:
    state = lone_peer()
    state.start()
    # A welcome before the hello reply is no transition at all: ignored.
    snapshot = m.Snapshot(0, ())
    assert state.on_tracker(m.Welcome(3, snapshot, ()), 0.0) == []
    assert state.phase is Phase.HELLO
    with pytest.raises(IllegalTransition, match="hello -> running"):
        state._set_phase(Phase.RUNNING)
    for phase, allowed in TRANSITIONS.items():
        assert phase not in allowed, "a phase does not move to itself"
    assert TRANSITIONS[Phase.DONE] == frozenset()


def test_a_signal_before_joining_ends_at_once_with_id_zero() -> None:
    state = lone_peer()
    state.start()
    actions = state.request_shutdown(0.5)
    assert Show(display.Shutdown(0, [])) in actions
    assert state.phase is Phase.DONE and state.exit_code == 0
    assert state.on_timer(1.0) == [] and state.on_tracker(m.Pong(1), 1.0) == []


def test_a_chunk_request_is_answered_by_an_action_that_reads() -> None:
    doc = meta_of_bytes("doc", bytes(range(256)) * 4)  # 1024 bytes, 2 chunks
    state = lone_peer([doc])
    state.start()
    actions = state.on_request(b"route", ChunkRequest(7, doc.digest, 1, 1), 0.0)
    assert actions == [SendChunks(b"route", ChunkData(7, doc.digest, 1, 1), 512, 512)]
    refused = state.on_request(b"route", ChunkRequest(8, doc.digest, 2, 1), 0.0)
    assert refused == [Reply(b"route", ChunkRefused(8, "chunks out of range"))]


def test_a_partial_file_the_welcome_does_not_list_is_dropped() -> None:
    # Three downloads an earlier run left: one whose file the swarm still
    # has (or took from our Join), one whose file was changed while this
    # peer was down, one whose file was removed.
    kept = meta_of_bytes("kept", data(40, 1_200_000))
    changed = meta_of_bytes("changed", data(41, 1_200_000))
    removed = meta_of_bytes("removed", data(42, 1_200_000))
    changed_now = meta_of_bytes("changed", data(43, 1000))
    state = PeerState(Settings().peer_settings(), 1.0, [],
                      [(kept, [0]), (changed, [1]), (removed, [])], {}, 20001, 0.0,
                      random.Random(1))
    state.start()
    state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 0.0)
    listed = tuple(FileSummary(f.name, f.size_bytes, f.digest, True) for f in (kept, changed_now))
    actions = state.on_tracker(m.Welcome(2, m.Snapshot(3, listed), ()), 0.1)
    drops = [a for a in actions if isinstance(a, DropPartial)]
    assert drops == [DropPartial(changed.digest), DropPartial(removed.digest)]
    assert said(actions, Level.INFO)[1:3] == [
        "dropping what was fetched of 'changed': the swarm no longer has it",
        "dropping what was fetched of 'removed': the swarm no longer has it"]
    assert StartPartial(kept) in actions  # taken up, with the piece it brings
    assert list(state.partials.by_digest) == [kept.digest]
    assert [offer.meta for offer in state.session.join_message().partials] == [kept]


@pytest.mark.parametrize("watched", [True, False])
def test_only_a_watched_peer_asks_who_it_waits_for(watched: bool) -> None:
    sim = Simulation()
    sim.add_peer({"a": data(31, 300_000)}, quiet_s=2.0, explains_itself=watched)
    sim.add_peer({}, quiet_s=2.0)
    sim.run(sim.all_done, limit_s=30)
    # Told it may not leave while the other fetches, a watched peer asks at
    # once who it waits for; nobody else ever asks.
    asked = sim.tracker_requests["LeaveQuery"]
    assert (asked > 0) if watched else (asked == 0)
