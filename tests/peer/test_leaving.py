"""Leaving: whether a peer may leave yet, why not, and when it looks again;
on a fake clock, values in and actions out."""

from __future__ import annotations

from swarm.peer.actions import CheckShared
from swarm.peer.leave_check import LeaveCheck
from swarm.peer.leaving import Leaving
from swarm.peer.mode import Mode
from swarm.peer.quiet_clock import QuietClock
from swarm.protocol.messages import LeaveStatus
from swarm.protocol.output import Outbox
from tests.peer.said import said, without_said

NOT_READY = LeaveStatus(False, "peer 2 lacks 'a.bin'")
READY = LeaveStatus(True, "")


def leaving(quiet_s: float = 5.0, explains_itself: bool = False) -> tuple[Outbox, Leaving]:
    out = Outbox()
    return out, Leaving(out, Mode(), QuietClock(0.0, quiet_s), LeaveCheck(0.0),
                        explains_itself)


def test_every_rule_is_a_reason_to_stay() -> None:
    _, rules = leaving()
    assert rules.blockers(1.0, in_step=False, local={}) == ["not in step with the tracker"]
    assert rules.blockers(1.0, in_step=True, local={}) == [
        "quiet period ends in 4.0 s", "no word from the tracker yet on rules (a) and (b)"]
    rules.status_arrived(NOT_READY, 1.0)
    assert rules.blockers(6.0, in_step=True, local={}) == ["peer 2 lacks 'a.bin'"]
    rules.status_arrived(READY, 6.0)
    assert rules.blockers(6.0, in_step=True, local={}) == []


def test_why_it_stays_is_said_once_per_change_and_it_looks_again_when_due() -> None:
    out, rules = leaving()
    rules.status_arrived(NOT_READY, 0.0)
    rules.look(1.0, True, {})
    rules.look(2.0, True, {})  # the same quiet period: not said again
    assert said(out.take()) == ["not leaving yet: quiet period ends in 4.0 s"]
    assert rules.check.due_s == 5.0  # the end of the quiet period
    rules.look(5.0, True, {})
    assert said(out.take()) == ["not leaving yet: peer 2 lacks 'a.bin'"]
    assert not rules.check.due(1e9)  # only news makes it look again
    rules.status_arrived(READY, 7.0)
    assert rules.check.due(7.0)
    rules.look(7.0, True, {})
    assert out.take() == [CheckShared()]  # every rule holds: one last look at Shared


def test_only_a_watched_peer_just_told_it_may_not_leave_asks_who_it_waits_for() -> None:
    _, watched = leaving(explains_itself=True)
    assert watched.status_arrived(NOT_READY, 0.0)
    assert not watched.status_arrived(NOT_READY, 0.5)  # no news in that
    assert not watched.status_arrived(READY, 1.0)
    _, unwatched = leaving()
    assert not unwatched.status_arrived(NOT_READY, 0.0)


def test_a_get_that_cannot_finish_leaves_with_exit_code_1() -> None:
    out, rules = leaving()
    rules.cannot_finish("'a.bin' is no longer in the swarm")
    assert (rules.exit_code, rules.reason) == (1, "'a.bin' is no longer in the swarm")
    actions = out.take()
    assert without_said(actions) == []
    assert said(actions) == ["cannot finish: 'a.bin' is no longer in the swarm"]
