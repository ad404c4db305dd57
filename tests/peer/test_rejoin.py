"""A peer the tracker no longer knows (Rejoin): it expired the peer, or it
was killed and started again on its port and knows nobody.  Before its
welcome a peer says again what died with a tracker that is gone; a goodbye
no tracker judged is judged by the one there now; a signal while joining
again ends the peer at once."""

from __future__ import annotations

from swarm.config import Settings
from swarm.peer.actions import CheckShared, ToTracker
from swarm.peer.leaving import REJOIN_HOLD_HEARTBEATS
from swarm.peer.mode import Mode
from swarm.peer.phase import Phase
from swarm.peer.session import JOIN_ANSWER_S
from swarm.peer.state import PeerState
from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.events import Availability, FileAdded
from swarm.protocol.meta import meta_of_bytes
from swarm.protocol.output import Action, Say, Show
from tests.peer.test_state import lone_peer
from tests.peer.test_swarm_view import summary

DOC = meta_of_bytes("doc", b"hello")


def said(actions: list[Action]) -> list[type[m.Message]]:
    return [type(a.message) for a in actions if isinstance(a, ToTracker)]


def phase(state: PeerState) -> Phase:
    return state.phase


def running(now_s: float = 0.0) -> PeerState:
    state = lone_peer([DOC])
    state.start()
    state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), now_s)
    state.on_tracker(m.Welcome(1, m.Snapshot(0, ()), ()), now_s)
    assert state.phase is Phase.RUNNING
    return state


def test_a_hello_not_answered_before_a_rejoin_is_said_again() -> None:
    state = lone_peer([DOC])
    state.start()
    assert said(state.on_tracker(m.Rejoin(), 1.0)) == [m.Hello]
    assert state.phase is Phase.HELLO
    assert said(state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 1.1)) == [m.Join]
    # The answer to the hello said twice changes nothing.
    assert state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 1.2) == []


def test_a_join_is_sent_again_only_when_long_unanswered() -> None:
    state = lone_peer([DOC])
    state.start()
    state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 1.0)
    # The answers to words said before the join come first: nothing lost.
    assert said(state.on_tracker(m.Rejoin(), 1.1)) == []
    assert said(state.on_tracker(m.Rejoin(), 1.0 + JOIN_ANSWER_S - 0.1)) == []
    # Long after it: the join died with a tracker that is gone.
    assert said(state.on_tracker(m.Rejoin(), 1.0 + JOIN_ANSWER_S)) == [m.Join]
    assert said(state.on_tracker(m.Rejoin(), 1.0 + JOIN_ANSWER_S + 0.5)) == []
    state.on_tracker(m.Welcome(1, m.Snapshot(0, ()), ()), 4.5)
    assert state.phase is Phase.RUNNING


def test_a_running_peer_joins_again_with_what_it_holds() -> None:
    state = running()
    actions = state.on_tracker(m.Rejoin(), 5.0)
    joins = [a.message for a in actions if isinstance(a, ToTracker)
             and isinstance(a.message, m.Join)]
    assert [j.files for j in joins] == [(DOC,)]
    assert state.phase is Phase.JOINING


def test_a_signal_while_joining_again_ends_the_peer_at_once() -> None:
    state = running()
    state.on_tracker(m.Rejoin(), 5.0)
    actions = state.request_shutdown(5.5)
    assert state.done and state.exit_code == 0
    assert said(actions) == []  # no goodbye to a tracker that does not know it
    assert [a.block for a in actions if isinstance(a, Show)] == [display.Shutdown(1, ["doc"])]


def test_a_goodbye_by_the_rules_that_no_tracker_judged_is_judged_again() -> None:
    state = running()
    state.on_tracker(m.LeaveStatus(True, ""), 0.1)  # alone: nobody lacks its file
    assert any(isinstance(a, CheckShared) for a in state.on_timer(2.0))  # quiet long enough
    assert said(state.on_shared_checked([], 2.0)) == [m.Goodbye]
    assert phase(state) is Phase.LEAVING
    assert said(state.on_tracker(m.Rejoin(), 6.0)) == [m.Join]
    assert phase(state) is Phase.JOINING and not state.done


def test_a_goodbye_whatever_the_rules_ends_the_peer_on_a_rejoin() -> None:
    state = running()
    state.request_shutdown(6.0)  # a signal: a goodbye the tracker does not check
    assert state.phase is Phase.LEAVING
    state.on_tracker(m.Rejoin(), 6.1)
    assert state.done and state.exit_code == 0


def test_the_new_trackers_events_count_from_its_snapshot_not_the_old_ones() -> None:
    """A tracker started again numbers its events from the start: after the
    new welcome, the peer applies them instead of dropping them as old."""
    state = running()
    state.on_event(FileAdded(1, summary("old.bin"), 2), 0.5)
    for seq in range(2, 41):
        state.on_event(Availability(seq, "old.bin", seq % 2 == 0), 0.5)
    assert state.view.seq == 40
    state.on_tracker(m.Rejoin(), 5.0)
    state.on_event(FileAdded(2, summary("early.bin"), 3), 5.05)  # before its welcome
    state.on_tracker(m.Welcome(4, m.Snapshot(1, (summary("old.bin"),)), ()), 5.1)
    state.on_event(FileAdded(3, summary("new.bin"), 3), 5.2)
    assert state.view.seq == 3
    assert sorted(state.view.files) == ["early.bin", "new.bin", "old.bin"]


def test_a_peer_behind_nat_says_again_that_it_can_punch() -> None:
    state = running()
    seen = [("203.0.113.7", 40123), ("203.0.113.7", 40123)]  # one mapping, whoever asks
    assert said(state.on_mapping("192.168.1.20", seen)) == [m.PunchReady]
    state.on_tracker(m.Rejoin(), 5.0)
    assert said(state.on_tracker(m.Welcome(4, m.Snapshot(0, ()), ()), 5.1)) == [m.PunchReady]


def test_a_get_does_not_give_up_on_a_file_while_the_tracker_learns_the_swarm_again() -> None:
    """Joined again before the peer that holds its file, a get would read
    the file as not available; it waits out the hold, and only then judges."""
    wanted = summary("want.bin")
    state = lone_peer(mode=Mode.get({"want.bin": wanted.digest}))
    state.start()
    state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 0.0)
    state.on_tracker(m.Welcome(1, m.Snapshot(0, (wanted,)), ()), 0.0)
    state.on_tracker(m.Rejoin(), 5.0)
    hold_ends = 5.0 + REJOIN_HOLD_HEARTBEATS * Settings().heartbeat_interval_s
    state.on_tracker(m.Welcome(2, m.Snapshot(0, (summary("want.bin", available=False),)), ()),
                     5.1)
    state.on_timer(5.2)
    assert not state.done
    assert state.next_deadline_s(5.2) <= hold_ends
    state.on_timer(hold_ends)  # still not available: now it is believed
    assert state.leaving.exit_code == 1 and phase(state) is Phase.LEAVING


def test_a_peer_joined_again_says_it_waits_for_the_tracker_to_learn_the_swarm() -> None:
    state = running()
    state.on_tracker(m.Rejoin(), 5.0)
    state.on_tracker(m.Welcome(2, m.Snapshot(0, ()), ()), 5.1)
    state.on_tracker(m.LeaveStatus(True, ""), 5.1)
    lines = [a.text() for a in state.on_timer(5.2) if isinstance(a, Say)]
    assert "not leaving yet: the tracker is learning the swarm again" in lines
