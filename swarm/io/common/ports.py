"""Binding to the ports the settings fix (the port rule is in swarm/config.py),
or to ports the system draws when they fix none, and saying clearly which
port could not be had and which setting asked for it; and the address a
host name stands for."""

from __future__ import annotations

import socket
from typing import Any

import zmq


class PortUnavailable(Exception):
    """A port a setting fixed cannot be listened on (in use, or not allowed)."""

    def __init__(self, port: int, what: str, reason: str) -> None:
        self.port = port
        self.what = what  # the setting, and the rule's part: "tracker_port + 1, the event port"
        self.reason = reason
        super().__init__(f"cannot listen on port {port} ({what}): {reason}; stop what uses it, "
                         f"or choose another port")


def first_address(host: str, port: int,
                  kind: socket.SocketKind) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """The family and socket address of the first address ``host`` stands
    for (OSError when none).  An ASCII name goes as bytes: a str would load
    the IDNA codec (2 ms of every peer's start) to encode what needs no
    encoding."""
    infos = socket.getaddrinfo(host.encode() if host.isascii() else host, port, type=kind)
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


def bind_zmq(sock: zmq.Socket[bytes], spec: str, port: int, what: str) -> int:
    """Bind ``sock`` at ``spec`` (``tcp://HOST``) on ``port``, or on a port
    the system draws when ``port`` is 0; returns the port."""
    if not port:
        return sock.bind_to_random_port(spec)
    try:
        sock.bind(f"{spec}:{port}")
    except zmq.ZMQError as exc:
        # The plain words: pyzmq's own message adds the endpoint.
        reason = zmq.strerror(exc.errno) if exc.errno is not None else str(exc)
        raise PortUnavailable(port, what, reason) from None
    return port


def bind_socket(sock: socket.socket, host: str, port: int, what: str) -> int:
    """``bind_zmq`` for a plain socket: bound to ``(host, port)``, 0 for a
    port the system draws; returns the port."""
    try:
        sock.bind((host, port))
    except OSError as exc:
        if not port:
            raise
        raise PortUnavailable(port, what, exc.strerror or str(exc)) from None
    return int(sock.getsockname()[1])
