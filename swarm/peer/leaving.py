"""Whether a peer may leave yet, and why not (pure).

A peer leaves by rules (a), (b) and (c); a get or a seed by its mode's
(``Mode.blockers``).  Rule (c) is the peer's own clock (``QuietClock``);
rules (a) and (b) are as the tracker last said (``LeaveStatus``: the
tracker keeps the counts, so a peer need not follow everyone's
completions).  The peer looks again when something the rules read changes
(``LeaveCheck``) or when the quiet period ends, and says why it stays once
per change.  When every rule holds it takes one last look at the files it
holds (``CheckShared``) before its goodbye.
"""

from __future__ import annotations

from collections.abc import Mapping

from swarm.peer.actions import CheckShared
from swarm.peer.leave_check import LeaveCheck
from swarm.peer.mode import Mode
from swarm.peer.quiet_clock import QuietClock
from swarm.protocol.messages import LeaveStatus
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Outbox

NOT_YET_RETRY_S = 0.5  # after the tracker said "not yet" to a goodbye
FAREWELL_WAIT_S = 2.0  # how long a peer leaving whatever the rules say waits for the answer
# A tracker that forgot this peer (started again, say) learns the swarm anew
# as the peers it had join it again, each at its next heartbeat: until they
# have, what it says is not the whole swarm, and no peer leaves on it (nor
# gives up a file as gone).  Three heartbeats: the tracker's own expiry.
REJOIN_HOLD_HEARTBEATS = 3


class Leaving:
    def __init__(self, out: Outbox, mode: Mode, quiet: QuietClock, check: LeaveCheck,
                 explains_itself: bool) -> None:
        """``explains_itself``: a person watches the peer's status, so it asks
        the tracker who it waits for (LeaveQuery), which it otherwise never does."""
        self.out = out
        self.mode = mode
        self.quiet = quiet
        self.check = check
        self.explains_itself = explains_itself
        self.status: LeaveStatus | None = None  # rules (a) and (b), as the tracker last said
        self.reason = "every rule met"  # why the peer leaves, for its --events entry
        self.exit_code = 0  # 1 once a get knows it can never finish
        # A goodbye the tracker does not check waits this long for its answer.
        self.deadline_s: float | None = None
        self._last_blocker = ""
        self.held_until_s = float("-inf")  # no leaving before, after a rejoin
        self._hold_open = False

    def hold(self, until_s: float) -> None:
        """The tracker learns the swarm again until ``until_s``: the peer
        does not leave on what it says before then."""
        self.held_until_s = until_s
        self._hold_open = True

    def held(self, now_s: float) -> bool:
        return now_s < self.held_until_s

    def hold_ends_s(self) -> float:
        """When ``hold_over`` next has news (infinity: no hold open)."""
        return self.held_until_s if self._hold_open else float("inf")

    def hold_over(self, now_s: float) -> bool:
        """True, once, when a hold has ended: the swarm is judged afresh."""
        if self._hold_open and now_s >= self.held_until_s:
            self._hold_open = False
            return True
        return False

    def blockers(self, now_s: float, in_step: bool, local: Mapping[str, FileMeta]) -> list[str]:
        """Why the peer may not leave yet (empty when it may); ``in_step``:
        it has an id and its view is in step with the tracker."""
        if not in_step:
            return ["not in step with the tracker"]
        if self.held(now_s):
            return ["the tracker is learning the swarm again"]
        if self.mode.one_shot:
            return self.mode.blockers(local, self.status)
        reasons = []
        if not self.quiet.holds(now_s):
            left_s = self.quiet.quiet_until() - now_s
            reasons.append(f"quiet period ends in {left_s:.1f} s")
        status = self.status
        if status is None:
            reasons.append("no word from the tracker yet on rules (a) and (b)")
        elif not status.ready:
            reasons.append(status.reason)
        return reasons

    def status_arrived(self, status: LeaveStatus, now_s: float) -> bool:
        """The tracker's word on rules (a) and (b).  True when the peer is to
        ask at once who it waits for: a person watches, and it was just told,
        in a few words, that it may not leave."""
        was_ready = self.status is None or self.status.ready
        self.status = status
        self.check.news(now_s)
        return self.explains_itself and was_ready and not status.ready

    def look(self, now_s: float, in_step: bool, local: Mapping[str, FileMeta]) -> None:
        """Look whether the peer may leave: when every rule holds, one last
        look at the files it holds (the answer comes to
        ``PeerState.on_shared_checked``, which says the goodbye)."""
        blockers = self.blockers(now_s, in_step, local)
        if not blockers:
            self.check.due_s = float("inf")
            self.out.put(CheckShared())
            return
        # (a) and (b) change only with news, which sets the check due again;
        # (c) is a deadline of its own.
        quiet = self.quiet.holds(now_s)
        self.check.due_s = float("inf") if quiet else self.quiet.quiet_until()
        if self.held(now_s):
            self.check.due_s = min(self.check.due_s, self.held_until_s)
        # Said once per change, so "why does it not leave?" has an answer at
        # info level without a line per event (the quiet period's seconds
        # left change on every look; its end changes with news).
        key = blockers[0] if quiet else f"quiet {self.quiet.quiet_until()}"
        if key != self._last_blocker:
            self._last_blocker = key
            self.out.info("not leaving yet: %s", blockers[0])

    def told_not_yet(self, now_s: float) -> None:
        """The tracker refused a goodbye: look again in a moment."""
        self.check.due_s = now_s + NOT_YET_RETRY_S

    def leaving_anyway(self, now_s: float) -> None:
        """A goodbye the tracker does not check is out."""
        self.deadline_s = now_s + FAREWELL_WAIT_S

    def cannot_finish(self, problem: str) -> None:
        """A get can never have what it came for: it leaves with exit code 1."""
        self.out.error("cannot finish: %s", problem)
        self.exit_code = 1
        self.reason = problem

    # --- for the status line -----------------------------------------------------------

    def quiet_left_s(self, now_s: float) -> float | None:
        """Until rule (c) holds, if it does not yet."""
        return None if self.quiet.holds(now_s) else self.quiet.quiet_until() - now_s

    def tracker_reason(self) -> str | None:
        """Why rules (a)/(b) do not hold, as the tracker said."""
        status = self.status
        return status.reason if status is not None and not status.ready else None
