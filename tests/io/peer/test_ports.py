"""A peer's fixed ports (peer_port), on 127.0.0.1: the chunk port and the
punch port by the rule, and a port already taken refused clearly, with no
socket left open (the leak check of tests/conftest.py holds them)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from swarm.config import PeerPorts, Settings
from swarm.io.common.ports import PortUnavailable
from swarm.io.peer.loop import run_peer
from swarm.io.peer.sockets import PeerSockets
from tests.free_ports import free_ports


@pytest.fixture
def ctx() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        yield context
    finally:
        context.term()


def sockets(ctx: zmq.Context[zmq.Socket[bytes]], ports: PeerPorts) -> PeerSockets:
    # The tracker's port is never reached: nothing listens there.
    return PeerSockets(ctx, "127.0.0.1", free_ports(1), zmq.Poller(), None, lambda: 0.0, 1024,
                       lambda: None, ports)


def test_chunks_and_punches_on_the_rules_ports(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    base = free_ports(2)
    net = sockets(ctx, Settings(peer_port=base).peer_ports())
    try:
        assert (net.listen_port, net.punch_host, net.punch_port) == (base, "127.0.0.1",
                                                                     base + 1)
    finally:
        net.close()


def test_ports_drawn_when_none_is_fixed(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    net = sockets(ctx, Settings().peer_ports())
    try:
        assert net.listen_port > 0 and net.punch_port is not None and net.punch_port > 0
    finally:
        net.close()


@pytest.mark.parametrize(("offset", "what"), [(0, "peer_port"),
                                              (1, "peer_port + 1, the punch port")])
def test_a_taken_port_is_named_with_nothing_left_open(ctx: zmq.Context[zmq.Socket[bytes]],
                                                      offset: int, what: str) -> None:
    base = free_ports(2)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + offset))
        squatter.listen(1)
        with pytest.raises(PortUnavailable) as caught:
            sockets(ctx, PeerPorts(base, base + 1))
    assert (caught.value.port, caught.value.what) == (base + offset, what)


def test_run_peer_says_which_port_and_exits_2(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    base = free_ports(2)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base))
        squatter.listen(1)
        with caplog.at_level(logging.ERROR, logger="swarm.peer"):
            code = run_peer(Settings(peer_port=base, peer_niceness=0), "127.0.0.1",
                            free_ports(1), 1.0, tmp_path / "Shared", tmp_path / ".swarm")
    assert code == 2
    assert caplog.messages == [
        f"not starting: cannot listen on port {base} (peer_port): Address already in use; "
        "stop what uses it, or choose another port"]
    assert not (tmp_path / "Shared").exists()  # it stopped before touching anything


def subscriptions(xpub: zmq.Socket[bytes], wait_s: float) -> int:
    """Subscriptions an XPUB hears within ``wait_s`` (one per connection)."""
    count = 0
    while xpub.poll(int(wait_s * 1000)):
        xpub.recv()
        count += 1
    return count


def test_events_are_taken_once_and_from_the_port_last_told(
        ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    """Told the event port again (it joined again), a peer keeps one
    connection to it; told another one, it moves there."""
    net = sockets(ctx, PeerPorts(0, 0))
    first, second = ctx.socket(zmq.XPUB), ctx.socket(zmq.XPUB)
    try:
        for xpub in (first, second):
            xpub.setsockopt(zmq.XPUB_VERBOSE, 1)  # every subscription, duplicates too
            xpub.setsockopt(zmq.LINGER, 0)
        first_port = first.bind_to_random_port("tcp://127.0.0.1")
        second_port = second.bind_to_random_port("tcp://127.0.0.1")
        net.subscribe(first_port)
        net.subscribe(first_port)
        assert subscriptions(first, 1.0) == 1
        net.subscribe(second_port)
        assert subscriptions(second, 1.0) == 1
    finally:
        first.close()
        second.close()
        net.close()
