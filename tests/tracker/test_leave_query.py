"""A peer that shows a person its status asks why it may not leave; the
answer names a peer that lacks one of its files and how far along it is."""

from __future__ import annotations

from swarm.protocol import messages as m
from swarm.tracker.state import TrackerState
from tests.tracker.helpers import BIG, SMALL, have, join, new_state, send, statuses


def ask(state: TrackerState, peer: int) -> m.LeaveStatus:
    return statuses(send(state, peer, m.LeaveQuery()))[peer]


def test_the_answer_names_a_lacking_peer_and_its_progress() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    join(state, 3)
    # Peer 2 holds 26 of BIG's 130 chunks (20 %); peer 3 none.
    send(state, 2, have(BIG.digest, 0, 26))
    answer = ask(state, 1)
    assert answer == m.LeaveStatus(False, "waiting for peer 2 (big.bin 20 %) and 1 more")


def test_a_peer_that_may_leave_is_told_so_with_no_reason() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    assert ask(state, 1) == m.LeaveStatus(True, "")


def test_rule_b_is_answered_with_the_missing_file() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2)
    answer = ask(state, 2)
    assert answer == m.LeaveStatus(False, "missing 'small.txt'")
