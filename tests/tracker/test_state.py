"""TrackerState's entry points: joining, the queries anyone or a peer may
make, expiry."""

from __future__ import annotations

from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.events import (
    FILE_TOPIC,
    PEER_TOPIC,
    FileAdded,
    FileCompleted,
    PeerJoined,
    PeerLeft,
)
from swarm.protocol.output import Action, Level, Say
from swarm.tracker.queries import snapshot
from tests.tracker.helpers import (
    ADDRESS,
    BIG,
    EMPTY,
    EXPIRY_S,
    OTHER_SMALL,
    PUB_PORT,
    SMALL,
    blocks,
    events,
    events_of,
    fetch_whole,
    have,
    join,
    new_state,
    only_reply,
    send,
    sends,
)

# --- joining -------------------------------------------------------------------------


def test_join_assigns_ids_in_order_and_welcomes_with_a_snapshot() -> None:
    state = new_state()
    for peer in (1, 2, 3):
        welcome = only_reply(join(state, peer), peer)
        assert isinstance(welcome, m.Welcome)
        assert welcome.peer_id == peer
        assert welcome.refused == ()
        assert welcome.snapshot.seq == state.registry.seq
    assert state.registry.peers[2].endpoint == "tcp://127.0.0.1:5002"
    # Joining again from the same socket is an error, not a fourth peer.
    assert isinstance(only_reply(join(state, 1), 1), m.ErrorReply)
    assert list(state.registry.peers) == [1, 2, 3]


def test_join_prints_connect_with_offers_sorted_and_chunk_counts() -> None:
    state = new_state()
    out = join(state, 1, [SMALL, BIG, EMPTY])
    assert blocks(out) == [display.Connect(1, [("big.bin", 130), ("empty", 0), ("small.txt", 3)])]
    welcome = only_reply(out, 1)
    assert isinstance(welcome, m.Welcome)
    names = [f.name for f in welcome.snapshot.files]
    assert names == ["big.bin", "empty", "small.txt"]
    assert all(f.available for f in welcome.snapshot.files)
    assert state.registry.peers[1].complete == {"big.bin", "empty", "small.txt"}


def test_join_without_files_offers_nothing() -> None:
    out = join(new_state(), 1)
    assert blocks(out) == [display.Connect(1, [])]
    assert [type(e) for e in events(out)] == [PeerJoined]


def test_empty_file_is_shared_and_available() -> None:
    state = new_state()
    out = join(state, 1, [EMPTY])
    assert [type(e) for e in events(out)] == [PeerJoined, FileAdded, FileCompleted]
    assert state.registry.available_names() == ["empty"]


def test_events_are_numbered_without_gaps_across_calls() -> None:
    state = new_state()
    outcomes = [
        join(state, 1, [SMALL, EMPTY]),
        join(state, 2),
        send(state, 2, have(SMALL.digest, 0, 3)),
        send(state, 2, m.Complete(SMALL.digest)),
        send(state, 2, m.Offer((BIG,))),
        join(state, 3, [OTHER_SMALL]),
        send(state, 1, m.Goodbye(True)),
        state.expire(100.0),
    ]
    for topic, last in ((FILE_TOPIC, state.registry.seq), (PEER_TOPIC, state.registry.peer_seq)):
        seqs = [e.seq for out in outcomes for e in events(out) if topic == e.TOPIC]
        assert seqs == list(range(1, len(seqs) + 1)), topic
        assert last == len(seqs)
    assert len(seqs) > 10

# --- queries ---------------------------------------------------------------------------

def test_hello_answers_anyone_with_the_event_port() -> None:
    reply = only_reply(send(new_state(), 9, m.Hello(1)), 9)
    assert reply == m.HelloReply(m.PROTOCOL_VERSION, PUB_PORT, ())


def test_meta_query_sync_request_and_heartbeat_replies() -> None:
    state = new_state()
    join(state, 1, [BIG])
    assert only_reply(send(state, 1, m.MetaQuery(BIG.digest)), 1) == m.MetaReply(BIG, ())
    assert isinstance(only_reply(send(state, 1, m.MetaQuery(SMALL.digest)), 1), m.ErrorReply)
    answer = only_reply(send(state, 1, m.SyncRequest()), 1)
    assert answer == snapshot(state.registry)
    # One file event (big.bin added): what peers follow; the peer topic has two.
    assert isinstance(answer, m.Snapshot) and answer.seq == state.registry.seq == 1
    assert state.registry.peer_seq == 2
    assert only_reply(send(state, 1, m.Heartbeat()), 1) == m.Pong(1)


def test_unknown_sender_is_asked_to_rejoin() -> None:
    state = new_state()
    for message in (m.Heartbeat(), m.Have(()), m.Goodbye(False), m.Complete(SMALL.digest)):
        assert only_reply(send(state, 7, message), 7) == m.Rejoin()
    assert state.registry.peers == {} and state.registry.seq == 0


def test_peer_only_message_is_answered_with_an_error() -> None:
    state = new_state()
    join(state, 1)
    assert isinstance(only_reply(send(state, 1, m.Pong(1)), 1), m.ErrorReply)


def test_listing_shows_complete_and_partial_holders() -> None:
    state = new_state()
    join(state, 1, [BIG, SMALL])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 10))
    fetch_whole(state, 2, SMALL)
    # A listing is for tools: a sender that never joined may ask.
    [(target, listing)] = sends(state.handle(b"tool", m.ListQuery(), ADDRESS, 0.0))
    assert target == b"tool"
    assert isinstance(listing, m.Listing)
    assert listing.seq == state.registry.seq
    assert [p.peer_id for p in listing.peers] == [1, 2]
    by_name = {f.summary.name: f for f in listing.files}
    assert list(by_name) == ["big.bin", "small.txt"]
    assert by_name["big.bin"].complete == (1,)
    assert by_name["big.bin"].partial == ((2, 10),)
    assert by_name["small.txt"].complete == (1, 2)
    assert by_name["small.txt"].partial == ()


def test_listing_gives_each_peer_the_rate_of_its_chunk_reports() -> None:
    state = new_state()
    join(state, 1, [BIG, SMALL], now_s=0.0)
    join(state, 2, now_s=0.0)

    def rates(now_s: float) -> dict[int, int]:
        [(_, listing)] = sends(state.handle(b"tool", m.ListQuery(), ADDRESS, now_s))
        assert isinstance(listing, m.Listing)
        return {t.peer_id: t.recv_bytes_s for t in listing.traffic}

    send(state, 2, have(BIG.digest, 0, 10), now_s=1.0)  # 5,120 bytes
    send(state, 2, have(BIG.digest, 0, 10), now_s=1.5)  # nothing new: not counted again
    fetch_whole(state, 2, SMALL, now_s=2.0)  # 1,100 bytes: the last chunk is short
    assert rates(2.0) == {1: 0, 2: (5120 + 1100) // 2}
    assert rates(10.0) == {1: 0, 2: 0}  # the window has moved past them

# --- expiry ----------------------------------------------------------------------------


def test_silent_peer_expires_with_disconnect_and_peer_left() -> None:
    state = new_state()
    join(state, 1, [SMALL], now_s=0.0)
    join(state, 2, now_s=1.0)
    fetch_whole(state, 2, SMALL, now_s=1.5)
    send(state, 2, m.Heartbeat(), now_s=2.0)
    assert state.next_expiry_s() == 0.0 + EXPIRY_S
    # Exactly expiry_s of silence is not yet "longer than" it.
    assert blocks(state.expire(3.0)) == []
    out = state.expire(3.5)
    assert blocks(out) == [display.Disconnect(1, [], "expired")]
    assert [e.peer_id for e in events_of(out, PeerLeft)] == [1]
    assert list(state.registry.peers) == [2]
    assert state.next_expiry_s() == 2.0 + EXPIRY_S
    later = state.expire(5.5)
    assert blocks(later) == [display.Disconnect(2, ["small.txt"], "expired")]
    assert state.next_expiry_s() is None


def test_any_message_counts_as_a_sign_of_life() -> None:
    state = new_state()
    join(state, 1, now_s=0.0)
    send(state, 1, m.SyncRequest(), now_s=10.0)
    assert events(state.expire(12.0)) == []
    assert state.next_expiry_s() == 10.0 + EXPIRY_S  # found by that walk
    # An expired peer's socket is unknown from then on.
    state.expire(20.0)
    assert only_reply(send(state, 1, m.Heartbeat(), now_s=21.0), 1) == m.Rejoin()


# --- what it says to a person (stderr) -------------------------------------------------


def lines(actions: list[Action]) -> list[tuple[Level, str]]:
    return [(a.level, a.text()) for a in actions if isinstance(a, Say)]


def test_lines_for_a_person_with_their_levels() -> None:
    state = new_state()
    assert lines(join(state, 1, [SMALL, BIG])) == [
        (Level.INFO, "peer 1 (peer) joined from tcp://127.0.0.1:5001 offering 2 file(s)")]
    out = join(state, 2, [OTHER_SMALL], now_s=1.0)
    assert lines(out)[0] == (Level.WARNING, "peer 2: refused offer: the swarm already has "
                             f"'small.txt' with other content (digest {SMALL.short_digest}, "
                             f"offered {OTHER_SMALL.short_digest})")
    assert lines(send(state, 2, m.Heartbeat(100), 1.0)) == []
    assert lines(send(state, 2, m.Heartbeat(50), 1.0)) == [
        (Level.INFO, "peer 2: bytes-served count not believed: count went back from 100 to 50")]
    assert lines(send(state, 2, m.Complaint(1, BIG.digest, "bad piece"), 1.0)) == [
        (Level.WARNING, "peer 2 reports peer 1 for 'big.bin': bad piece")]
    assert lines(send(state, 2, m.CannotHold("big.bin", "a folder"), 1.0)) == [
        (Level.INFO, "peer 2 cannot hold 'big.bin': a folder")]
    join(state, 3, now_s=1.0)
    send(state, 3, m.CannotHold("big.bin", "a folder"), 1.0)
    # Peer 1 expires, and both its files are lost: big.bin to nobody (both
    # others are excused from it), said but not as a warning; small.txt
    # while peer 3 still wants it.
    assert lines(state.expire(EXPIRY_S + 0.5)) == [
        (Level.WARNING, f"peer 1 expired: silent for {EXPIRY_S + 0.5:.1f} s "
                        f"(limit {EXPIRY_S:.1f} s)"),
        (Level.INFO, "file 'big.bin' is lost: the living peers no longer cover it"),
        (Level.WARNING, "file 'small.txt' is lost: the living peers no longer cover it"),
    ]
