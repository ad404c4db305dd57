"""Reading what a peer's state says: the lines of its Say actions, as they
would reach stderr, and the rest of what it asks for."""

from __future__ import annotations

from collections.abc import Iterable

from swarm.protocol.output import Action, Level, Say


def said(actions: Iterable[Action], at_least: Level = Level.DEBUG) -> list[str]:
    """The text of each Say at ``at_least`` or above, in order."""
    return [a.text() for a in actions if isinstance(a, Say) and a.level >= at_least]


def levels(actions: Iterable[Action]) -> list[Level]:
    """The level of each Say, in order."""
    return [a.level for a in actions if isinstance(a, Say)]


def without_said(actions: Iterable[Action]) -> list[Action]:
    """Every action but the lines for a person."""
    return [a for a in actions if not isinstance(a, Say)]
