"""Which connection makes room when the dashboard's server is full: given
each connection's phase and since when, pure."""

from __future__ import annotations

import pytest

from swarm.http.admission import Admission, Phase, Slot, longest_waiting, oldest_stream

W, A, S = Phase.WAITING, Phase.ANSWERING, Phase.STREAMING


def test_the_connection_waiting_longest_goes() -> None:
    slots = {"kept-alive": Slot(W, 5.0), "half-sent": Slot(W, 2.0), "idle": Slot(W, 3.0)}
    assert longest_waiting(slots) == "half-sent"


def test_connections_being_answered_or_streaming_never_go_for_room() -> None:
    slots = {"answering": Slot(A, 0.0), "stream": Slot(S, 0.0), "idle": Slot(W, 9.0)}
    assert longest_waiting(slots) == "idle"
    assert longest_waiting({"answering": Slot(A, 0.0), "stream": Slot(S, 1.0)}) is None
    assert longest_waiting({}) is None


def test_of_equals_the_first_made_goes() -> None:
    assert longest_waiting({"first": Slot(W, 1.0), "second": Slot(W, 1.0)}) == "first"
    assert oldest_stream({"a": Slot(W, 0.0), "b": Slot(S, 4.0), "c": Slot(S, 3.0)}) == "c"


def test_below_the_cap_every_connection_is_admitted() -> None:
    table: Admission[str] = Admission(max_connections=2, max_streams=1)
    assert table.admit("a", 0.0).admitted and table.admit("b", 1.0).evicted is None
    assert len(table) == 2


def test_at_the_cap_a_new_connection_takes_the_place_of_the_longest_waiting() -> None:
    table: Admission[str] = Admission(max_connections=3, max_streams=1)
    for key, now_s in (("idle", 0.0), ("page", 1.0), ("slow", 2.0)):
        table.admit(key, now_s)
    table.enter("page", A, 3.0)
    verdict = table.admit("new", 4.0)
    assert verdict.admitted and verdict.evicted == "idle"
    assert set(table.slots) == {"page", "slow", "new"}
    # The page, answered, waits for its next request from then on: the
    # slow head (waiting since 2.0) goes before it.
    table.enter("page", W, 5.0)
    assert table.admit("newer", 6.0).evicted == "slow"
    assert table.admit("newest", 7.0).evicted == "new"


def test_a_head_trickling_in_keeps_the_age_it_began_with() -> None:
    table: Admission[str] = Admission(max_connections=2, max_streams=1)
    table.admit("slowloris", 0.0)
    table.admit("fresh", 5.0)
    table.enter("slowloris", W, 9.0)  # no change of phase: its clock runs on
    assert table.admit("new", 10.0).evicted == "slowloris"


def test_with_none_waiting_the_new_connection_is_refused() -> None:
    table: Admission[str] = Admission(max_connections=2, max_streams=1)
    table.admit("a", 0.0)
    table.admit("b", 0.0)
    table.enter("a", A, 1.0)
    table.enter("b", S, 1.0)
    verdict = table.admit("c", 2.0)
    assert not verdict.admitted and verdict.evicted is None
    assert set(table.slots) == {"a", "b"}


def test_streams_are_bounded_apart_and_the_oldest_ends() -> None:
    table: Admission[str] = Admission(max_connections=8, max_streams=2)
    for key in ("s1", "s2", "s3", "idle"):
        table.admit(key, 0.0)
    assert table.enter("s1", S, 1.0) is None
    assert table.enter("s2", S, 2.0) is None
    assert table.enter("s3", S, 3.0) == "s1"
    assert table.streams() == 2 and "s1" not in table.slots
    # A stream never makes room for a connection: the idle one does.
    for key in "abcde":  # the table full: two streams and six waiting
        assert table.admit(key, 4.0).evicted is None
    assert table.admit("f", 5.0).evicted == "idle"


def test_a_connection_closed_meanwhile_is_left_alone() -> None:
    table: Admission[str] = Admission(max_connections=1, max_streams=1)
    table.admit("gone", 0.0)
    assert table.admit("new", 1.0).evicted == "gone"
    assert table.enter("gone", A, 2.0) is None
    table.leave("gone")
    table.leave("gone")
    assert set(table.slots) == {"new"}


@pytest.mark.parametrize("connections, streams", [(0, 1), (4, 0), (4, 5)])
def test_bounds_that_cannot_work_are_refused(connections: int, streams: int) -> None:
    with pytest.raises(ValueError):
        Admission(connections, streams)
