"""The one-shot clients in the tracker's state: nobody waits for a get or a
seed (rule (a) does not count them), a get may always leave, a seed leaves
by rule (a) alone once a counted peer lives."""

from __future__ import annotations

from collections.abc import Sequence

from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Action
from swarm.protocol.roles import ROLE_GET, ROLE_PEER, ROLE_SEED
from swarm.tracker.leaving import leave_blockers
from swarm.tracker.state import TrackerState
from tests.tracker.helpers import (
    ADDRESS,
    BIG,
    SMALL,
    blocks,
    fetch_whole,
    have,
    join,
    new_state,
    only_reply,
    send,
    sender,
    statuses,
)


def join_as(state: TrackerState, peer: int, role: int,
            files: Sequence[FileMeta] = ()) -> list[Action]:
    return state.handle(sender(peer), m.Join(1, 5000 + peer, tuple(files), (), role),
                        ADDRESS, 0.0)


def agree(state: TrackerState) -> None:
    """The counts kept as the swarm changes say what a check from scratch says."""
    for pid in state.registry.peers:
        assert state.registry.readiness.ready(pid) == (not leave_blockers(state.registry, pid)), (
            pid, leave_blockers(state.registry, pid))


def test_the_tracker_keeps_the_role_it_was_told() -> None:
    state = new_state()
    join(state, 1)
    join_as(state, 2, ROLE_GET)
    join_as(state, 3, ROLE_SEED)
    assert [state.registry.peers[p].role for p in (1, 2, 3)] == [ROLE_PEER, ROLE_GET, ROLE_SEED]


def test_no_peer_waits_for_a_get_to_take_its_files() -> None:
    state = new_state()
    join(state, 1, [SMALL, BIG])
    join(state, 2)
    fetch_whole(state, 2, SMALL)
    fetch_whole(state, 2, BIG)
    assert state.registry.readiness.ready(1) and state.registry.readiness.ready(2)
    out = join_as(state, 3, ROLE_GET)
    assert statuses(out) == {3: m.LeaveStatus(True, "")}  # 1 and 2: nothing changed
    send(state, 3, have(SMALL.digest, 0, 1))
    agree(state)
    assert leave_blockers(state.registry, 1) == [] and leave_blockers(state.registry, 2) == []
    # The get leaves whenever it likes, and its blocks are a peer's.
    fetch_whole(state, 3, SMALL)
    out = send(state, 3, m.Goodbye(False))
    assert only_reply(out, 3) == m.Farewell()
    assert blocks(out) == [display.Disconnect(3, ["small.txt"])]
    out = send(state, 1, m.Goodbye(False))
    assert only_reply(out, 1) == m.Farewell()


def test_a_get_is_ready_though_it_lacks_available_files() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join_as(state, 2, ROLE_GET)
    assert state.registry.readiness.ready(2) and state.registry.readiness.blocker(2) == ""
    agree(state)
    out = send(state, 2, m.Goodbye(False))
    assert only_reply(out, 2) == m.Farewell()
    assert blocks(out) == [display.Disconnect(2, [])]


def test_a_get_that_holds_a_file_does_not_keep_peers_waiting_for_it() -> None:
    """A get's own files count for what others lack, but nobody waits for the get."""
    state = new_state()
    join_as(state, 1, ROLE_GET, [SMALL])
    join(state, 2)
    assert not state.registry.readiness.ready(2)  # rule (b): small.txt is available
    assert state.registry.readiness.blocker(2) == "missing 'small.txt'"
    fetch_whole(state, 2, SMALL)
    agree(state)
    assert state.registry.readiness.ready(2)


def test_a_seed_waits_for_every_counted_peer_and_none_waits_for_it() -> None:
    state = new_state()
    out = join_as(state, 1, ROLE_SEED, [SMALL])
    # Nobody to hand it to yet: a seed started first waits for someone.
    assert statuses(out) == {1: m.LeaveStatus(False, "no peer has joined to take its files")}
    agree(state)
    out = join(state, 2, [BIG])
    assert 1 not in statuses(out)  # still not ready (said only when that changes)
    assert state.registry.readiness.blocker(1) == "1 peer still lacks 'small.txt'"
    # The peer does not wait for the seed to take big.bin (rule (a) of peer 2).
    assert leave_blockers(state.registry, 2) == ["it lacks 'small.txt'"]
    agree(state)
    out = fetch_whole(state, 2, SMALL)
    assert statuses(out) == {1: m.LeaveStatus(True, ""), 2: m.LeaveStatus(True, "")}
    agree(state)
    # The seed never fetched big.bin and needs not: rule (b) is not its.
    out = send(state, 1, m.Goodbye(False))
    assert only_reply(out, 1) == m.Farewell()
    assert blocks(out) == [display.Disconnect(1, [])]


def test_a_seed_goes_back_to_waiting_when_the_last_counted_peer_leaves() -> None:
    state = new_state()
    join(state, 1)
    join_as(state, 2, ROLE_SEED, [SMALL])
    fetch_whole(state, 1, SMALL)
    assert state.registry.readiness.ready(2)
    out = send(state, 1, m.Goodbye(True))
    assert statuses(out) == {2: m.LeaveStatus(False, "no peer has joined to take its files")}
    agree(state)
    join(state, 3)
    assert state.registry.readiness.blocker(2) == "1 peer still lacks 'small.txt'"
    agree(state)


def test_seeds_and_gets_are_not_counted_for_files_added_later() -> None:
    state = new_state()
    join_as(state, 1, ROLE_SEED)
    join_as(state, 2, ROLE_GET)
    join(state, 3, [BIG])  # a new file: only counted peers lack it, and none does
    assert state.registry.readiness.ready(3)
    join(state, 4)
    assert not state.registry.readiness.ready(3)
    send(state, 4, m.CannotHold("big.bin", "a folder has that name"))
    assert state.registry.readiness.ready(3)
    agree(state)
    for pid in (2, 1):  # they leave without moving any count
        assert only_reply(send(state, pid, m.Goodbye(False)), pid) == m.Farewell()
    agree(state)
    assert state.registry.readiness.ready(3) and state.registry.readiness.ready(4)
