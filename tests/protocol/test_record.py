"""Record: slotted value classes whose fields come from the annotations, with
checks in ``__post_init__`` -- and ``unchecked``, which skips them for values
a process built itself."""

from __future__ import annotations

import pytest

from swarm.protocol.message_parts import HolderRanges
from swarm.protocol.record import Record, field


class Point(Record):
    x: int
    y: int = 0

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("x below 0")


class Tally(Record, frozen=False):
    seen: set[str] = field(default_factory=set)


def test_fields_come_positional_or_by_keyword_with_defaults() -> None:
    assert Point(1, 2) == Point(x=1, y=2) == Point(1, y=2)
    assert Point(1).y == 0
    assert Point(1, 2).values() == (1, 2)
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, 2, 3)  # type: ignore[call-arg]


def test_a_frozen_record_is_hashable_and_cannot_change() -> None:
    point = Point(1, 2)
    assert {point: "here"}[Point(1, 2)] == "here"
    with pytest.raises(AttributeError):
        point.x = 3  # type: ignore[misc]
    assert point.replace(y=5) == Point(1, 5)


def test_a_mutable_record_gets_a_fresh_default_each_time() -> None:
    first, second = Tally(), Tally()
    first.seen.add("a")
    assert second.seen == set()


def test_the_checks_run_on_every_construction_and_replace() -> None:
    with pytest.raises(ValueError):
        Point(-1)
    with pytest.raises(ValueError):
        Point(1).replace(x=-1)


def test_unchecked_builds_the_same_record_without_the_checks() -> None:
    assert HolderRanges.unchecked(3, "tcp://127.0.0.1:5003", (0, 64)) == HolderRanges(
        3, "tcp://127.0.0.1:5003", (0, 64))
    # What the checks refuse goes through: only for values known to be valid.
    assert Point.unchecked(-1, 0).x == -1
    with pytest.raises(ValueError):
        Point.unchecked(1)  # every field, in order: no defaults filled in
