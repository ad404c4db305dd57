"""Bad requests: a peer's are struck (answered, said, counted; too many and
it is expelled), a stranger's answered a few times, then only dropped; the
running count of strikes the metrics show (``figures``)."""

from __future__ import annotations

from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.tracker.queries import snapshot
from swarm.tracker.registry import STRIKES_LOGGED, STRIKES_TO_EXPEL
from swarm.tracker.state import BAD_REQUESTS_ANSWERED
from tests.tracker.helpers import (
    BIG,
    SMALL,
    blocks,
    entries,
    have,
    join,
    new_state,
    said,
    send,
    sender,
    sends,
    statuses,
)


def test_every_strike_against_a_peer_is_counted_across_peers_and_past_expulsion() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    assert state.figures().strikes == 0
    send(state, 2, have(SMALL.digest, 0, 1))  # chunks of a file the swarm does not have
    send(state, 1, m.Welcome(1, snapshot(state.registry), ()))  # not a request a tracker takes
    assert state.figures().strikes == 2
    for _ in range(STRIKES_TO_EXPEL - 1):
        send(state, 2, have(SMALL.digest, 0, 1))
    assert 2 not in state.registry.peers
    assert state.figures().strikes == STRIKES_TO_EXPEL + 1  # the expelled peer's strikes stay


def test_a_stranger_is_not_struck_and_good_requests_count_nothing() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 10))
    send(state, 2, m.Heartbeat())
    send(state, 9, m.Heartbeat())  # never joined: told to rejoin, no strike
    assert state.figures().strikes == 0


def test_a_strike_is_answered_and_said_until_the_peer_is_expelled() -> None:
    state = new_state()
    join(state, 1)
    out = send(state, 1, m.Pong(1))
    assert sends(out) == [(sender(1), m.ErrorReply("Pong is not a request a tracker takes"))]
    assert said(out) == ["peer 1: refused: Pong is not a request a tracker takes"]
    for _ in range(STRIKES_LOGGED - 1):
        send(state, 1, m.Pong(1))
    # Past STRIKES_LOGGED, still answered but no longer said.
    out = send(state, 1, m.Pong(1))
    assert said(out) == [] and len(sends(out)) == 1
    for _ in range(STRIKES_TO_EXPEL - STRIKES_LOGGED - 2):
        send(state, 1, m.Pong(1))
    out = send(state, 1, m.Pong(1))
    assert said(out) == [f"peer 1 expelled after {STRIKES_TO_EXPEL} bad requests"]
    assert blocks(out) == [display.Disconnect(1, [], "expelled")]
    assert state.registry.peers == {}


def test_an_undecodable_request_from_a_peer_is_a_strike_and_tells_the_others() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2)
    out = state.bad_request(sender(2), "3 frames; a message has 1 or 2")
    assert sends(out) == [(sender(2), m.ErrorReply("bad request: 3 frames; a message has 1 or 2"))]
    assert said(out) == ["peer 2: refused: bad request: 3 frames; a message has 1 or 2"]
    assert state.figures().strikes == 1
    for _ in range(STRIKES_TO_EXPEL - 2):
        state.bad_request(sender(2), "garbage")
    out = state.bad_request(sender(2), "garbage")
    assert blocks(out) == [display.Disconnect(2, [], "expelled")]
    assert [kind for kind, _ in entries(out)] == ["leave"]
    # Nobody lacks small.txt any more: peer 1 hears that it may leave, as
    # after any request that changes where it stands.
    assert statuses(out) == {1: m.LeaveStatus(True, "")}


def test_a_strangers_undecodable_requests_are_answered_a_few_times_then_dropped() -> None:
    state = new_state()
    stranger = bytes.fromhex("00a1b2c3d4e5f6")
    for _ in range(BAD_REQUESTS_ANSWERED):
        out = state.bad_request(stranger, "not msgpack")
        assert sends(out) == [(stranger, m.ErrorReply("bad request: not msgpack"))]
        assert said(out) == ["dropped a bad request from 00a1b2c3d4e5: not msgpack"]
    assert state.bad_request(stranger, "not msgpack") == []
    # Counted per sender, and never a strike.
    assert len(sends(state.bad_request(b"another", "not msgpack"))) == 1
    assert state.figures().strikes == 0
