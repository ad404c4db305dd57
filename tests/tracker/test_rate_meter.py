"""RateMeter: a sliding-window rate, driven by a fake clock."""

from __future__ import annotations

from swarm.tracker.rate_meter import (
    BUCKET_S,
    COUNT_SLACK_S,
    MAX_PLAUSIBLE_BYTES_S,
    MIN_SPAN_S,
    WINDOW_S,
    CounterMeter,
    RateMeter,
)


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


def test_counter_meter_spreads_growth_over_the_reports_span() -> None:
    meter = CounterMeter(started_s=0.0)
    for t in range(1, 11):
        assert meter.report(t * 2000, float(t)) is None
    assert meter.rate(10.0) == 2000.0
    assert meter.believed_total == 20_000
    # Reports far apart: the rate holds steady instead of leaping at each.
    sparse = CounterMeter(started_s=0.0)
    sparse.report(5000, 5.0)
    assert sparse.rate(5.0) == 1000.0
    assert sparse.rate(7.0) == 1000.0
    sparse.report(10_000, 10.0)
    assert sparse.rate(10.0) == 1000.0


def test_counter_meter_falls_to_zero_when_the_count_stops_growing() -> None:
    meter = CounterMeter(started_s=0.0)
    meter.report(3000, 1.0)
    for t in range(2, 8):
        meter.report(3000, float(t))
    assert meter.rate(7.0) == 0.0
    silent = CounterMeter(started_s=0.0)
    silent.report(3000, 1.0)
    assert silent.rate(1.0 + WINDOW_S + 0.1) == 0.0  # reports stopped long ago


def test_counter_meter_refuses_counts_that_go_back_or_leap() -> None:
    meter = CounterMeter(started_s=0.0)
    assert meter.report(1000, 1.0) is None
    assert meter.report(10, 2.0) is not None  # back: not believed, the new base
    assert meter.report(1010, 3.0) is None
    assert meter.believed_total == 2000
    leap = MAX_PLAUSIBLE_BYTES_S * 10
    assert meter.report(1010 + leap, 4.0) is not None
    assert meter.report(2010 + leap, 5.0) is None
    assert meter.believed_total == 3000


def test_counter_meter_bounds_the_total_by_time_however_fast_the_reports() -> None:
    meter = CounterMeter(started_s=0.0)
    step = MAX_PLAUSIBLE_BYTES_S  # each report claims a second's worth at most speed
    count = 0
    for i in range(1, 1001):  # a thousand reports within a second
        count += step
        meter.report(count, i / 1000)
    assert meter.believed_total <= MAX_PLAUSIBLE_BYTES_S * (1.0 + COUNT_SLACK_S)


def test_counter_meter_memory_is_bounded_by_the_window_not_the_reports() -> None:
    meter = CounterMeter(started_s=0.0)
    for i in range(1, 100_001):
        meter.report(i * 10, i * 0.0001)  # ten thousand reports a second for 10 s
    assert len(meter._samples) <= WINDOW_S / BUCKET_S + 2
    assert meter.believed_total == 1_000_000
    assert abs(meter.rate(10.0) - 100_000) < 100_000 * BUCKET_S / WINDOW_S + 1
