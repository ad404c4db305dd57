"""Rule (c) of leaving over scripted timelines: quiet for S seconds since
start and since the last new file."""

from __future__ import annotations

import pytest

from swarm.peer.quiet_clock import QuietClock


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
