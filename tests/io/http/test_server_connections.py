"""The dashboard's server on a real socket (127.0.0.1, in this process), with
a small cap: who makes room when it is full, kept-alive connections, event
streams bounded apart."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarm.io.common.process_limits import DashboardLimits
from swarm.io.http.feed import DashboardFeed
from swarm.io.http.server import HttpServer

TIMEOUT_S = 5.0  # every read below
GET_STATUS = b"GET /api/status HTTP/1.1\r\nHost: localhost\r\n\r\n"
GET_EVENTS = b"GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n"


class Clients:
    """Sockets to the server, every one closed at the end."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.socks: list[socket.socket] = []

    def open(self, send: bytes = b"") -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT_S)
        self.socks.append(sock)
        if send:
            sock.sendall(send)
        return sock

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[HttpServer, Clients]]:
    (tmp_path / "big.bin").write_bytes(b"x" * (32 << 20))  # more than socket buffers hold
    feed = DashboardFeed()
    feed.publish_status({"peers": []})
    srv = HttpServer(feed, "127.0.0.1", 0, None, assets_dir=tmp_path,
                     limits=DashboardLimits(4, 1, 8))
    srv.start()
    clients = Clients(srv.port)
    try:
        yield srv, clients
    finally:
        clients.close()
        srv.close()


def answer(sock: socket.socket) -> bytes:
    """One answer with a Content-Length body, read whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def read_to_the_end(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def closed_quietly(sock: socket.socket) -> bool:
    return sock.recv(65536) == b""


def wait_until(predicate: object, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_a_full_server_closes_the_longest_waiting_for_a_whole_request(
        server: tuple[HttpServer, Clients]) -> None:
    srv, clients = server
    idle = [clients.open() for _ in range(2)]
    half_sent = clients.open(b"GET / HTTP/1.1\r\nX-Slow: ")
    last_idle = clients.open()
    wait_until(lambda: len(srv.connections) == 4, "four connections held")
    # The cap is full of connections waiting on their clients: one more,
    # sending a whole request, is served, and the one idle longest went.
    page = clients.open(GET_STATUS)
    assert answer(page).startswith(b"HTTP/1.1 200 OK\r\n")
    assert closed_quietly(idle[0])
    # The page's next request on its kept-alive connection is served too,
    # and each newcomer takes the place of the longest waiting: a half-sent
    # head is told so.
    page.sendall(GET_STATUS)
    assert answer(page).startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer(clients.open(GET_STATUS)).startswith(b"HTTP/1.1 200 ")
    assert closed_quietly(idle[1])
    assert answer(clients.open(GET_STATUS)).startswith(b"HTTP/1.1 200 ")
    assert half_sent.recv(65536).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert answer(clients.open(GET_STATUS)).startswith(b"HTTP/1.1 200 ")
    assert closed_quietly(last_idle)
    assert len(srv.connections) == 4


def test_a_client_that_does_not_read_its_answer_waits_on_itself(
        server: tuple[HttpServer, Clients]) -> None:
    srv, clients = server
    stuck = clients.open(b"GET /static/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
    read_until(stuck, b"\r\n\r\n")  # answered, and never read further
    others = [clients.open() for _ in range(3)]
    wait_until(lambda: len(srv.connections) == 4, "four connections held")
    assert answer(clients.open(GET_STATUS)).startswith(b"HTTP/1.1 200 ")
    # It waited on its client from before the idle ones were made: it went
    # first, and they are still open.
    readable, _, _ = select.select(others, [], [], 0.2)
    assert readable == [] and len(srv.connections) == 4


def test_event_streams_are_bounded_apart_and_the_oldest_ends(
        server: tuple[HttpServer, Clients]) -> None:
    srv, clients = server
    first = clients.open(GET_EVENTS)
    read_until(first, b"retry: 2000\n\n")
    second = clients.open(GET_EVENTS)
    read_until(second, b"retry: 2000\n\n")
    # One stream at most here: the first ends as a chunked answer ends.
    assert read_to_the_end(first) == b"0\r\n\r\n"
    srv.feed.publish_entry({"event": "join", "peer": 1})
    read_until(second, b'data: {"event":"join","peer":1}\n\n')
    # Streams never make room for other connections: those waiting do.
    idle = [clients.open() for _ in range(3)]
    wait_until(lambda: len(srv.connections) == 4, "four connections held")
    assert answer(clients.open(GET_STATUS)).startswith(b"HTTP/1.1 200 ")
    assert closed_quietly(idle[0])
    srv.close()  # a stopping server ends its streams cleanly
    assert read_to_the_end(second) == b"0\r\n\r\n"


def test_answers_carry_the_safety_headers(server: tuple[HttpServer, Clients]) -> None:
    _, clients = server
    sock = clients.open(b"DELETE / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    text = answer(sock).decode()
    assert text.startswith("HTTP/1.1 405 Method Not Allowed\r\n")
    assert "Allow: GET, HEAD\r\n" in text and "X-Content-Type-Options: nosniff\r\n" in text
    assert "Referrer-Policy: no-referrer\r\n" in text and "Connection: close\r\n" in text
    assert closed_quietly(sock)
