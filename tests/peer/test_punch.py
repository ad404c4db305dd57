"""Hole punching at a peer: judging the echoes, retries and giving up, and
what PeerState asks for; values in, actions out, no sockets."""

from __future__ import annotations

import random

from swarm.config import Settings
from swarm.peer.actions import LearnMapping, OpenPunch, Reply, ToTracker
from swarm.peer.punch import RETRY_BACKOFF_S, Punches, judge_mapping
from swarm.peer.reversal import ReverseRoute
from swarm.peer.state import PeerState
from swarm.protocol import messages as m
from swarm.protocol.messages import PUNCH_ATTEMPTS
from swarm.protocol.output import Level, Outbox
from swarm.protocol.peer_messages import ChunkRefused, ChunkRequest
from tests.peer.said import said, without_said

LOCAL = "192.168.77.2"
PUBLIC = "10.77.0.201"
KEY = "ab" * 32


def test_one_public_port_for_both_echoes_is_a_nat_that_allows_punching() -> None:
    mapping = judge_mapping(LOCAL, [(PUBLIC, 40001), (PUBLIC, 40001)])
    assert (mapping.behind_nat, mapping.public_port, mapping.symmetric) == (True, 40001, False)


def test_a_port_that_changes_with_the_destination_is_a_symmetric_nat() -> None:
    mapping = judge_mapping(LOCAL, [(PUBLIC, 40001), (PUBLIC, 51234)])
    assert (mapping.behind_nat, mapping.public_port, mapping.symmetric) == (True, None, True)


def test_seen_at_its_own_address_a_peer_is_not_behind_nat() -> None:
    assert not judge_mapping(LOCAL, [(LOCAL, 40001), (LOCAL, 40001)]).behind_nat


def test_echoes_that_did_not_answer_mean_no_punching() -> None:
    mapping = judge_mapping(LOCAL, [(PUBLIC, 40001)])
    assert (mapping.behind_nat, mapping.public_port) == (False, None)


def test_a_failed_punch_is_asked_for_again_with_backoff_then_given_up() -> None:
    out = Outbox()
    punches = Punches(out)
    punches.started(7)
    now = 10.0
    for failure in range(1, PUNCH_ATTEMPTS):
        assert not punches.failed(7, now)
        backoff = RETRY_BACKOFF_S[failure - 1]
        assert punches.next_deadline_s() == now + backoff
        assert punches.due(now + backoff - 0.01) == []
        assert punches.due(now + backoff) == [7]
        assert punches.due(now + backoff) == []  # asked once
        punches.started(7)  # the tracker punches again
        now += backoff + 3.0
    out.take()
    assert punches.failed(7, now)  # the last: fall back to a reversal
    assert punches.next_deadline_s() == float("inf")
    (warning,) = said(out.take(), Level.WARNING)
    assert "could not punch through to peer 7 after 3 attempts" in warning


def test_a_link_that_comes_up_is_counted_once() -> None:
    out = Outbox()
    punches = Punches(out)
    punches.started(4)
    punches.link_up(4)
    punches.link_up(4)
    assert punches.by_peer[4].up
    assert said(out.take()) == [
        "hole punched: connected to peer 4 through both NATs (attempt 1)"]


# --- inside PeerState ----------------------------------------------------------------


def joined_peer(settings: Settings | None = None) -> PeerState:
    state = PeerState((settings or Settings()).peer_settings(), 1.0, [], [], {}, 20001, 0.0,
                      random.Random(1))
    state.start()
    state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, (5557, 5558)), 0.1)
    state.on_tracker(m.Welcome(3, m.Snapshot(0, ()), ()), 0.2)
    return state


def test_a_peer_learns_its_mapping_and_offers_to_punch_once_joined() -> None:
    state = PeerState(Settings().peer_settings(), 1.0, [], [], {}, 20001, 0.0,
                      random.Random(1))
    state.start()
    actions = state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, (5557, 5558)), 0.1)
    assert LearnMapping((5557, 5558)) in actions
    # The echoes answer before the welcome: the offer waits for it.
    assert state.on_mapping(LOCAL, [(PUBLIC, 40001), (PUBLIC, 40001)]) == []
    actions = state.on_tracker(m.Welcome(3, m.Snapshot(0, ()), ()), 0.2)
    assert ToTracker(m.PunchReady(40001)) in actions


def test_behind_a_symmetric_nat_a_peer_warns_and_does_not_offer() -> None:
    state = joined_peer()
    actions = state.on_mapping(LOCAL, [(PUBLIC, 40001), (PUBLIC, 50002)])
    assert without_said(actions) == []
    (warning,) = said(actions, Level.WARNING)
    assert "symmetric NAT" in warning


def test_with_a_swarm_key_the_lower_id_is_the_curve_server_of_a_punched_link() -> None:
    # Peer 3 (ours) punches to peers 5 and 2: CURVE needs one server side.
    state = joined_peer(Settings(key=KEY))
    state.on_mapping(LOCAL, [(PUBLIC, 40001), (PUBLIC, 40001)])
    assert without_said(state.on_tracker(m.Punch(5, "tcp://10.77.0.205:40005"), 1.0)) == [
        OpenPunch(5, "tcp://10.77.0.205:40005", curve_server=True)]
    assert without_said(state.on_tracker(m.Punch(2, "tcp://10.77.0.202:40002"), 1.0)) == [
        OpenPunch(2, "tcp://10.77.0.202:40002", curve_server=False)]


def test_told_to_punch_a_peer_connects_and_serves_over_the_punched_link() -> None:
    state = joined_peer()
    state.on_mapping(LOCAL, [(PUBLIC, 40001), (PUBLIC, 40001)])
    actions = state.on_tracker(m.Punch(5, "tcp://10.77.0.205:40005"), 1.0)
    assert without_said(actions) == [OpenPunch(5, "tcp://10.77.0.205:40005")]
    state.on_link_up(5)
    # Peer 5 asks over the punched link (our fetch side): answered on it.
    digest = b"d" * 32
    actions = state.on_peer_reply(5, ChunkRequest(1, digest, 0, 1), None, 1.2)
    assert actions == [Reply(ReverseRoute(5), ChunkRefused(1, "file not held"))]


def test_a_punch_that_does_not_come_up_is_asked_for_again() -> None:
    state = joined_peer()
    state.on_mapping(LOCAL, [(PUBLIC, 40001), (PUBLIC, 40001)])
    state.on_tracker(m.Punch(5, "tcp://10.77.0.205:40005"), 1.0)
    state.on_link_unreachable(5, 4.0)
    assert state.next_deadline_s(4.0) <= 4.0 + RETRY_BACKOFF_S[0]
    actions = state.on_timer(4.0 + RETRY_BACKOFF_S[0])
    assert ToTracker(m.ReverseRequest(5)) in actions


def test_after_the_last_failed_punch_a_peer_asks_for_a_reversal() -> None:
    state = joined_peer()
    state.on_mapping(LOCAL, [(PUBLIC, 40001), (PUBLIC, 40001)])
    now = 1.0
    for _ in range(PUNCH_ATTEMPTS - 1):
        state.on_tracker(m.Punch(5, "tcp://10.77.0.205:40005"), now)
        state.on_link_unreachable(5, now + 3.0)
        now += 3.0 + RETRY_BACKOFF_S[-1]
        state.on_timer(now)
    state.on_tracker(m.Punch(5, "tcp://10.77.0.205:40005"), now)
    actions = state.on_link_unreachable(5, now + 3.0)
    assert ToTracker(m.ReverseRequest(5)) in actions


def test_a_punch_without_a_mapping_is_ignored() -> None:
    state = joined_peer()
    assert state.on_tracker(m.Punch(5, "tcp://10.77.0.205:40005"), 1.0) == []


def test_a_failed_reversal_behind_a_punchable_nat_asks_for_a_punch() -> None:
    state = joined_peer()
    state.on_mapping(LOCAL, [(PUBLIC, 40001), (PUBLIC, 40001)])
    assert without_said(state.on_reversal_failed(5)) == [ToTracker(m.ReverseRequest(5))]
    # Once punching was tried, a failed reversal is the end of it.
    state.on_tracker(m.Punch(5, "tcp://10.77.0.205:40005"), 5.0)
    assert without_said(state.on_reversal_failed(5)) == []


def test_a_failed_reversal_without_a_mapping_is_only_said() -> None:
    state = joined_peer()
    actions = state.on_reversal_failed(5)
    assert without_said(actions) == []
    (warning,) = said(actions, Level.WARNING)
    assert "neither of us can reach the other" in warning
