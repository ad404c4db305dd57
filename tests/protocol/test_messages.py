"""Message classes: what every event shares."""

from __future__ import annotations

import pytest

from swarm.protocol import messages as m

EVENTS = [cls for cls in m.ALL_MESSAGES if issubclass(cls, m.Event)]


def test_every_event_published_on_pub_is_an_event() -> None:
    (published,) = [classes for _, sockets, classes in m.ROUTES if sockets == "PUB → SUB"]
    assert set(published) == set(EVENTS)


@pytest.mark.parametrize("cls", EVENTS, ids=lambda cls: cls.__name__)
def test_seq_is_every_events_first_field_and_is_checked(cls: type[m.Event]) -> None:
    assert cls._fields[0] == "seq"
    assert cls._fields.count("seq") == 1
    assert "seq" not in vars(cls)["__slots__"]  # declared once, by Event
    for bad in (-1, True, "1", None):
        with pytest.raises(m.ProtocolError, match="seq"):
            cls.from_wire([bad, *[None] * (len(cls._fields) - 1)])

