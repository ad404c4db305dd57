"""The leave rules: (a) and (b) over scripted swarms, (c) over scripted timelines."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from swarm.peer.leave_rule import QuietClock, iter_unmet_a, unmet_a, unmet_b


@dataclass
class Holder:
    """A peer as the rules see it: the names it holds whole and is excused from."""

    complete: set[str] = field(default_factory=set)
    excused: set[str] = field(default_factory=set)


def holder(*complete: str, excused: tuple[str, ...] = ()) -> Holder:
    return Holder(set(complete), set(excused))


# --- rule (a): every other living peer holds what I hold --------------------------


def test_a_holds_when_alone() -> None:
    assert unmet_a(1, {1: holder("x", "y")}) == []


def test_a_holds_when_i_hold_nothing() -> None:
    assert unmet_a(1, {1: holder(), 2: holder("z")}) == []


def test_a_lists_every_peer_and_file_missing_sorted() -> None:
    peers = {
        1: holder("b", "a"),
        3: holder("a"),
        2: holder(),
        4: holder("a", "b", "c"),
    }
    assert unmet_a(1, peers) == [(2, "a"), (2, "b"), (3, "b")]


def test_a_counts_an_excused_peer_as_holding() -> None:
    peers = {1: holder("a", "b"), 2: holder("a", excused=("b",))}
    assert unmet_a(1, peers) == []


def test_a_ignores_files_only_others_hold() -> None:
    # Files that others hold and I do not are rule (b)'s business.
    peers = {1: holder("a"), 2: holder("a", "b")}
    assert unmet_a(1, peers) == []


def test_a_does_not_count_my_own_excuses_as_holdings() -> None:
    # I am excused from "b": I do not hold it, so nobody must take it from me.
    peers = {1: holder("a", excused=("b",)), 2: holder("a")}
    assert unmet_a(1, peers) == []


def test_a_tries_the_last_blocker_first_and_only_while_it_still_blocks() -> None:
    peers = {1: holder("a", "b"), 2: holder("a", "b"), 3: holder("a")}
    assert next(iter_unmet_a(1, peers, try_first=(3, "b"))) == (3, "b")
    peers[3].complete.add("b")
    peers[2].complete.discard("a")
    # (3, "b") no longer blocks: the check goes on to what does.
    assert next(iter_unmet_a(1, peers, try_first=(3, "b"))) == (2, "a")
    for stale in ((9, "a"), (1, "a"), (2, "zzz")):  # gone, me, a file I do not hold
        assert next(iter_unmet_a(1, peers, try_first=stale)) == (2, "a")
    peers[2].complete.add("a")
    assert list(iter_unmet_a(1, peers, try_first=(3, "b"))) == []


# --- rule (b): I hold every available file --------------------------------------------


def test_b_holds_when_nothing_is_available() -> None:
    assert unmet_b(holder("a"), []) == []


def test_b_lists_available_files_i_lack_sorted() -> None:
    assert unmet_b(holder("b"), ["c", "a", "b"]) == ["a", "c"]


def test_b_counts_my_excuses_as_holding() -> None:
    assert unmet_b(holder("a", excused=("c",)), ["a", "c"]) == []


def test_b_ignores_files_that_are_not_available() -> None:
    # "b" exists in the swarm but no living peers cover it, so it is not in
    # the available list and cannot hold a peer back.
    me = holder("a")
    assert unmet_b(me, ["a"]) == []


def test_rules_over_a_scripted_swarm() -> None:
    # Three peers; peer 3 holds another "dup" and is excused from the swarm's.
    peers = {1: holder("dup", "one"), 2: holder(), 3: holder("three", excused=("dup",))}
    available = ["dup", "one", "three"]
    assert unmet_a(1, peers) == [(2, "dup"), (2, "one"), (3, "one")]
    assert unmet_b(peers[1], available) == ["three"]
    # Peer 2 fetches everything; peer 3 fetches "one"; peer 1 fetches "three".
    peers[2].complete |= {"dup", "one", "three"}
    peers[3].complete.add("one")
    peers[1].complete.add("three")
    for me in peers:
        assert unmet_a(me, peers) == []
        assert unmet_b(peers[me], available) == []


# --- rule (c): quiet for S seconds since start and since the last new file ---------------


def test_quiet_clock_without_announcements() -> None:
    clock = QuietClock(started_at_s=100.0, quiet_s=5.0)
    assert clock.quiet_until() == 105.0
    assert not clock.holds(100.0)
    assert not clock.holds(104.999)
    assert clock.holds(105.0)  # the boundary itself counts
    assert clock.holds(200.0)


def test_quiet_clock_pushed_forward_by_each_announcement() -> None:
    clock = QuietClock(started_at_s=0.0, quiet_s=5.0)
    clock.file_announced(1.0)  # S seconds from the announcement, not from the start
    assert clock.quiet_until() == 6.0
    clock.file_announced(4.0)
    assert clock.quiet_until() == 9.0
    assert not clock.holds(8.9)
    assert clock.holds(9.0)
    clock.file_announced(12.0)  # after the rule held once, a new file resets it
    assert not clock.holds(16.0)
    assert clock.holds(17.0)


def test_quiet_clock_announcement_before_start_does_not_shorten_it() -> None:
    # A file announced in the snapshot before the peer's clock started.
    clock = QuietClock(started_at_s=10.0, quiet_s=3.0)
    clock.file_announced(8.0)
    assert clock.quiet_until() == 13.0
    assert not clock.holds(12.0)


def test_quiet_clock_with_zero_quiet_period() -> None:
    clock = QuietClock(started_at_s=1.0, quiet_s=0.0)
    assert not clock.holds(0.5)
    assert clock.holds(1.0)
    clock.file_announced(2.0)
    assert not clock.holds(1.5)
    assert clock.holds(2.0)


@pytest.mark.parametrize(
    ("announcements", "now_s", "expected"),
    [
        ([], 9.99, False),
        ([], 10.0, True),
        ([3.0], 12.99, False),
        ([3.0], 13.0, True),
        ([3.0, 7.0], 16.99, False),
        ([3.0, 7.0], 17.0, True),
        ([3.0, 7.0, 7.5], 17.2, False),
        ([3.0, 7.0, 7.5], 17.5, True),
    ],
)
def test_quiet_clock_timelines(announcements: list[float], now_s: float, expected: bool) -> None:
    clock = QuietClock(started_at_s=0.0, quiet_s=10.0)
    for at_s in announcements:
        clock.file_announced(at_s)
    assert clock.holds(now_s) is expected
