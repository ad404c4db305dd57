"""Binding to fixed ports, on 127.0.0.1: a port taken is PortUnavailable,
naming the port and the setting it comes from; port 0 draws one."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import zmq

from swarm.io.common.ports import PortUnavailable, bind_socket, bind_zmq
from tests.free_ports import free_ports


@pytest.fixture
def ctx() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        yield context
    finally:
        context.destroy(linger=0)


def test_a_zmq_socket_takes_the_port_it_is_given(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    port = free_ports(1)
    with ctx.socket(zmq.ROUTER) as sock:
        assert bind_zmq(sock, "tcp://127.0.0.1", port, "tracker_port") == port
        assert sock.getsockopt_string(zmq.LAST_ENDPOINT) == f"tcp://127.0.0.1:{port}"


def test_port_zero_draws_one(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    with ctx.socket(zmq.ROUTER) as sock:
        assert bind_zmq(sock, "tcp://127.0.0.1", 0, "tracker_port") > 0
    with socket.socket() as plain:
        assert bind_socket(plain, "127.0.0.1", 0, "peer_port + 1") > 0


def test_a_taken_port_names_itself_and_its_setting(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    port = free_ports(1)
    with ctx.socket(zmq.ROUTER) as first, ctx.socket(zmq.ROUTER) as second:
        bind_zmq(first, "tcp://127.0.0.1", port, "tracker_port")
        with pytest.raises(PortUnavailable) as caught:
            bind_zmq(second, "tcp://127.0.0.1", port, "tracker_port + 1, the event port")
    assert caught.value.port == port
    assert str(caught.value) == (
        f"cannot listen on port {port} (tracker_port + 1, the event port): Address already in "
        "use; stop what uses it, or choose another port")


def test_a_plain_socket_on_a_taken_port_names_it_too() -> None:
    with socket.socket() as listener, socket.socket() as second:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = int(listener.getsockname()[1])
        with pytest.raises(PortUnavailable, match=f"port {port} \\(peer_port \\+ 1, the punch"):
            bind_socket(second, "127.0.0.1", port, "peer_port + 1, the punch port")
