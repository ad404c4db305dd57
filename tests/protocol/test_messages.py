"""Message classes: what every event shares, and how endpoints are written."""

from __future__ import annotations

import pytest

from swarm.protocol.addresses import bracketed, is_ipv6, tcp_endpoint
from swarm.protocol.catalogue import ALL_MESSAGES, ROUTES
from swarm.protocol.events import FILE_TOPIC, PEER_TOPIC, Event
from swarm.protocol.fields import ProtocolError
from swarm.protocol.messages import ErrorReply

EVENTS = [cls for cls in ALL_MESSAGES if issubclass(cls, Event)]


def test_every_event_published_on_pub_is_an_event_of_the_topic_it_is_listed_under() -> None:
    published = {sockets: [cls for cls in classes if issubclass(cls, Event)]
                 for _, sockets, classes in ROUTES if sockets.startswith("PUB → SUB")}
    assert {cls for classes in published.values() for cls in classes} == set(EVENTS)
    assert {cls.TOPIC for cls in published["PUB → SUB, topic f"]} == {FILE_TOPIC}
    assert {cls.TOPIC for cls in published["PUB → SUB, topic p"]} == {PEER_TOPIC}


@pytest.mark.parametrize("cls", EVENTS, ids=lambda cls: cls.__name__)
def test_seq_is_every_events_first_field_and_is_checked(cls: type[Event]) -> None:
    assert cls._fields[0] == "seq"
    assert cls._fields.count("seq") == 1
    assert "seq" not in vars(cls)["__slots__"]  # declared once, by Event
    for bad in (-1, True, "1", None):
        with pytest.raises(ProtocolError, match="seq"):
            cls.from_wire([bad, *[None] * (len(cls._fields) - 1)])


@pytest.mark.parametrize(("host", "written"), [
    ("127.0.0.1", "127.0.0.1"),
    ("tracker.example", "tracker.example"),
    ("::1", "[::1]"),
    ("fe80::1%eth0", "[fe80::1%eth0]"),
    ("[::1]", "[::1]"),  # already bracketed: not twice
    ("*", "*"),
])
def test_an_ipv6_host_is_bracketed_once(host: str, written: str) -> None:
    assert bracketed(host) == written
    assert is_ipv6(host) == written.startswith("[")
    assert tcp_endpoint(host, 7000) == f"tcp://{written}:7000"


def test_the_tracker_saying_it_knows_no_peer_to_reverse_names_that_peer() -> None:
    reply = ErrorReply.no_peer(22)
    assert reply == ErrorReply("no peer 22 to reverse")
    assert reply.peer_gone() == 22
    for other in ("unknown file", "no peer  to reverse", "no peer 2x to reverse",
                  "no peer 22 to reverse!", "no peer -1 to reverse", "no peer ٣ to reverse"):
        assert ErrorReply(other).peer_gone() is None, other
