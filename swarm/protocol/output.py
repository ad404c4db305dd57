"""What a state machine says beyond the wire, as actions (sans-IO).

Both state machines, the tracker's and the peer's, take what happened and
return actions in the order they decided them; the IO side carries them
out.  Besides the messages of each side (``swarm.tracker.actions``,
``swarm.peer.actions``), three kinds of action are common to both:

- ``Show``: a block of the contract, written whole to stdout;
- ``Say``: a diagnostic line for a person, on stderr at its level (and, at
  warning and above, an entry of the ``--events`` log and the dashboard);
- ``Observe``: an entry of the ``--events`` log (and the dashboard's
  ``/api/events``) -- what tools follow.

The parts of a state machine put their actions into one ``Outbox`` shared
by the parts, in order; every entry point of the state returns
``outbox.take()``.  A part that decides something says so where it decides
it, and nothing it decides can be dropped on the way up by a caller that
forgot a return value.
"""

from __future__ import annotations

import enum
from typing import Any

from swarm.protocol.display import Block
from swarm.protocol.record import Record, field


class Level(enum.IntEnum):
    """How much a line matters; the numbers are the logging module's, so the
    IO side hands them on as they are."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40


class Action(Record):
    """Base of everything a state machine asks of the world."""


class Show(Action):
    """A block of the contract, for stdout."""

    block: Block


class Say(Action):
    """A line for a person, on stderr.  Formatted only if it is written
    (``template % args``, as a log call is), so a line below the log level
    costs nothing but the action."""

    level: Level
    template: str
    args: tuple[Any, ...] = ()

    def text(self) -> str:
        return self.template % self.args if self.args else self.template


class Observe(Action):
    """Something that happened, as an entry of the ``--events`` log:
    ``kind`` is its ``event`` field, ``fields`` the rest."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


class Outbox:
    """Where the parts of a state machine put their actions, in order, until
    the state hands them to the IO side."""

    __slots__ = ("_actions",)

    def __init__(self) -> None:
        self._actions: list[Action] = []

    def put(self, action: Action) -> None:
        self._actions.append(action)

    def take(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions

    # Lines for a person, as a log call reads.
    def say(self, level: Level, template: str, *args: Any) -> None:
        self._actions.append(Say(level, template, args))

    def debug(self, template: str, *args: Any) -> None:
        self._actions.append(Say(Level.DEBUG, template, args))

    def info(self, template: str, *args: Any) -> None:
        self._actions.append(Say(Level.INFO, template, args))

    def warning(self, template: str, *args: Any) -> None:
        self._actions.append(Say(Level.WARNING, template, args))

    def error(self, template: str, *args: Any) -> None:
        self._actions.append(Say(Level.ERROR, template, args))
