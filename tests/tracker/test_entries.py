"""The tracker's entries of the --events log (Observe actions): kinds, fields
and order as tools (the --events file, the dashboard's /api/events) read them."""

from __future__ import annotations

from swarm.protocol import messages as m
from swarm.protocol.output import Observe
from tests.tracker.helpers import (
    BIG,
    EMPTY,
    OTHER_SMALL,
    SMALL,
    entries,
    fetch_whole,
    have,
    join,
    new_state,
    send,
)


def test_a_join_is_told_before_the_files_it_brought() -> None:
    state = new_state()
    assert entries(join(state, 1, [SMALL, EMPTY])) == [
        ("join", {"peer": 1, "endpoint": "tcp://127.0.0.1:5001",
                  "offers": ["empty", "small.txt"]}),
        ("file", {"name": "small.txt", "size": SMALL.size_bytes, "digest": SMALL.digest.hex(),
                  "owner": 1}),
        ("complete", {"peer": 1, "file": "small.txt"}),
        ("file", {"name": "empty", "size": 0, "digest": EMPTY.digest.hex(), "owner": 1}),
        ("complete", {"peer": 1, "file": "empty"}),
    ]
    # A second source of a file: its completion only; a conflict: excused.
    assert entries(join(state, 2, [SMALL])) == [
        ("join", {"peer": 2, "endpoint": "tcp://127.0.0.1:5002", "offers": ["small.txt"]}),
        ("complete", {"peer": 2, "file": "small.txt"}),
    ]
    assert entries(join(state, 3, [OTHER_SMALL])) == [
        ("join", {"peer": 3, "endpoint": "tcp://127.0.0.1:5003", "offers": []}),
        ("excused", {"peer": 3, "file": "small.txt"}),
    ]


def test_chunks_then_what_they_made_available() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 64))
    send(state, 1, m.Goodbye(True))  # what is left of big.bin does not cover it
    out = send(state, 2, have(BIG.digest, 60, 130))
    assert entries(out) == [
        ("chunks", {"peer": 2, "file": "big.bin", "chunks": 66, "ranges": [[64, 130]],
                    "brought": False}),
        ("available", {"file": "big.bin"}),
    ]
    # Nothing new: no entry at all.
    assert entries(send(state, 2, have(BIG.digest, 64, 130))) == []
    assert entries(send(state, 2, m.Heartbeat())) == []


def test_a_leave_is_told_before_the_files_it_took_with_it() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2, [SMALL])
    fetch_whole(state, 2, BIG)
    assert entries(send(state, 1, m.Goodbye(True))) == [
        ("leave", {"peer": 1, "reason": "goodbye", "received": []}),
    ]
    assert entries(state.expire(100.0)) == [
        ("leave", {"peer": 2, "reason": "expired", "received": ["big.bin"]}),
        ("lost", {"file": "big.bin"}),
        ("lost", {"file": "small.txt"}),
    ]


def test_excuses_drops_and_removals() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2, [SMALL])
    assert entries(send(state, 2, m.CannotHold("big.bin", "a folder"))) == [
        ("excused", {"peer": 2, "file": "big.bin"})]
    assert entries(send(state, 2, m.CanHoldAgain("big.bin"))) == [
        ("unexcused", {"peer": 2, "file": "big.bin"})]
    assert entries(send(state, 1, m.Withdraw(BIG.digest, "deleted"))) == [
        ("dropped", {"peer": 1, "file": "big.bin"}),
        ("removed", {"file": "big.bin"}),
    ]


def test_the_entries_come_last_in_a_call_after_what_they_tell() -> None:
    state = new_state()
    out = join(state, 1, [SMALL])
    kinds = [type(a) for a in out]
    first_entry = kinds.index(Observe)
    assert all(kind is Observe for kind in kinds[first_entry:])
    assert len(kinds) - first_entry == 3  # join, file, complete
