"""What a restarted peer brings: the chunks it kept from an earlier run (the
partials of its Join) are its ACQUIRED lines under its new id, shown once
each right after its CONNECT block, so that each id's CONNECT offers and
ACQUIRED lines are what it holds, and every file of its DISCONNECT block has
all of its chunks among its ACQUIRED lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.chunks import CHUNK_SIZE_BYTES, ChunkSet, Layout
from swarm.protocol.events import Availability, FileAdded
from swarm.protocol.message_parts import HaveReport, PartialOffer
from swarm.protocol.meta import FileMeta, file_digest, meta_of_bytes
from swarm.protocol.output import Action
from swarm.tracker.state import TrackerState
from tests.tracker.helpers import (
    BIG,
    EXPIRY_S,
    OTHER_SMALL,
    SMALL,
    blocks,
    entries,
    events_of,
    fetch_whole,
    have,
    join,
    new_state,
    only_reply,
    said,
    send,
    sender,
)


def partial(meta: FileMeta, *flat: int) -> PartialOffer:
    return PartialOffer(meta, flat)


def brought(peer: int, meta: FileMeta, *ranges: tuple[int, int]) -> display.Acquired:
    return display.Acquired(peer, meta.name, meta.chunks, list(ranges), brought=True)


def acquired(actions: list[Action], peer: int, name: str) -> list[tuple[int, int]]:
    """The ranges of every ACQUIRED line of one peer and file, in order."""
    return [r for b in blocks(actions)
            if isinstance(b, display.Acquired) and b.peer_id == peer and b.name == name
            for r in b.ranges]


def strikes(state: TrackerState, peer: int) -> int:
    return state.registry.peers[peer].strikes


# --- a peer restarted while the tracker runs -------------------------------------------------


def test_a_restarted_peer_shows_what_it_kept_after_its_connect_then_only_the_rest() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 64))
    # Killed with chunks 64..100 stored but not yet reported, then started
    # again in its folder before its old self expired: a new peer, peer 3.
    out = join(state, 3, partials=[partial(BIG, 0, 100)])
    assert blocks(out) == [display.Connect(3, []), brought(3, BIG, (0, 100))]
    assert said(out) == ["peer 3 (peer) joined from tcp://127.0.0.1:5003 offering 0 file(s)"]
    # Its reports from now on: only what is new is shown.
    fetched = send(state, 3, have(BIG.digest, 0, 130))
    assert blocks(fetched) == [display.Acquired(3, "big.bin", 130, [(100, 130)])]
    send(state, 3, m.Complete(BIG.digest))
    expired = state.expire(EXPIRY_S + 1)  # peers 1 and 2 were silent; 3 too, by then
    disconnects = {b.peer_id: b for b in blocks(expired) if isinstance(b, display.Disconnect)}
    assert disconnects[2].received == [] and disconnects[3].received == ["big.bin"]
    every = ChunkSet()
    for start, end in acquired(out + fetched, 3, "big.bin"):
        assert every.add(start, end) == [(start, end)], "a chunk shown twice"
    assert every == ChunkSet.full(130)


def test_brought_chunks_are_not_bytes_moved_through_the_swarm() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2, partials=[partial(BIG, 0, 64)])
    assert state.figures().moved_bytes == 0
    send(state, 2, have(BIG.digest, 64, 66))
    assert state.figures().moved_bytes == 2 * CHUNK_SIZE_BYTES


def test_several_partials_are_shown_by_name_each_once() -> None:
    state = new_state()
    join(state, 1, [BIG, SMALL])
    out = join(state, 2, partials=[partial(SMALL, 1, 2), partial(BIG, 0, 10, 20, 30),
                                   partial(BIG, 5, 25)])
    assert blocks(out) == [display.Connect(2, []), brought(2, BIG, (0, 10), (20, 30)),
                           brought(2, BIG, (10, 20)), brought(2, SMALL, (1, 2))]


def test_a_partial_of_a_file_it_also_offers_whole_adds_nothing() -> None:
    state = new_state()
    out = join(state, 1, [BIG], partials=[partial(BIG, 0, 64)])
    assert blocks(out) == [display.Connect(1, [("big.bin", 130)])]


# --- a tracker that does not know the file ----------------------------------------------------


def test_a_partial_of_a_file_the_swarm_does_not_know_brings_the_file() -> None:
    """After a tracker restart, what peers kept is all the swarm has: the
    file is added, unavailable until the partials cover it."""
    state = new_state()
    out = join(state, 1, partials=[partial(BIG, 0, 64)])
    assert blocks(out) == [display.Connect(1, []), brought(1, BIG, (0, 64))]
    assert [e.owner for e in events_of(out, FileAdded)] == [1]
    assert state.registry.available_names() == []
    back = join(state, 2, partials=[partial(BIG, 60, 130)])
    assert blocks(back) == [display.Connect(2, []), brought(2, BIG, (60, 130))]
    assert events_of(back, Availability) == [Availability(state.registry.seq, "big.bin", True)]


def test_chunks_no_peer_ever_had_are_believed_from_a_join_and_struck_from_a_report() -> None:
    """A Have report of chunks nobody had to give is struck: the sender
    cannot have fetched them.  A join's partial is different: pieces the
    peer verified on its own disk against the file's hashes as it started."""
    state = new_state()
    join(state, 1, partials=[partial(BIG, 0, 64)])  # the swarm has seen 0..64 only
    join(state, 2)
    out = send(state, 2, have(BIG.digest, 64, 130))
    assert blocks(out) == [] and strikes(state, 2) == 1
    assert "no peer ever had them to give" in said(out)[0]
    out = join(state, 3, partials=[partial(BIG, 64, 130)])
    assert blocks(out) == [display.Connect(3, []), brought(3, BIG, (64, 130))]
    assert strikes(state, 3) == 0
    # And from now on, the rest of the file is there to be fetched.
    assert blocks(send(state, 2, have(BIG.digest, 64, 130))) == [
        display.Acquired(2, "big.bin", 130, [(64, 130)])]


# --- partials the tracker does not take ---------------------------------------------------------


def test_a_partial_of_a_name_the_swarm_has_with_other_content_is_refused() -> None:
    state = new_state()
    join(state, 1, [SMALL])
    out = join(state, 2, partials=[partial(OTHER_SMALL, 0, 1)])
    assert blocks(out) == [display.Connect(2, [])]
    assert said(out)[0] == ("peer 2: partial 'small.txt' has other content than the "
                            "swarm's; ignored")
    assert 2 not in state.registry.files["small.txt"].holders


def test_a_partial_of_a_removed_file_does_not_bring_it_back() -> None:
    state = new_state()
    join(state, 1, [BIG])
    send(state, 1, m.Withdraw(BIG.digest, "deleted"))
    out = join(state, 2, partials=[partial(BIG, 0, 64)])
    assert blocks(out) == [display.Connect(2, [])]
    assert said(out)[0] == "peer 2: partial 'big.bin' is of a file removed from the swarm; ignored"
    assert "big.bin" not in state.registry.files


def test_a_partial_of_the_same_bytes_under_another_name_is_a_file_of_its_own() -> None:
    state = new_state()
    data = bytes(i % 253 for i in range(130 * CHUNK_SIZE_BYTES))
    same, renamed = meta_of_bytes("same.bin", data), meta_of_bytes("renamed.bin", data)
    assert same.digest != renamed.digest  # the digest commits to the name
    join(state, 1, [same])
    out = join(state, 2, partials=[partial(renamed, 0, 5)])
    assert blocks(out) == [display.Connect(2, []), brought(2, renamed, (0, 5))]
    assert [e.file.name for e in events_of(out, FileAdded)] == ["renamed.bin"]


# --- the tracker forgot a living peer ----------------------------------------------------------


def test_a_rejoin_brings_everything_again_under_the_new_id() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    first = send(state, 2, have(BIG.digest, 0, 64), now_s=1.0)
    assert blocks(first) == [display.Acquired(2, "big.bin", 130, [(0, 64)])]
    send(state, 1, m.Heartbeat(), now_s=EXPIRY_S + 1.5)
    expired = state.expire(EXPIRY_S + 2)  # peer 2 was silent: forgotten
    assert blocks(expired) == [display.Disconnect(2, [], "expired")]
    # Its next request is answered with Rejoin; it joins again, same socket,
    # with what it holds now (and a report on its way since).
    assert only_reply(send(state, 2, m.Heartbeat(), now_s=EXPIRY_S + 2), 2) == m.Rejoin()
    again = join(state, 2, partials=[partial(BIG, 0, 80)], now_s=EXPIRY_S + 2)
    assert blocks(again) == [display.Connect(3, []), brought(3, BIG, (0, 80))]
    late = state.handle(sender(2), have(BIG.digest, 64, 80), "127.0.0.1", EXPIRY_S + 2)
    assert blocks(late) == []  # already shown under its new id
    # A second Join on the same socket while it is known prints nothing.
    twice = join(state, 2, partials=[partial(BIG, 0, 80)], now_s=EXPIRY_S + 2)
    assert blocks(twice) == []
    assert only_reply(twice, 2) == m.ErrorReply("already joined as peer 3")


# --- the events log and the cost -----------------------------------------------------------------


def test_the_entries_tell_brought_chunks_after_the_join() -> None:
    state = new_state()
    join(state, 1, [BIG])
    out = join(state, 2, partials=[partial(BIG, 0, 64)])
    assert entries(out)[:2] == [
        ("join", {"peer": 2, "endpoint": "tcp://127.0.0.1:5002", "offers": []}),
        ("chunks", {"peer": 2, "file": "big.bin", "chunks": 64, "ranges": [[0, 64]],
                    "brought": True}),
    ]
    reported = send(state, 2, have(BIG.digest, 64, 130))
    assert entries(reported)[0] == ("chunks", {"peer": 2, "file": "big.bin", "chunks": 66,
                                               "ranges": [[64, 130]], "brought": False})


def big_meta(name: str, size_bytes: int) -> FileMeta:
    """A file's meta without its bytes (the hashes are made up: the tracker
    never sees data)."""
    layout = Layout.for_size(size_bytes)
    hashes = bytes(32 * layout.pieces)
    return FileMeta(name, size_bytes,
                    file_digest(name, size_bytes, layout.piece_chunks, hashes), hashes)


def test_a_48_mib_partial_is_one_block_of_ranges() -> None:
    meta = big_meta("movie.mkv", 48 << 20)
    assert meta.chunks == 98_304
    every_other_piece = [x for p in range(0, meta.layout.pieces, 2)
                         for x in meta.layout.piece_chunk_range(p)]
    state = new_state()
    out = join(state, 1, partials=[PartialOffer(meta, tuple(every_other_piece))])
    (block,) = [b for b in blocks(out) if isinstance(b, display.Acquired)]
    assert len(block.ranges) == meta.layout.pieces // 2
    text = display.render(block)
    assert text.count("\n") == meta.chunks // 2
    assert text.startswith("PEER 1 ACQUIRED: CHUNK 1/98304 movie.mkv\n")


# --- each id on its own, whatever the order ------------------------------------------------------

PIECES = 5  # of BIG's 130 chunks: 26 each, as flat ranges
RANGES = [(p * 26, (p + 1) * 26) for p in range(PIECES)]


def flat(pieces: set[int]) -> tuple[int, ...]:
    return tuple(ChunkSet(RANGES[p] for p in pieces).to_flat())


@given(kept=st.sets(st.integers(0, PIECES - 1)),
       reports=st.lists(st.sets(st.integers(0, PIECES - 1), min_size=1), max_size=6))
def test_each_id_shows_every_chunk_of_what_it_received_exactly_once(
        kept: set[int], reports: list[set[int]]) -> None:
    state = new_state()
    join(state, 1, [BIG])
    out = join(state, 2, partials=[PartialOffer(BIG, flat(kept))] if kept else [])
    if kept:  # what it kept comes first, all of it, right after its CONNECT
        assert blocks(out)[1:] == [brought(2, BIG, *ChunkSet(RANGES[p] for p in kept).ranges())]
    for report in reports:
        out += send(state, 2, m.Have((HaveReport(BIG.digest, flat(report)),)))
    out += fetch_whole(state, 2, BIG)
    out += send(state, 2, m.Goodbye(True))
    shown = ChunkSet()
    for start, end in acquired(out, 2, "big.bin"):
        assert shown.add(start, end) == [(start, end)], "a chunk shown twice"
    assert shown == ChunkSet.full(BIG.chunks)
    assert [b for b in blocks(out) if isinstance(b, display.Disconnect)] == [
        display.Disconnect(2, ["big.bin"])]
