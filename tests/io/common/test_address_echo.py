"""The tracker's address echoes and a peer's questions to them, on real
sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import zmq

from swarm.io.common.address_echo import AddressEcho, ask_echoes


@pytest.fixture
def echo() -> Iterator[AddressEcho]:
    echoes = AddressEcho("127.0.0.1")
    poller = zmq.Poller()
    echoes.watch(poller)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            echoes.serve(dict(poller.poll(50)), 0.0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield echoes
    finally:
        stop.set()
        thread.join(2)
        echoes.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_both_echoes_see_the_port_a_peer_came_from(echo: AddressEcho) -> None:
    port = free_port()
    assert ask_echoes("127.0.0.1", port, "127.0.0.1", echo.ports) == [
        ("127.0.0.1", port), ("127.0.0.1", port)]


def test_a_port_held_by_a_bound_socket_can_still_reach_the_echoes(echo: AddressEcho) -> None:
    with socket.socket() as holder:  # as a peer holds its punch port
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        port = int(holder.getsockname()[1])
        seen = ask_echoes("127.0.0.1", port, "127.0.0.1", echo.ports)
    assert [p for _, p in seen] == [port, port]


def test_an_echo_that_does_not_answer_is_left_out(echo: AddressEcho) -> None:
    closed = free_port()  # nothing listens there
    seen = ask_echoes("127.0.0.1", free_port(), "127.0.0.1", (echo.ports[0], closed))
    assert len(seen) == 1
