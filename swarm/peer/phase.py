"""A peer's phases, and the only changes of phase there are.

A peer says hello (to learn where events are published, and subscribe
first), joins, runs, leaves (asks the tracker, which may say not yet), and
is done; ``PeerState`` moves only along the edges of ``TRANSITIONS``.
"""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    HELLO = "hello"  # asking where the events are, to subscribe before joining
    JOINING = "joining"
    RUNNING = "running"
    LEAVING = "leaving"  # a goodbye is out; the tracker may still say not yet
    DONE = "done"


# Every legal change of phase.  A peer that gives up (a silent tracker, a
# signal before it joined) goes to DONE from anywhere.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.HELLO: frozenset({Phase.JOINING, Phase.DONE}),
    Phase.JOINING: frozenset({Phase.RUNNING, Phase.DONE}),
    Phase.RUNNING: frozenset({Phase.JOINING, Phase.LEAVING, Phase.DONE}),  # JOINING: rejoin
    Phase.LEAVING: frozenset({Phase.RUNNING, Phase.DONE}),  # RUNNING: the tracker said not yet
    Phase.DONE: frozenset(),
}
IN_THE_SWARM = frozenset({Phase.RUNNING, Phase.LEAVING})  # joined: requests go out, timers run


class IllegalTransition(RuntimeError):
    """A change of phase that TRANSITIONS does not allow: a bug, not bad input."""
