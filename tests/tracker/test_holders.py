"""Whom the tracker names as holders of a file: the ranges each holds, clipped
to the window asked, and a bounded sample that spreads the requests."""

from __future__ import annotations

from swarm.protocol import messages as m
from swarm.protocol.message_parts import HolderRanges
from swarm.protocol.roles import ROLE_GET, ROLE_SEED
from swarm.tracker.queries import MAX_HOLDERS_ANSWERED, is_leaving
from swarm.tracker.state import TrackerState
from tests.tracker.helpers import (
    ADDRESS,
    BIG,
    SMALL,
    fetch_whole,
    have,
    join,
    new_state,
    only_reply,
    send,
    sender,
)


def test_holders_query_returns_flat_ranges_per_peer() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    join(state, 3)
    send(state, 3, have(BIG.digest, 0, 64, 100, 110))
    reply = only_reply(send(state, 2, m.HoldersQuery(BIG.digest, 0, 0)), 2)
    assert reply == m.Holders(BIG.digest, (
        HolderRanges(1, "tcp://127.0.0.1:5001", (0, 130)),
        HolderRanges(3, "tcp://127.0.0.1:5003", (0, 64, 100, 110)),
    ))
    unknown = only_reply(send(state, 2, m.HoldersQuery(SMALL.digest, 0, 0)), 2)
    assert isinstance(unknown, m.ErrorReply)


def test_holders_query_clips_to_the_asked_window() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    join(state, 3)
    send(state, 2, have(BIG.digest, 0, 64, 100, 110))

    def holders_in(first_chunk: int, chunk_count: int) -> list[tuple[int, tuple[int, ...]]]:
        reply = only_reply(send(state, 3, m.HoldersQuery(BIG.digest, first_chunk, chunk_count)), 3)
        assert isinstance(reply, m.Holders)
        return [(h.peer_id, h.ranges) for h in reply.holders]

    assert holders_in(60, 45) == [(1, (60, 105)), (2, (60, 64, 100, 105))]
    assert holders_in(100, 0) == [(1, (100, 130)), (2, (100, 110))]  # 0: to the end
    assert holders_in(70, 20) == [(1, (70, 90))]  # peer 2 holds nothing there
    assert holders_in(500, 10) == []

def test_a_holders_answer_names_a_bounded_sample_with_complete_holders_in_it() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2, [BIG])
    for peer in range(3, 41):  # 38 partial holders, and the asker
        join(state, peer)
        send(state, peer, have(BIG.digest, 0, 10))
    seen: set[int] = set()
    for _ in range(20):
        reply = only_reply(send(state, 40, m.HoldersQuery(BIG.digest, 0, 0)), 40)
        assert isinstance(reply, m.Holders)
        named = [h.peer_id for h in reply.holders]
        assert len(named) == MAX_HOLDERS_ANSWERED and 40 not in named
        assert {1, 2} <= set(named), "the complete holders are always named"
        seen.update(named)
    assert len(seen) > 30, "the partial holders named change from answer to answer"


def test_the_meta_comes_with_the_holders_to_start_from() -> None:
    """A peer asks for a file's meta only to fetch it: the answer names the
    holders a HoldersQuery of the whole file would, so one question does."""
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    join(state, 3)
    send(state, 3, have(BIG.digest, 0, 64))
    reply = only_reply(send(state, 2, m.MetaQuery(BIG.digest)), 2)
    assert reply == m.MetaReply(BIG, (
        HolderRanges(1, "tcp://127.0.0.1:5001", (0, 130)),
        HolderRanges(3, "tcp://127.0.0.1:5003", (0, 64)),
    ))
    assert state.registry.files[BIG.name].named == {1: 1, 3: 1}  # counted as named
    # The asker is never among them; a holder asking hears of the others.
    reply = only_reply(send(state, 1, m.MetaQuery(BIG.digest)), 1)
    assert isinstance(reply, m.MetaReply)
    assert [h.peer_id for h in reply.holders] == [3]


def join_get(state: TrackerState, peer: int) -> None:
    state.handle(sender(peer), m.Join(1, 5000 + peer, (), (), ROLE_GET), ADDRESS, 0.0)


def named(state: TrackerState, asker: int, digest: bytes) -> list[int]:
    reply = only_reply(send(state, asker, m.HoldersQuery(digest, 0, 0)), asker)
    assert isinstance(reply, m.Holders)
    return [h.peer_id for h in reply.holders]


def test_a_get_that_holds_whole_all_it_fetched_is_leaving_and_not_named() -> None:
    state = new_state()
    join(state, 1, [BIG, SMALL])
    join_get(state, 2)
    join_get(state, 3)
    send(state, 2, have(BIG.digest, 0, 64))
    assert named(state, 3, BIG.digest) == [1, 2]  # a get fetching is a source
    fetch_whole(state, 2, BIG)  # it holds what it came for: it leaves at once
    assert is_leaving(state.registry.peers[2])
    assert named(state, 3, BIG.digest) == [1]
    # A get that goes on to fetch another file is not leaving after all.
    send(state, 2, have(SMALL.digest, 0, 1))
    assert not is_leaving(state.registry.peers[2])
    assert named(state, 3, BIG.digest) == [1, 2]


def test_a_leaving_get_is_named_when_nobody_else_holds_anything() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join_get(state, 2)
    join_get(state, 3)
    fetch_whole(state, 2, BIG)
    send(state, 1, m.Goodbye(force=True))  # the one other holder has gone
    assert named(state, 3, BIG.digest) == [2]


def test_only_a_get_is_ever_leaving() -> None:
    state = new_state()
    join(state, 1, [BIG])  # a peer holding all it holds whole stays for rule (a)
    state.handle(sender(2), m.Join(1, 5002, (BIG,), (), ROLE_SEED), ADDRESS, 0.0)
    join_get(state, 3)  # a get that holds nothing is no holder at all
    assert [is_leaving(state.registry.peers[p]) for p in (1, 2, 3)] == [False, False, False]
