"""Leaving: a goodbye is accepted when rules (a) and (b) hold, and each peer
hears when they start or stop holding for it (LeaveStatus)."""

from __future__ import annotations

from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.tracker.leaving import leave_blockers
from tests.tracker.helpers import (
    BIG,
    OTHER_SMALL,
    SMALL,
    blocks,
    events,
    fetch_whole,
    have,
    join,
    new_state,
    only_reply,
    send,
    statuses,
)

# --- leaving --------------------------------------------------------------------------------


def test_goodbye_waits_until_every_other_peer_holds_my_files() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2)
    assert leave_blockers(state.registry, 1) == ["peer 2 lacks 'small.txt'"]
    out = send(state, 1, m.Goodbye(False))
    assert only_reply(out, 1) == m.NotYet(state.registry.seq)
    assert blocks(out) == [] and events(out) == [] and 1 in state.registry.peers
    fetch_whole(state, 2, SMALL)
    assert leave_blockers(state.registry, 1) == []
    out = send(state, 1, m.Goodbye(False))
    assert only_reply(out, 1) == m.Farewell()
    assert blocks(out) == [display.Disconnect(1, [])]


def test_goodbye_waits_while_i_lack_an_available_file() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2, [BIG])
    assert leave_blockers(state.registry, 2) == ["peer 1 lacks 'big.bin'", "it lacks 'small.txt'"]
    assert isinstance(only_reply(send(state, 2, m.Goodbye(False)), 2), m.NotYet)


def test_excused_peer_does_not_block_leaving() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2, [OTHER_SMALL])
    assert leave_blockers(state.registry, 1) == []
    assert leave_blockers(state.registry, 2) == []
    assert only_reply(send(state, 1, m.Goodbye(False)), 1) == m.Farewell()


def test_forced_goodbye_leaves_regardless() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2)
    assert leave_blockers(state.registry, 1)
    assert only_reply(send(state, 1, m.Goodbye(True)), 1) == m.Farewell()
    assert list(state.registry.peers) == [2]

# --- telling peers when rules (a) and (b) hold --------------------------------------------


def test_each_peer_hears_when_rules_a_and_b_start_and_stop_holding_for_it() -> None:
    state = new_state()
    assert statuses(join(state, 1, [SMALL])) == {1: m.LeaveStatus(True, "")}
    out = join(state, 2)
    assert statuses(out) == {1: m.LeaveStatus(False, "1 peer still lacks 'small.txt'"),
                             2: m.LeaveStatus(False, "missing 'small.txt'")}
    # Nothing changes for them: nothing is said.
    assert statuses(send(state, 2, have(SMALL.digest, 0, 1))) == {}
    out = fetch_whole(state, 2, SMALL)
    assert statuses(out) == {1: m.LeaveStatus(True, ""), 2: m.LeaveStatus(True, "")}
    # A third peer: both wait for it again, until it is excused.
    out = join(state, 3)
    assert [statuses(out)[p].ready for p in (1, 2, 3)] == [False, False, False]
    out = send(state, 3, m.CannotHold("small.txt", "a folder has that name"))
    assert statuses(out) == {1: m.LeaveStatus(True, ""), 2: m.LeaveStatus(True, ""),
                             3: m.LeaveStatus(True, "")}
    # The goodbye is checked on the same counts.
    assert only_reply(send(state, 1, m.Goodbye(False)), 1) == m.Farewell()


def test_readiness_follows_withdrawals_removals_and_departures() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    fetch_whole(state, 2, BIG)
    join(state, 3)
    send(state, 3, have(BIG.digest, 0, 10))
    for pid in (1, 2, 3):
        assert state.registry.readiness.ready(pid) == (not leave_blockers(state.registry, pid))
    out = send(state, 3, m.Goodbye(True))  # peer 3 leaves: nobody lacks BIG any more
    assert {p: s.ready for p, s in statuses(out).items()} == {1: True, 2: True}
    send(state, 1, m.Withdraw(BIG.digest, "modified"))
    send(state, 2, m.Withdraw(BIG.digest, "deleted"))  # removed: nobody holds it
    assert "big.bin" not in state.registry.files
    for pid in (1, 2):
        assert state.registry.readiness.ready(pid) and leave_blockers(state.registry, pid) == []
