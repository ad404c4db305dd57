"""Reading a socket monitor (swarm.io.peer.monitor): the endpoint an event
names, in the one written form the fetch links are known by."""

from __future__ import annotations

import pytest

from swarm.io.peer.monitor import address_of


@pytest.mark.parametrize(("named", "address"), [
    ("tcp://127.0.0.1:5001", "127.0.0.1:5001"),
    ("tcp://[::ffff:127.0.0.1]:5001", "127.0.0.1:5001"),  # a later try, resolved
    ("tcp://[::1]:5001", "::1:5001"),
    ("tcp://[2001:db8:0::1]:5001", "2001:db8::1:5001"),
])
def test_an_address_is_written_one_way_however_libzmq_names_it(named: str,
                                                               address: str) -> None:
    assert address_of(named) == address


def test_what_is_not_a_plain_address_is_kept_as_it_is() -> None:
    punched = "tcp://10.0.0.2:40001;10.77.0.205:40005"
    assert address_of(punched) == punched
    assert address_of("tcp://peer.example:5001") == "tcp://peer.example:5001"
