"""Hole punching at the tracker: who is told to punch, when, and how often;
PunchBoard alone and inside TrackerState, no sockets."""

from __future__ import annotations

import random

from swarm.protocol import messages as m
from swarm.protocol.fields import TOKEN_BYTES
from swarm.protocol.messages import PUNCH_ATTEMPTS
from swarm.tracker.punch import PUNCH_WINDOW_S, Decision, PunchBoard, punch_endpoint
from swarm.tracker.state import TrackerState
from tests.tracker.helpers import sends

PUB_PORT = 9100
ECHO_PORTS = (9101, 9102)
ROUTERS = {1: "10.77.0.201", 2: "10.77.0.202", 3: "10.0.0.3"}  # as the tracker sees each


def sender(peer: int) -> bytes:
    return f"routing-{peer}".encode()


def send(state: TrackerState, peer: int, message: m.Message, now_s: float) -> list[
        tuple[bytes, m.Message]]:
    out = state.handle(sender(peer), message, ROUTERS[peer], now_s)
    return [(t, msg) for t, msg in sends(out) if not isinstance(msg, m.LeaveStatus)]


def tracker_with_peers() -> TrackerState:
    state = TrackerState(PUB_PORT, 30.0, lambda: b"t" * TOKEN_BYTES, random.Random(1),
                         ECHO_PORTS)
    for peer in ROUTERS:
        send(state, peer, m.Join(m.PROTOCOL_VERSION, 5000 + peer, (), ()), 0.0)
    return state


def test_hello_reply_names_the_address_echoes() -> None:
    state = TrackerState(PUB_PORT, 30.0, lambda: b"t" * TOKEN_BYTES, random.Random(1),
                         ECHO_PORTS)
    sent = sends(state.handle(b"x", m.Hello(m.PROTOCOL_VERSION), "10.0.0.9", 0.0))
    assert sent == [(b"x", m.HelloReply(m.PROTOCOL_VERSION, PUB_PORT, ECHO_PORTS))]


def test_two_punch_ready_peers_are_told_at_once_of_each_others_public_mapping() -> None:
    state = tracker_with_peers()
    send(state, 1, m.PunchReady(40001), 0.5)
    send(state, 2, m.PunchReady(40002), 0.5)
    sent = send(state, 1, m.ReverseRequest(2), 1.0)
    assert sent == [(sender(1), m.Punch(2, "tcp://10.77.0.202:40002")),
                    (sender(2), m.Punch(1, "tcp://10.77.0.201:40001"))]


def test_a_peer_that_cannot_punch_gets_a_reversal_as_before() -> None:
    state = tracker_with_peers()
    send(state, 1, m.PunchReady(40001), 0.5)  # peer 3 never said it can punch
    sent = send(state, 1, m.ReverseRequest(3), 1.0)
    assert [type(msg) for _, msg in sent] == [m.ConnectTo, m.ReverseToken]


def test_a_reversal_asked_of_a_peer_that_has_left_is_the_news_that_it_has() -> None:
    state = tracker_with_peers()
    send(state, 3, m.Goodbye(force=True), 0.5)
    ((to, reply),) = send(state, 1, m.ReverseRequest(3), 1.0)
    assert to == sender(1) and reply == m.ErrorReply.no_peer(3)
    assert isinstance(reply, m.ErrorReply) and reply.peer_gone() == 3


def test_both_sides_asking_at_once_make_one_punch() -> None:
    state = tracker_with_peers()
    send(state, 1, m.PunchReady(40001), 0.0)
    send(state, 2, m.PunchReady(40002), 0.0)
    assert len(send(state, 1, m.ReverseRequest(2), 1.0)) == 2
    assert send(state, 2, m.ReverseRequest(1), 1.2) == []  # answered by the punch in flight


def test_a_pair_is_punched_a_few_times_then_reversed() -> None:
    board = PunchBoard()
    board.ready(1, 40001)
    board.ready(2, 40002)
    now = 0.0
    decisions = []
    for _ in range(PUNCH_ATTEMPTS + 1):
        decisions.append(board.decide(2, 1, now))
        now += PUNCH_WINDOW_S + 1.0
    assert decisions == [Decision.PUNCH] * PUNCH_ATTEMPTS + [Decision.REVERSE]
    assert board.attempts(1, 2) == PUNCH_ATTEMPTS


def test_a_peer_that_leaves_takes_its_mapping_and_its_pairs_along() -> None:
    state = tracker_with_peers()
    send(state, 1, m.PunchReady(40001), 0.0)
    send(state, 2, m.PunchReady(40002), 0.0)
    send(state, 1, m.ReverseRequest(2), 1.0)
    send(state, 2, m.Goodbye(True), 2.0)
    assert 2 not in state.introductions.punches.ports
    assert state.introductions.punches.attempts(1, 2) == 0


def test_punch_endpoint_keeps_the_host_and_takes_the_punch_port() -> None:
    assert punch_endpoint("tcp://10.77.0.202:5002", 40002) == "tcp://10.77.0.202:40002"
    assert punch_endpoint("tcp://[2001:db8::1]:5002", 40002) == "tcp://[2001:db8::1]:40002"


def test_once_a_pairs_punches_are_spent_the_tracker_reverses() -> None:
    state = tracker_with_peers()
    send(state, 1, m.PunchReady(40001), 0.0)
    send(state, 2, m.PunchReady(40002), 0.0)
    now = 1.0
    for _ in range(PUNCH_ATTEMPTS):
        assert [type(msg) for _, msg in send(state, 1, m.ReverseRequest(2), now)] == [
            m.Punch, m.Punch]
        now += PUNCH_WINDOW_S + 1.0
    sent = send(state, 1, m.ReverseRequest(2), now)
    assert sent == [(sender(2), m.ConnectTo(1, "tcp://10.77.0.201:5001", b"t" * TOKEN_BYTES)),
                    (sender(1), m.ReverseToken(2, b"t" * TOKEN_BYTES))]
