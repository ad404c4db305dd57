"""A tracker started again knows nobody: it learns the swarm from the peers
that join it, whole files from their offers and partial ones from the chunks
they bring.  A file it first hears of from partial copies is not "available
again" when a whole copy joins: it was never lost here, and an operator
restarting a tracker should not read a warning per file."""

from __future__ import annotations

from swarm.protocol import messages as m
from swarm.protocol.message_parts import PartialOffer
from swarm.protocol.output import Action, Level, Say
from tests.tracker.helpers import BIG, join, new_state, send


def words(actions: list[Action]) -> list[tuple[Level, str]]:
    return [(a.level, a.text()) for a in actions if isinstance(a, Say)
            and a.text().startswith("file ")]


def test_a_file_first_known_in_part_becomes_available_without_a_warning() -> None:
    state = new_state()
    join(state, 1, partials=[PartialOffer(BIG, (0, 64))])  # the first to join again
    assert words(join(state, 2, [BIG])) == [
        (Level.INFO, "file 'big.bin' is available: the living peers cover it")]


def test_a_file_lost_and_back_is_available_again() -> None:
    state = new_state()
    join(state, 1, [BIG])
    join(state, 2, partials=[PartialOffer(BIG, (0, 64))])  # still wants the rest
    assert words(send(state, 1, m.Goodbye(force=True))) == [
        (Level.WARNING, "file 'big.bin' is lost: the living peers no longer cover it")]
    assert words(join(state, 3, [BIG])) == [(Level.WARNING, "file 'big.bin' is available again")]
