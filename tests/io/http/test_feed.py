"""DashboardFeed: bounded, the wanted flag and its pacing, one wake per burst."""

from __future__ import annotations

import threading

from swarm.io.http.feed import STATUS_INTERVAL_S, WANTED_HOLD_S, DashboardFeed


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_entries_are_numbered_and_only_the_newest_are_kept() -> None:
    feed = DashboardFeed(max_entries=3)
    for n in range(5):
        feed.publish_entry({"event": "chunks", "n": n})
    recent = feed.entries_after(0)
    assert [item.entry_id for item in recent] == [3, 4, 5]
    assert [item.entry["n"] for item in recent] == [2, 3, 4]


def test_entries_after_gives_only_the_newer_ones_oldest_first() -> None:
    feed = DashboardFeed(max_entries=10)
    for n in range(4):
        feed.publish_entry({"n": n})
    assert [item.entry_id for item in feed.entries_after(2)] == [3, 4]
    assert feed.entries_after(4) == []
    assert [item.entry_id for item in feed.entries_after(0)] == [1, 2, 3, 4]


def test_a_reader_too_far_behind_sees_a_gap_not_a_repeat() -> None:
    feed = DashboardFeed(max_entries=2)
    for n in range(6):
        feed.publish_entry({"n": n})
    assert [item.entry_id for item in feed.entries_after(1)] == [5, 6]


def test_status_is_built_only_while_wanted_and_at_most_every_interval() -> None:
    clock = Clock()
    feed = DashboardFeed(clock=clock)
    assert not feed.status_wanted()
    assert feed.next_status_s() is None and not feed.status_due()
    feed.want_status()
    assert feed.status_due()  # nothing published yet: at once
    feed.publish_status({"event": 1})
    assert not feed.status_due()
    assert feed.next_status_s() == clock.now_s + STATUS_INTERVAL_S
    clock.now_s += STATUS_INTERVAL_S
    assert feed.status_due()
    clock.now_s += WANTED_HOLD_S  # nobody asked again
    assert not feed.status_wanted() and not feed.status_due()


def test_status_keeps_what_was_published_and_its_age() -> None:
    clock = Clock()
    feed = DashboardFeed(clock=clock)
    assert feed.status() is None
    status = {"event": 7, "totals": {}}
    feed.publish_status(status)
    clock.now_s += 1.5
    snapshot = feed.status()
    assert snapshot is not None and snapshot.status is status
    assert feed.status_age_s(snapshot) == 1.5


def test_the_tracker_is_woken_when_somebody_starts_watching_not_on_every_read() -> None:
    clock = Clock()
    feed = DashboardFeed(clock=clock)
    wakes: list[None] = []
    feed.on_wanted(lambda: wakes.append(None))
    feed.want_status()
    feed.want_status()
    assert len(wakes) == 1
    clock.now_s += WANTED_HOLD_S + 1
    feed.want_status()
    assert len(wakes) == 2


def test_a_burst_wakes_the_listener_once_until_it_acknowledges() -> None:
    feed = DashboardFeed()
    calls: list[None] = []
    feed.listen(lambda: calls.append(None))
    for n in range(100):
        feed.publish_entry({"n": n})
    feed.publish_status({})
    assert len(calls) == 1
    feed.acknowledge()
    feed.publish_entry({"n": 100})
    assert len(calls) == 2
    feed.listen(None)
    feed.acknowledge()
    feed.publish_entry({"n": 101})
    assert len(calls) == 2


def test_publishers_on_many_threads_lose_and_repeat_nothing() -> None:
    feed = DashboardFeed(max_entries=10_000)
    per_thread = 1000

    def publish(thread: int) -> None:
        for n in range(per_thread):
            feed.publish_entry({"thread": thread, "n": n})

    threads = [threading.Thread(target=publish, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    seen: set[int] = set()
    last = 0
    while any(t.is_alive() for t in threads) or last < 4 * per_thread:
        for item in feed.entries_after(last):
            assert item.entry_id == last + 1  # in order, none skipped
            seen.add(item.entry_id)
            last = item.entry_id
    for thread in threads:
        thread.join()
    assert seen == set(range(1, 4 * per_thread + 1))
    assert sorted((e.entry["thread"], e.entry["n"]) for e in feed.entries_after(0)) == sorted(
        (t, n) for t in range(4) for n in range(per_thread))
