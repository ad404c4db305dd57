"""Rules (a) and (b) of leaving, from scratch, over scripted swarms."""

from __future__ import annotations

from dataclasses import dataclass, field

from swarm.tracker.leave_rules import unmet_a, unmet_b


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
