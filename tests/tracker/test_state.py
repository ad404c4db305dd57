"""TrackerState driven by messages and a fake clock (plain floats), no sockets."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import TypeVar

from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.chunks import CHUNK_SIZE_BYTES
from swarm.protocol.events import (
    FILE_TOPIC,
    PEER_TOPIC,
    Availability,
    Event,
    Excused,
    ExcuseWithdrawn,
    FileAdded,
    FileCompleted,
    FileDropped,
    FileRemoved,
    PeerJoined,
    PeerLeft,
)
from swarm.protocol.fields import TOKEN_BYTES
from swarm.protocol.message_parts import HaveReport, HolderRanges, PartialOffer
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.tracker.state import MAX_HOLDERS_ANSWERED, Outcome, TrackerState

PUB_PORT = 9100
EXPIRY_S = 3.0
ADDRESS = "127.0.0.1"

# 130 chunks in 3 pieces: enough to report in several runs.
BIG = meta_of_bytes("big.bin", bytes(i % 253 for i in range(130 * CHUNK_SIZE_BYTES)))
SMALL = meta_of_bytes("small.txt", b"small file\n" * 100)  # 1100 bytes, 3 chunks
EMPTY = meta_of_bytes("empty", b"")
OTHER_SMALL = meta_of_bytes("small.txt", b"other content\n")  # same name, other bytes

EventT = TypeVar("EventT", bound=Event)


def sender(peer: int) -> bytes:
    """The routing id of a peer's socket; peers join in id order in these tests."""
    return f"routing-{peer}".encode()


def join(state: TrackerState, peer: int, files: Sequence[FileMeta] = (),
         partials: Sequence[PartialOffer] = (), now_s: float = 0.0) -> Outcome:
    return state.handle(sender(peer), m.Join(1, 5000 + peer, tuple(files), tuple(partials)),
                        ADDRESS, now_s)


def send(state: TrackerState, peer: int, message: m.Message, now_s: float = 0.0) -> Outcome:
    return state.handle(sender(peer), message, ADDRESS, now_s)


def replies(outcome: Outcome) -> list[tuple[bytes, m.Message]]:
    """What the tracker sends, but the LeaveStatus notices (tested on their own)."""
    return [(t, msg) for t, msg in outcome.sends if not isinstance(msg, m.LeaveStatus)]


def statuses(outcome: Outcome) -> dict[int, m.LeaveStatus]:
    """The LeaveStatus notices of an outcome, by peer (senders are routing-N)."""
    return {int(t.decode().split("-")[1]): msg for t, msg in outcome.sends
            if isinstance(msg, m.LeaveStatus)}


def only_reply(outcome: Outcome, peer: int) -> m.Message:
    sent = replies(outcome)
    assert len(sent) == 1, sent
    target, message = sent[0]
    assert target == sender(peer)
    return message


def have(digest: bytes, *flat: int) -> m.Have:
    return m.Have((HaveReport(digest, flat),))


def fetch_whole(state: TrackerState, peer: int, meta: FileMeta, now_s: float = 0.0) -> Outcome:
    """A peer reports every chunk of a file and then completes it."""
    out = Outcome()
    if meta.chunks:
        out.extend(send(state, peer, have(meta.digest, 0, meta.chunks), now_s))
    out.extend(send(state, peer, m.Complete(meta.digest), now_s))
    return out


def events_of(outcome: Outcome, kind: type[EventT]) -> list[EventT]:
    return [event for event in outcome.events if isinstance(event, kind)]


def new_state() -> TrackerState:
    tokens = (i.to_bytes(TOKEN_BYTES, "big") for i in itertools.count(1))
    return TrackerState(PUB_PORT, EXPIRY_S, lambda: next(tokens), random.Random(1))


# --- joining -------------------------------------------------------------------------


def test_join_assigns_ids_in_order_and_welcomes_with_a_snapshot() -> None:
    state = new_state()
    for peer in (1, 2, 3):
        welcome = only_reply(join(state, peer), peer)
        assert isinstance(welcome, m.Welcome)
        assert welcome.peer_id == peer
        assert welcome.refused == ()
        assert welcome.snapshot.seq == state.seq
    assert state.peers[2].endpoint == "tcp://127.0.0.1:5002"
    # Joining again from the same socket is an error, not a fourth peer.
    assert isinstance(only_reply(join(state, 1), 1), m.ErrorReply)
    assert list(state.peers) == [1, 2, 3]


def test_join_prints_connect_with_offers_sorted_and_chunk_counts() -> None:
    state = new_state()
    out = join(state, 1, [SMALL, BIG, EMPTY])
    assert out.blocks == [display.Connect(1, [("big.bin", 130), ("empty", 0), ("small.txt", 3)])]
    welcome = only_reply(out, 1)
    assert isinstance(welcome, m.Welcome)
    names = [f.name for f in welcome.snapshot.files]
    assert names == ["big.bin", "empty", "small.txt"]
    assert all(f.available for f in welcome.snapshot.files)
    assert state.peers[1].complete == {"big.bin", "empty", "small.txt"}


def test_join_without_files_offers_nothing() -> None:
    out = join(new_state(), 1)
    assert out.blocks == [display.Connect(1, [])]
    assert [type(e) for e in out.events] == [PeerJoined]


def test_empty_file_is_shared_and_available() -> None:
    state = new_state()
    out = join(state, 1, [EMPTY])
    assert [type(e) for e in out.events] == [PeerJoined, FileAdded, FileCompleted]
    assert state.available_names() == ["empty"]


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
    for topic, last in ((FILE_TOPIC, state.seq), (PEER_TOPIC, state.peer_seq)):
        seqs = [e.seq for out in outcomes for e in out.events if topic == e.TOPIC]
        assert seqs == list(range(1, len(seqs) + 1)), topic
        assert last == len(seqs)
    assert len(seqs) > 10


# --- chunks and completion ---------------------------------------------------------------


def test_have_prints_only_new_chunk_ranges() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    first = send(state, 2, have(BIG.digest, 0, 10, 20, 30))
    assert first.blocks == [display.Acquired(2, "big.bin", 130, [(0, 10), (20, 30)])]
    assert send(state, 2, have(BIG.digest, 0, 10)).blocks == []
    overlapping = send(state, 2, have(BIG.digest, 5, 25))
    assert overlapping.blocks == [display.Acquired(2, "big.bin", 130, [(10, 20)])]
    assert send(state, 2, have(BIG.digest, 129, 130)).blocks == [
        display.Acquired(2, "big.bin", 130, [(129, 130)])
    ]


def test_have_prints_nothing_for_unknown_files_bad_ranges_or_brought_files() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2)
    assert send(state, 2, have(BIG.digest, 0, 5)).blocks == []
    assert send(state, 2, have(SMALL.digest, 0, 4)).blocks == []  # SMALL has 3 chunks
    assert 2 not in state.files["small.txt"].holders or not state.files["small.txt"].holders[2]
    assert send(state, 1, have(SMALL.digest, 0, 3)).blocks == []  # peer 1 brought it


def test_complete_records_a_received_file_listed_on_disconnect() -> None:
    state = new_state()
    join(state, 1, [SMALL, BIG, EMPTY])
    join(state, 2, [meta_of_bytes("zeta.txt", b"brought")])
    completed = fetch_whole(state, 2, SMALL)
    assert events_of(completed, FileCompleted) == [
        FileCompleted(state.peer_seq, 2, "small.txt")]
    fetch_whole(state, 2, EMPTY)
    fetch_whole(state, 2, BIG)
    out = send(state, 2, m.Goodbye(True))
    assert only_reply(out, 2) == m.Farewell()
    # Sorted, and the brought zeta.txt is not among the received.
    assert out.blocks == [display.Disconnect(2, ["big.bin", "empty", "small.txt"])]
    assert events_of(out, PeerLeft) == [PeerLeft(out.events[0].seq, 2)]
    # zeta.txt had no other holder: leaving makes it unavailable.
    assert events_of(out, Availability) == [Availability(state.seq, "zeta.txt", False)]


def test_complete_before_every_chunk_is_reported_is_refused() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 129))
    out = send(state, 2, m.Complete(BIG.digest))
    assert isinstance(only_reply(out, 2), m.ErrorReply)
    assert out.events == []
    assert "big.bin" not in state.peers[2].complete
    assert isinstance(only_reply(send(state, 2, m.Complete(SMALL.digest)), 2), m.ErrorReply)


def test_offer_after_join_adds_a_file_once_and_refuses_a_conflict() -> None:
    state = new_state()
    join(state, 1)
    join(state, 2)
    out = send(state, 1, m.Offer((SMALL,)))
    assert [type(e) for e in out.events] == [FileAdded, FileCompleted]
    assert replies(out) == []
    # Both were ready in an empty swarm; neither is now, and each hears why.
    assert statuses(out) == {1: m.LeaveStatus(False, "1 peer still lacks 'small.txt'"),
                             2: m.LeaveStatus(False, "missing 'small.txt'")}
    assert send(state, 1, m.Offer((SMALL,))).events == []
    refused = only_reply(send(state, 2, m.Offer((OTHER_SMALL,))), 2)
    assert isinstance(refused, m.Refused)
    assert [r.name for r in refused.refused] == ["small.txt"]


# --- queries ---------------------------------------------------------------------------


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


def test_hello_answers_anyone_with_the_event_port() -> None:
    reply = only_reply(send(new_state(), 9, m.Hello(1)), 9)
    assert reply == m.HelloReply(m.PROTOCOL_VERSION, PUB_PORT, ())


def test_meta_query_sync_request_and_heartbeat_replies() -> None:
    state = new_state()
    join(state, 1, [BIG])
    assert only_reply(send(state, 1, m.MetaQuery(BIG.digest)), 1) == m.MetaReply(BIG)
    assert isinstance(only_reply(send(state, 1, m.MetaQuery(SMALL.digest)), 1), m.ErrorReply)
    snapshot = only_reply(send(state, 1, m.SyncRequest()), 1)
    assert snapshot == state.snapshot()
    # One file event (big.bin added): what peers follow; the peer topic has two.
    assert isinstance(snapshot, m.Snapshot) and snapshot.seq == state.seq == 1
    assert state.peer_seq == 2
    assert only_reply(send(state, 1, m.Heartbeat()), 1) == m.Pong(1)


def test_unknown_sender_is_asked_to_rejoin() -> None:
    state = new_state()
    for message in (m.Heartbeat(), m.Have(()), m.Goodbye(False), m.Complete(SMALL.digest)):
        assert only_reply(send(state, 7, message), 7) == m.Rejoin()
    assert state.peers == {} and state.seq == 0


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
    [(target, listing)] = state.handle(b"tool", m.ListQuery(), ADDRESS, 0.0).sends
    assert target == b"tool"
    assert isinstance(listing, m.Listing)
    assert listing.seq == state.seq
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
        [(_, listing)] = state.handle(b"tool", m.ListQuery(), ADDRESS, now_s).sends
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
    assert state.expire(3.0).blocks == []
    out = state.expire(3.5)
    assert out.blocks == [display.Disconnect(1, [], "expired")]
    assert [e.peer_id for e in events_of(out, PeerLeft)] == [1]
    assert list(state.peers) == [2]
    assert state.next_expiry_s() == 2.0 + EXPIRY_S
    later = state.expire(5.5)
    assert later.blocks == [display.Disconnect(2, ["small.txt"], "expired")]
    assert state.next_expiry_s() is None


def test_any_message_counts_as_a_sign_of_life() -> None:
    state = new_state()
    join(state, 1, now_s=0.0)
    send(state, 1, m.SyncRequest(), now_s=10.0)
    assert state.expire(12.0).events == []
    assert state.next_expiry_s() == 10.0 + EXPIRY_S  # found by that walk
    # An expired peer's socket is unknown from then on.
    state.expire(20.0)
    assert only_reply(send(state, 1, m.Heartbeat(), now_s=21.0), 1) == m.Rejoin()


# --- conflicts ----------------------------------------------------------------------------


def test_same_name_other_content_is_refused_and_excused() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    before = state.snapshot().files
    out = join(state, 2, [OTHER_SMALL])
    welcome = only_reply(out, 2)
    assert isinstance(welcome, m.Welcome)
    assert [r.name for r in welcome.refused] == ["small.txt"]
    assert "other content" in welcome.refused[0].reason
    assert [e for e in out.events if isinstance(e, Excused)] == [
        Excused(out.events[-1].seq, 2, "small.txt")
    ]
    assert out.blocks == [display.Connect(2, [])]
    # Nothing of the first file changes.
    assert state.files["small.txt"].meta == SMALL
    assert list(state.files["small.txt"].holders) == [1]
    assert state.snapshot().files == before
    assert state.peers[2].excused == {"small.txt"}
    assert OTHER_SMALL.digest not in state.by_digest


def test_same_name_same_content_is_a_second_source() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    out = join(state, 2, [SMALL])
    assert [type(e) for e in out.events] == [PeerJoined, FileCompleted]
    assert events_of(out, FileCompleted) == [FileCompleted(state.peer_seq, 2, "small.txt")]
    assert out.blocks == [display.Connect(2, [("small.txt", 3)])]
    assert sorted(state.files["small.txt"].holders) == [1, 2]


# --- availability -------------------------------------------------------------------------


def test_file_unavailable_when_its_only_holder_leaves_and_back_with_a_partial() -> None:
    state = new_state()
    join(state, 1, [BIG, EMPTY])
    join(state, 2)
    left = send(state, 1, m.Goodbye(True))
    lost = sorted((e.name, e.available) for e in events_of(left, Availability))
    assert lost == [("big.bin", False), ("empty", False)]
    assert state.available_names() == []
    # A partial that does not cover the file changes nothing.
    part = join(state, 3, partials=[PartialOffer(BIG, (0, 64))])
    assert events_of(part, Availability) == []
    back = join(state, 4, partials=[PartialOffer(BIG, (0, 10, 64, 130))])
    # Peers 3 and 4 together cover every chunk again.
    assert events_of(back, Availability) == [Availability(state.seq, "big.bin", True)]
    assert state.available_names() == ["big.bin"]


def test_partial_offer_of_a_new_file_starts_unavailable() -> None:
    state = new_state()
    out = join(state, 1, partials=[PartialOffer(BIG, (0, 64))])
    added = events_of(out, FileAdded)
    assert len(added) == 1 and not added[0].file.available
    assert out.blocks == [display.Connect(1, [])]  # partials are not offers
    assert state.available_names() == []


# --- leaving --------------------------------------------------------------------------------


def test_goodbye_waits_until_every_other_peer_holds_my_files() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2)
    assert state.leave_blockers(1) == ["peer 2 lacks 'small.txt'"]
    out = send(state, 1, m.Goodbye(False))
    assert only_reply(out, 1) == m.NotYet(state.seq)
    assert out.blocks == [] and out.events == [] and 1 in state.peers
    fetch_whole(state, 2, SMALL)
    assert state.leave_blockers(1) == []
    out = send(state, 1, m.Goodbye(False))
    assert only_reply(out, 1) == m.Farewell()
    assert out.blocks == [display.Disconnect(1, [])]


def test_goodbye_waits_while_i_lack_an_available_file() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2, [BIG])
    assert state.leave_blockers(2) == ["peer 1 lacks 'big.bin'", "it lacks 'small.txt'"]
    assert isinstance(only_reply(send(state, 2, m.Goodbye(False)), 2), m.NotYet)


def test_excused_peer_does_not_block_leaving() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2, [OTHER_SMALL])
    assert state.leave_blockers(1) == []
    assert state.leave_blockers(2) == []
    assert only_reply(send(state, 1, m.Goodbye(False)), 1) == m.Farewell()


def test_forced_goodbye_leaves_regardless() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2)
    assert state.leave_blockers(1)
    assert only_reply(send(state, 1, m.Goodbye(True)), 1) == m.Farewell()
    assert list(state.peers) == [2]


# --- peers that cannot hold a file, and files withdrawn ---------------------------------


def test_a_peer_that_cannot_hold_a_file_is_excused_until_it_can() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    out = send(state, 2, m.CannotHold("big.bin", "a folder has that name in its Shared folder"))
    assert [(e.peer_id, e.name) for e in events_of(out, Excused)] == [(2, "big.bin")]
    assert state.leave_blockers(1) == []  # nobody waits for it
    assert send(state, 2, m.CannotHold("big.bin", "again")).events == []  # said once
    out = send(state, 2, m.CanHoldAgain("big.bin"))
    assert [(e.peer_id, e.name) for e in events_of(out, ExcuseWithdrawn)] == [(2, "big.bin")]
    assert state.leave_blockers(1) == ["peer 2 lacks 'big.bin'"]
    assert send(state, 2, m.CanHoldAgain("big.bin")).events == []
    # An excuse for a name the swarm does not have changes nothing.
    assert send(state, 2, m.CannotHold("nothing.bin", "why")).events == []


def test_a_withdrawn_file_that_others_cover_stays() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2, [BIG])
    join(state, 3)
    out = send(state, 1, m.Withdraw(BIG.digest, "modified"))
    assert [(e.peer_id, e.name) for e in events_of(out, FileDropped)] == [(1, "big.bin")]
    assert events_of(out, FileRemoved) == []
    assert state.files["big.bin"].available
    assert list(state.files["big.bin"].holders) == [2]
    assert "big.bin" not in state.peers[1].complete
    # Peer 1 now lacks it like any peer; its new content is a conflict.
    assert "peer 1 lacks 'big.bin'" in state.leave_blockers(2)
    changed = meta_of_bytes("big.bin", b"new content")
    refused = only_reply(send(state, 1, m.Offer((changed,))), 1)
    assert isinstance(refused, m.Refused)
    assert "big.bin" in state.peers[1].excused


def test_a_withdrawn_file_nobody_else_covers_is_removed_and_its_name_freed() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 64))  # half of it: not enough to go on with
    out = send(state, 1, m.Withdraw(BIG.digest, "deleted"))
    assert [type(e) for e in out.events] == [FileDropped, FileRemoved]
    assert "big.bin" not in state.files and BIG.digest not in state.by_digest
    assert state.snapshot().files == ()
    assert state.leave_blockers(1) == [] and state.leave_blockers(2) == []
    # Reports that were on their way are dropped quietly, not held against
    # the sender; a partial copy of the removed version does not bring it back.
    late = send(state, 2, have(BIG.digest, 64, 130))
    assert late.sends == [] and late.blocks == []
    assert state.peers[2].strikes == 0
    assert send(state, 2, m.Complete(BIG.digest)).sends == []
    assert only_reply(send(state, 2, m.HoldersQuery(BIG.digest, 0, 0)), 2) == m.Holders(
        BIG.digest, ())
    join(state, 3, partials=[PartialOffer(BIG, (0, 64))])
    assert "big.bin" not in state.files
    # The name is free: new content under it is a new file.
    changed = meta_of_bytes("big.bin", b"new content")
    out = send(state, 1, m.Offer((changed,)))
    assert [e.file.digest for e in events_of(out, FileAdded)] == [changed.digest]


def test_a_withdrawal_of_a_file_not_held_changes_nothing() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    assert send(state, 2, m.Withdraw(BIG.digest, "modified")).events == []
    assert send(state, 2, m.Withdraw(SMALL.digest, "modified")).events == []
    assert state.peers[2].strikes == 0


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
        assert state.readiness.ready(pid) == (not state.leave_blockers(pid))
    out = send(state, 3, m.Goodbye(True))  # peer 3 leaves: nobody lacks BIG any more
    assert {p: s.ready for p, s in statuses(out).items()} == {1: True, 2: True}
    send(state, 1, m.Withdraw(BIG.digest, "modified"))
    send(state, 2, m.Withdraw(BIG.digest, "deleted"))  # removed: nobody holds it
    assert "big.bin" not in state.files
    for pid in (1, 2):
        assert state.readiness.ready(pid) and state.leave_blockers(pid) == []


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
