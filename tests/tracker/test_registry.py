"""Who holds what, as the tracker keeps it: chunk reports and completions,
conflicting offers, availability, excuses and withdrawn files."""

from __future__ import annotations

from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.events import (
    Availability,
    Excused,
    ExcuseWithdrawn,
    FileAdded,
    FileCompleted,
    FileDropped,
    FileRemoved,
    PeerJoined,
    PeerLeft,
)
from swarm.protocol.message_parts import HaveReport, PartialOffer
from swarm.protocol.meta import meta_of_bytes
from swarm.tracker.leaving import leave_blockers
from swarm.tracker.queries import snapshot
from tests.tracker.helpers import (
    BIG,
    EMPTY,
    OTHER_SMALL,
    SMALL,
    blocks,
    events,
    events_of,
    fetch_whole,
    have,
    join,
    new_state,
    only_reply,
    replies,
    send,
    sends,
    statuses,
)

# --- chunks and completion ---------------------------------------------------------------


def test_have_prints_only_new_chunk_ranges() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    first = send(state, 2, have(BIG.digest, 0, 10, 20, 30))
    assert blocks(first) == [display.Acquired(2, "big.bin", 130, [(0, 10), (20, 30)])]
    assert blocks(send(state, 2, have(BIG.digest, 0, 10))) == []
    overlapping = send(state, 2, have(BIG.digest, 5, 25))
    assert blocks(overlapping) == [display.Acquired(2, "big.bin", 130, [(10, 20)])]
    assert blocks(send(state, 2, have(BIG.digest, 129, 130))) == [
        display.Acquired(2, "big.bin", 130, [(129, 130)])
    ]


def test_have_prints_nothing_for_unknown_files_bad_ranges_or_brought_files() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    join(state, 2)
    assert blocks(send(state, 2, have(BIG.digest, 0, 5))) == []
    assert blocks(send(state, 2, have(SMALL.digest, 0, 4))) == []  # SMALL has 3 chunks
    small = state.registry.files["small.txt"]
    assert 2 not in small.holders or not small.holders[2]
    assert blocks(send(state, 1, have(SMALL.digest, 0, 3))) == []  # peer 1 brought it


def test_complete_records_a_received_file_listed_on_disconnect() -> None:
    state = new_state()
    join(state, 1, [SMALL, BIG, EMPTY])
    join(state, 2, [meta_of_bytes("zeta.txt", b"brought")])
    completed = fetch_whole(state, 2, SMALL)
    assert events_of(completed, FileCompleted) == [
        FileCompleted(state.registry.peer_seq, 2, "small.txt")]
    fetch_whole(state, 2, EMPTY)
    fetch_whole(state, 2, BIG)
    out = send(state, 2, m.Goodbye(True))
    assert only_reply(out, 2) == m.Farewell()
    # Sorted, and the brought zeta.txt is not among the received.
    assert blocks(out) == [display.Disconnect(2, ["big.bin", "empty", "small.txt"])]
    assert events_of(out, PeerLeft) == [PeerLeft(events(out)[0].seq, 2)]
    # zeta.txt had no other holder: leaving makes it unavailable.
    assert events_of(out, Availability) == [Availability(state.registry.seq, "zeta.txt", False)]


def test_complete_before_every_chunk_is_reported_is_refused() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 129))
    out = send(state, 2, m.Complete(BIG.digest))
    assert isinstance(only_reply(out, 2), m.ErrorReply)
    assert events(out) == []
    assert "big.bin" not in state.registry.peers[2].complete
    assert isinstance(only_reply(send(state, 2, m.Complete(SMALL.digest)), 2), m.ErrorReply)


def test_complete_brings_the_last_chunks_as_a_have_would() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 64))
    last = (HaveReport(BIG.digest, (64, 130)),)
    out = send(state, 2, m.Complete(BIG.digest, last))
    assert blocks(out) == [display.Acquired(2, "big.bin", 130, [(64, 130)])]
    assert events_of(out, FileCompleted) == [FileCompleted(state.registry.peer_seq, 2,
                                                           "big.bin")]
    assert "big.bin" in state.registry.peers[2].complete
    assert replies(out) == []


def test_complete_whose_chunks_do_not_make_the_file_whole_is_refused() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    out = send(state, 2, m.Complete(BIG.digest, (HaveReport(BIG.digest, (0, 100)),)))
    # The chunks it brings are taken, as a Have's; the claim is not.
    assert blocks(out) == [display.Acquired(2, "big.bin", 130, [(0, 100)])]
    assert isinstance(only_reply(out, 2), m.ErrorReply)
    assert "big.bin" not in state.registry.peers[2].complete
    assert events_of(out, FileCompleted) == []


def test_offer_after_join_adds_a_file_once_and_refuses_a_conflict() -> None:
    state = new_state()
    join(state, 1)
    join(state, 2)
    out = send(state, 1, m.Offer((SMALL,)))
    assert [type(e) for e in events(out)] == [FileAdded, FileCompleted]
    assert replies(out) == []
    # Both were ready in an empty swarm; neither is now, and each hears why.
    assert statuses(out) == {1: m.LeaveStatus(False, "1 peer still lacks 'small.txt'"),
                             2: m.LeaveStatus(False, "missing 'small.txt'")}
    assert events(send(state, 1, m.Offer((SMALL,)))) == []
    refused = only_reply(send(state, 2, m.Offer((OTHER_SMALL,))), 2)
    assert isinstance(refused, m.Refused)
    assert [r.name for r in refused.refused] == ["small.txt"]

# --- conflicts ----------------------------------------------------------------------------


def test_same_name_other_content_is_refused_and_excused() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    before = snapshot(state.registry).files
    out = join(state, 2, [OTHER_SMALL])
    welcome = only_reply(out, 2)
    assert isinstance(welcome, m.Welcome)
    assert [r.name for r in welcome.refused] == ["small.txt"]
    assert "other content" in welcome.refused[0].reason
    assert [e for e in events(out) if isinstance(e, Excused)] == [
        Excused(events(out)[-1].seq, 2, "small.txt")
    ]
    assert blocks(out) == [display.Connect(2, [])]
    # Nothing of the first file changes.
    assert state.registry.files["small.txt"].meta == SMALL
    assert list(state.registry.files["small.txt"].holders) == [1]
    assert snapshot(state.registry).files == before
    assert state.registry.peers[2].excused == {"small.txt"}
    assert OTHER_SMALL.digest not in state.registry.by_digest


def test_same_name_same_content_is_a_second_source() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    out = join(state, 2, [SMALL])
    assert [type(e) for e in events(out)] == [PeerJoined, FileCompleted]
    assert events_of(out, FileCompleted) == [FileCompleted(state.registry.peer_seq, 2, "small.txt")]
    assert blocks(out) == [display.Connect(2, [("small.txt", 3)])]
    assert sorted(state.registry.files["small.txt"].holders) == [1, 2]


# --- availability -------------------------------------------------------------------------


def test_file_unavailable_when_its_only_holder_leaves_and_back_with_a_partial() -> None:
    state = new_state()
    join(state, 1, [BIG, EMPTY])
    join(state, 2)
    left = send(state, 1, m.Goodbye(True))
    lost = sorted((e.name, e.available) for e in events_of(left, Availability))
    assert lost == [("big.bin", False), ("empty", False)]
    assert state.registry.available_names() == []
    # A partial that does not cover the file changes nothing.
    part = join(state, 3, partials=[PartialOffer(BIG, (0, 64))])
    assert events_of(part, Availability) == []
    back = join(state, 4, partials=[PartialOffer(BIG, (0, 10, 64, 130))])
    # Peers 3 and 4 together cover every chunk again.
    assert events_of(back, Availability) == [Availability(state.registry.seq, "big.bin", True)]
    assert state.registry.available_names() == ["big.bin"]


def test_partial_offer_of_a_new_file_starts_unavailable() -> None:
    state = new_state()
    out = join(state, 1, partials=[PartialOffer(BIG, (0, 64))])
    added = events_of(out, FileAdded)
    assert len(added) == 1 and not added[0].file.available
    # Partials are not offers: the chunks are its ACQUIRED lines, after its CONNECT.
    assert blocks(out) == [display.Connect(1, []),
                           display.Acquired(1, "big.bin", 130, [(0, 64)], brought=True)]
    assert state.registry.available_names() == []

# --- peers that cannot hold a file, and files withdrawn ---------------------------------


def test_a_peer_that_cannot_hold_a_file_is_excused_until_it_can() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    out = send(state, 2, m.CannotHold("big.bin", "a folder has that name in its Shared folder"))
    assert [(e.peer_id, e.name) for e in events_of(out, Excused)] == [(2, "big.bin")]
    assert leave_blockers(state.registry, 1) == []  # nobody waits for it
    assert events(send(state, 2, m.CannotHold("big.bin", "again"))) == []  # said once
    out = send(state, 2, m.CanHoldAgain("big.bin"))
    assert [(e.peer_id, e.name) for e in events_of(out, ExcuseWithdrawn)] == [(2, "big.bin")]
    assert leave_blockers(state.registry, 1) == ["peer 2 lacks 'big.bin'"]
    assert events(send(state, 2, m.CanHoldAgain("big.bin"))) == []
    # An excuse for a name the swarm does not have changes nothing.
    assert events(send(state, 2, m.CannotHold("nothing.bin", "why"))) == []


def test_a_withdrawn_file_that_others_cover_stays() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2, [BIG])
    join(state, 3)
    out = send(state, 1, m.Withdraw(BIG.digest, "modified"))
    assert [(e.peer_id, e.name) for e in events_of(out, FileDropped)] == [(1, "big.bin")]
    assert events_of(out, FileRemoved) == []
    assert state.registry.files["big.bin"].available
    assert list(state.registry.files["big.bin"].holders) == [2]
    assert "big.bin" not in state.registry.peers[1].complete
    # Peer 1 now lacks it like any peer; its new content is a conflict.
    assert "peer 1 lacks 'big.bin'" in leave_blockers(state.registry, 2)
    changed = meta_of_bytes("big.bin", b"new content")
    refused = only_reply(send(state, 1, m.Offer((changed,))), 1)
    assert isinstance(refused, m.Refused)
    assert "big.bin" in state.registry.peers[1].excused


def test_a_withdrawn_file_nobody_else_covers_is_removed_and_its_name_freed() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 64))  # half of it: not enough to go on with
    out = send(state, 1, m.Withdraw(BIG.digest, "deleted"))
    assert [type(e) for e in events(out)] == [FileDropped, FileRemoved]
    assert "big.bin" not in state.registry.files and BIG.digest not in state.registry.by_digest
    assert snapshot(state.registry).files == ()
    assert leave_blockers(state.registry, 1) == [] and leave_blockers(state.registry, 2) == []
    # Reports that were on their way are dropped quietly, not held against
    # the sender; a partial copy of the removed version does not bring it back.
    late = send(state, 2, have(BIG.digest, 64, 130))
    assert sends(late) == [] and blocks(late) == []
    assert state.registry.peers[2].strikes == 0
    assert sends(send(state, 2, m.Complete(BIG.digest))) == []
    assert only_reply(send(state, 2, m.HoldersQuery(BIG.digest, 0, 0)), 2) == m.Holders(
        BIG.digest, ())
    join(state, 3, partials=[PartialOffer(BIG, (0, 64))])
    assert "big.bin" not in state.registry.files
    # The name is free: new content under it is a new file.
    changed = meta_of_bytes("big.bin", b"new content")
    out = send(state, 1, m.Offer((changed,)))
    assert [e.file.digest for e in events_of(out, FileAdded)] == [changed.digest]


def test_a_withdrawal_of_a_file_not_held_changes_nothing() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    assert events(send(state, 2, m.Withdraw(BIG.digest, "modified"))) == []
    assert events(send(state, 2, m.Withdraw(SMALL.digest, "modified"))) == []
    assert state.registry.peers[2].strikes == 0
