"""Address echoes: how a peer learns the public address and port its punch
port comes out at, for hole punching.

The tracker listens on two more TCP ports; to each connection it writes the
address and port it came from (``"10.77.0.201 40123\\n"``) and closes it.
ZeroMQ tells the tracker a message's source address (``Peer-Address``) but
not its port, and the port is what a NAT changes.  A peer reaches both echoes
from the same local port: the same public port twice means its NAT keeps one
mapping per local port, two different ones a symmetric NAT.  Nothing but
that line passes through here.  The peer's side (``ask_echoes``) runs on a
worker thread: a connect must not stall its poll loop.
"""

from __future__ import annotations

import logging
import socket

import zmq

from swarm.config import TRACKER_ECHO_OFFSETS
from swarm.io.common.ports import bind_socket, first_address
from swarm.protocol.addresses import is_ipv6

log = logging.getLogger("swarm.tracker")
peer_log = logging.getLogger("swarm.peer")

ECHO_COUNT = len(TRACKER_ECHO_OFFSETS)  # two destinations from one port: a changing port shows
ECHO_TIMEOUT_S = 2.0  # a peer's wait for each echo
ECHO_LINE_MAX_BYTES = 80
ECHO_PAUSE_S = 1.0  # an echo that could not accept is watched again after this


class AddressEcho:
    """The tracker's echoes: listening sockets its poll loop watches."""

    def __init__(self, bind_host: str, ports: tuple[int, ...] = (0,) * ECHO_COUNT) -> None:
        """``ports``: where the echoes listen, by the port rule (0: a port the
        system draws)."""
        family = socket.AF_INET6 if is_ipv6(bind_host) else socket.AF_INET
        host = bind_host.strip("[]") if bind_host not in ("*", "") else (
            "::" if family == socket.AF_INET6 else "0.0.0.0")
        self.listeners: list[socket.socket] = []
        try:
            for index, port in enumerate(ports):
                listener = socket.socket(family, socket.SOCK_STREAM)
                self.listeners.append(listener)
                # An echo closes every connection first, so its port is left
                # with connections in TIME_WAIT: a tracker started again on
                # the same ports must not be refused for them.
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                bind_socket(listener, host, port,
                            f"tracker_port + {TRACKER_ECHO_OFFSETS[index]}, an address echo")
                listener.listen(64)
                listener.setblocking(False)
        except OSError:
            self.close()
            raise
        self.ports = tuple(int(s.getsockname()[1]) for s in self.listeners)
        self._poller: zmq.Poller | None = None
        self._paused: dict[socket.socket, float] = {}

    def watch(self, poller: zmq.Poller) -> None:
        self._poller = poller
        for listener in self.listeners:
            poller.register(listener, zmq.POLLIN)

    def serve(self, ready: dict[object, int], now_s: float) -> None:
        """Answer the echoes ``ready`` names (a poller names a plain socket
        by its descriptor).  One that cannot accept (out of descriptors) is
        set aside for ECHO_PAUSE_S: its waiting connection would otherwise
        wake the loop at once, again and again."""
        for listener, until_s in list(self._paused.items()):
            if now_s >= until_s and self._poller is not None:
                del self._paused[listener]
                self._poller.register(listener, zmq.POLLIN)
        for listener in self.listeners:
            if (listener.fileno() in ready and listener not in self._paused
                    and not self._answer(listener) and self._poller is not None):
                self._poller.unregister(listener)
                self._paused[listener] = now_s + ECHO_PAUSE_S

    def next_check_s(self) -> float | None:
        """When an echo set aside is watched again (None: none is)."""
        return min(self._paused.values(), default=None)

    def _answer(self, listener: socket.socket) -> bool:
        """Tell each waiting connection where it came from, and close it;
        False when connections cannot be accepted now."""
        while True:
            try:
                conn, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return True
            except OSError as exc:  # out of descriptors, say: the peer does without
                log.info("address echo: %s", exc.strerror)
                return False
            with conn:
                try:
                    conn.setblocking(False)
                    conn.send(f"{address[0]} {address[1]}\n".encode())
                except OSError:
                    pass  # gone already: it learns nothing, and does without punching

    def close(self) -> None:
        for listener in self.listeners:
            listener.close()


def ask_echoes(local_host: str, local_port: int, tracker_host: str,
               echo_ports: tuple[int, ...]) -> list[tuple[str, int]]:
    """(address, port) each echo saw our connection from ``local_port`` come
    from; an echo that does not answer is left out."""
    seen = []
    for port in echo_ports:
        try:
            family, sockaddr = first_address(tracker_host, port, socket.SOCK_STREAM)
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                # The punch connections bind the same port with SO_REUSEADDR too.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.settimeout(ECHO_TIMEOUT_S)
                sock.bind((local_host, local_port))
                sock.connect(sockaddr)
                line = _read_line(sock)
        except OSError as exc:
            peer_log.info("address echo at port %d: %s", port, exc)
            continue
        address, _, port_text = line.strip().rpartition(" ")
        if address and port_text.isdigit():
            seen.append((address, int(port_text)))
    return seen


def _read_line(sock: socket.socket) -> str:
    data = b""
    while len(data) < ECHO_LINE_MAX_BYTES and not data.endswith(b"\n"):
        part = sock.recv(ECHO_LINE_MAX_BYTES - len(data))
        if not part:
            break
        data += part
    return data.decode("ascii", "replace")
