"""TrackerSync: when a reply says the tracker is ahead of the view, the
events are waited for a moment only once events have come since the Join;
before one has, they were published before the subscription reached the
tracker (ZeroMQ's slow joiner), and a snapshot is asked for at once."""

from __future__ import annotations

from swarm.peer.actions import ToTracker
from swarm.peer.swarm_view import SwarmView
from swarm.peer.sync import SEQ_LAG_GRACE_S, TrackerSync
from swarm.protocol import messages as m
from swarm.protocol.events import FileAdded
from swarm.protocol.output import Outbox
from tests.peer.test_swarm_view import summary


def joined_at(seq: int) -> tuple[TrackerSync, Outbox]:
    """A peer whose Join went out and whose Welcome carried event ``seq``."""
    out = Outbox()
    view = SwarmView()
    sync = TrackerSync(view, out)
    sync.joining()
    view.apply_snapshot(m.Snapshot(seq, ()))
    return sync, out


def snapshot_requests(out: Outbox) -> int:
    return sum(1 for a in out.take()
               if isinstance(a, ToTracker) and isinstance(a.message, m.SyncRequest))


def test_a_reply_ahead_before_any_event_since_the_join_asks_at_once() -> None:
    sync, out = joined_at(7)
    sync.tracker_at(8, now_s=0.25)  # the first heartbeat's Pong
    assert snapshot_requests(out) == 1
    assert sync.next_deadline_s() > 0.25 + SEQ_LAG_GRACE_S  # no grace to wait out
    sync.on_timer(0.25 + SEQ_LAG_GRACE_S)
    assert snapshot_requests(out) == 0  # asked once


def test_a_reply_ahead_once_events_have_come_waits_for_them_a_moment() -> None:
    sync, out = joined_at(7)
    sync.event(FileAdded(8, summary("b"), 2), now_s=0.1)
    sync.tracker_at(10, now_s=0.25)  # the Pong overtook events 9 and 10
    assert snapshot_requests(out) == 0
    assert sync.next_deadline_s() == 0.25 + SEQ_LAG_GRACE_S
    sync.on_timer(0.25 + SEQ_LAG_GRACE_S - 0.01)
    assert snapshot_requests(out) == 0
    sync.on_timer(0.25 + SEQ_LAG_GRACE_S)
    assert snapshot_requests(out) == 1  # they did not come: lost after all


def test_events_that_come_within_the_moment_need_no_snapshot() -> None:
    sync, out = joined_at(7)
    sync.event(FileAdded(8, summary("b"), 2), now_s=0.1)
    sync.tracker_at(9, now_s=0.25)
    sync.event(FileAdded(9, summary("c"), 3), now_s=0.25)
    sync.on_timer(0.25 + SEQ_LAG_GRACE_S)
    assert snapshot_requests(out) == 0


def test_a_join_again_forgets_the_events_heard_before_it() -> None:
    sync, out = joined_at(7)
    sync.event(FileAdded(8, summary("b"), 2), now_s=0.1)
    sync.joining()  # the tracker forgot us: a new subscription may trail the new Join
    sync.tracker_at(12, now_s=5.0)
    assert snapshot_requests(out) == 1


def test_a_reply_not_ahead_asks_for_nothing() -> None:
    sync, out = joined_at(7)
    sync.tracker_at(7, now_s=0.25)
    sync.on_timer(5.0)
    assert snapshot_requests(out) == 0
