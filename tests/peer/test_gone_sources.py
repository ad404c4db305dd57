"""A source that has gone, as a peer learns it: its link breaks and its port
then refuses us, or its port refuses us from the start and the tracker,
asked to reverse the link, knows no such peer.  Its requests go to the
other sources at once, no holder answer brings it back, and a departure
is no warning.  Values in, actions out; no sockets."""

from __future__ import annotations

import random

from swarm.config import Settings
from swarm.peer.actions import DropPeer, ToPeer, ToTracker
from swarm.peer.piece_requests import GONE_REMEMBERED
from swarm.peer.state import PeerState
from swarm.protocol import messages as m
from swarm.protocol.message_parts import FileSummary, HolderRanges
from swarm.protocol.meta import meta_of_bytes
from swarm.protocol.output import Action, Level
from swarm.protocol.peer_messages import ChunkRequest
from tests.peer.said import said

META = meta_of_bytes("f.bin", random.Random(7).randbytes(4 << 20))  # 4 pieces
GONE, OTHER = 5, 6


def endpoint(peer_id: int) -> str:
    return f"tcp://127.0.0.1:{5000 + peer_id}"


def holders(*peer_ids: int) -> m.Holders:
    return m.Holders(META.digest, tuple(HolderRanges(pid, endpoint(pid), (0, META.chunks))
                                        for pid in peer_ids))


def asked_of(actions: list[Action]) -> dict[int, int]:
    """How many pieces each source is asked for."""
    counts: dict[int, int] = {}
    for action in actions:
        if isinstance(action, ToPeer) and isinstance(action.message, ChunkRequest):
            counts[action.peer_id] = counts.get(action.peer_id, 0) + 1
    return counts


def fetching() -> PeerState:
    """Peer 3, fetching f.bin from peers 5 and 6, its first requests out."""
    state = PeerState(Settings().peer_settings(), 1.0, [], [], {}, 20001, 0.0,
                      random.Random(1))
    state.start()
    state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 0.1)
    summary = FileSummary(META.name, META.size_bytes, META.digest, True)
    state.on_tracker(m.Welcome(3, m.Snapshot(1, (summary,)), ()), 0.2)
    state.on_tracker(m.MetaReply(META), 0.3)
    state.on_tracker(holders(GONE, OTHER), 0.4)
    assert set(asked_of(state.flush(0.4))) == {GONE, OTHER}
    return state


def test_a_source_whose_port_refuses_us_after_serving_us_has_gone_at_once() -> None:
    state = fetching()
    state.on_link_up(GONE)
    state.on_link_up(OTHER)
    asked = state.plan.sources[GONE].requests
    pieces = {r.piece for r in asked.values()}
    state.on_link_down(GONE)  # it left: our requests to it will not be answered
    actions = state.on_link_unreachable(GONE, 0.5, refused=True)  # and nobody listens there
    assert said(actions, Level.WARNING) == []
    assert said(actions) == ["peer 5 has left (its port refuses connections); its pieces go "
                             "to other sources"]
    assert DropPeer(GONE) in actions
    assert not any(isinstance(a, ToTracker) for a in actions)  # nothing to ask: it has gone
    assert GONE not in state.plan.sources and state.requests.gone == {GONE: None}
    download = state.plan.downloads[META.digest]
    assert all(not download.in_flight[p] for p in pieces), "its pieces are free again"
    # The others get its pieces as soon as they have credit; an answer still
    # naming it does not bring it back.
    state.on_tracker(holders(GONE, OTHER), 0.6)
    assert GONE not in download.sources() and GONE not in state.plan.sources
    assert GONE not in asked_of(state.flush(0.6))


def test_a_source_that_refuses_us_from_the_start_is_asked_about_and_dropped_on_the_answer(
        ) -> None:
    state = fetching()
    pieces = {r.piece for r in state.plan.sources[GONE].requests.values()}
    actions = state.on_link_unreachable(GONE, 0.45, refused=True)
    # At once, not after a connect timeout: its pieces are free, and the
    # tracker is asked to have it connect to us instead.
    download = state.plan.downloads[META.digest]
    assert all(not download.in_flight[p] for p in pieces)
    assert state.plan.sources[GONE].down
    assert ToTracker(m.ReverseRequest(GONE)) in actions
    assert GONE not in asked_of(state.flush(0.45))
    # The tracker knows no such peer: it has left.  Said at info, not as a warning.
    actions = state.on_tracker(m.ErrorReply.no_peer(GONE), 0.46)
    assert said(actions, Level.WARNING) == []
    assert said(actions) == ["peer 5 has left (the tracker no longer knows it); its pieces go "
                             "to other sources"]
    assert GONE not in state.plan.sources
    state.on_tracker(holders(GONE, OTHER), 0.6)
    assert GONE not in state.plan.downloads[META.digest].sources()


def test_a_refused_source_the_tracker_still_knows_is_asked_nothing() -> None:
    # Killed, and not expired yet (or behind a firewall that refuses): the
    # tracker reverses the link, and until it comes up nothing is asked of it.
    state = fetching()
    state.on_link_unreachable(GONE, 0.45, refused=True)
    state.on_tracker(m.ReverseToken(GONE, b"t" * 16), 0.46)
    state.on_tracker(holders(GONE, OTHER), 0.6)
    for now in (0.6, 0.7, 1.0):
        state.on_timer(now)
        assert GONE not in asked_of(state.flush(now))


def test_any_other_error_from_the_tracker_is_still_a_warning() -> None:
    state = fetching()
    actions = state.on_tracker(m.ErrorReply("unknown file"), 0.5)
    assert said(actions, Level.WARNING) == ["tracker: unknown file"]
    actions = state.on_tracker(m.ErrorReply.no_peer(9), 0.5)  # never a source of ours
    assert said(actions) == [] and state.requests.gone == {9: None}


def test_a_tracker_that_forgot_us_forgets_who_has_gone() -> None:
    # A restarted tracker hands out the ids again.
    state = fetching()
    state.on_tracker(m.ErrorReply.no_peer(GONE), 0.5)
    state.on_tracker(m.Rejoin(), 0.6)
    assert state.requests.gone == {}


def test_only_the_latest_departures_are_remembered() -> None:
    state = fetching()
    for peer_id in range(100, 100 + GONE_REMEMBERED + 10):
        state.on_tracker(m.ErrorReply.no_peer(peer_id), 0.5)
    gone = state.requests.gone
    assert len(gone) == GONE_REMEMBERED and min(gone) == 110
