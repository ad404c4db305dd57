"""RateMeter: a sliding-window rate, driven by a fake clock."""

from __future__ import annotations

from swarm.tracker.rate_meter import BUCKET_S, MIN_SPAN_S, WINDOW_S, RateMeter


def test_rate_is_the_amount_in_the_window_over_the_window() -> None:
    meter = RateMeter(started_s=0.0)
    for t in range(10):
        meter.add(1000, float(t))
    assert meter.rate(9.0) == 3000 / WINDOW_S  # amounts at 7, 8 and 9 s


def test_a_young_meter_divides_by_its_age() -> None:
    meter = RateMeter(started_s=100.0)
    meter.add(1000, 101.0)
    assert meter.rate(101.0) == 1000.0
    meter = RateMeter(started_s=100.0)
    meter.add(1000, 100.1)
    assert meter.rate(100.1) == 1000 / MIN_SPAN_S  # not 10,000 B/s from 0.1 s


def test_idle_meter_falls_to_zero() -> None:
    meter = RateMeter(started_s=0.0)
    meter.add(0.1, 1.0)
    meter.add(0.2, 1.0)
    assert meter.rate(1.0 + WINDOW_S + 0.01) == 0.0


def test_memory_is_bounded_by_the_window_not_the_feed() -> None:
    meter = RateMeter(started_s=0.0)
    for i in range(100_000):
        meter.add(1, i * 0.001)  # a thousand amounts a second for 100 s
    assert len(meter._buckets) <= WINDOW_S / BUCKET_S + 1
    assert abs(meter.rate(99.999) - 1000) < 1000 * BUCKET_S / WINDOW_S + 1
