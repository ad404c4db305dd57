"""TrackerState's running totals for monitoring (TrackerCounts)."""

from __future__ import annotations

from swarm.protocol import messages as m
from swarm.tracker.state import STRIKES_TO_EXPEL
from tests.tracker.test_state import BIG, SMALL, have, join, new_state, send


def test_every_strike_against_a_peer_is_counted_across_peers_and_past_expulsion() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    assert state.counts.strikes == 0
    send(state, 2, have(SMALL.digest, 0, 1))  # chunks of a file the swarm does not have
    send(state, 1, m.Welcome(1, state.snapshot(), ()))  # not a request a tracker takes
    assert state.counts.strikes == 2
    for _ in range(STRIKES_TO_EXPEL - 1):
        send(state, 2, have(SMALL.digest, 0, 1))
    assert 2 not in state.peers
    assert state.counts.strikes == STRIKES_TO_EXPEL + 1  # the expelled peer's strikes stay


def test_a_stranger_is_not_struck_and_good_requests_count_nothing() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 10))
    send(state, 2, m.Heartbeat())
    send(state, 9, m.Heartbeat())  # never joined: told to rejoin, no strike
    assert state.counts.strikes == 0
