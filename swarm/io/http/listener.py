"""The dashboard server's listening sockets, and how it takes new
connections: one per turn of its event loop.

asyncio's own servers take up to their backlog of connections at once, and
only then read from any of them.  At the connection cap, where each new
connection makes room by closing the one that has waited longest, such a
burst would close a connection whose whole request has come but is not read
yet -- a burst of a flood pushing out the client it floods.  Taken one a
turn, what the connections already taken have sent is read between two new
ones, and the descriptors the server holds beyond its cap are one at most.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable

log = logging.getLogger("swarm.http")

# Connections the kernel completes before the server takes them: a burst
# (a flood, a crowd of pages) waits here rather than having its SYNs
# dropped and retried a second later.  Kernel memory, no descriptors.
LISTEN_BACKLOG = 1024
ACCEPT_PAUSE_S = 1.0  # out of descriptors or memory: take connections again after this long
OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets listening on every address of ``host`` (an IPv6 socket for
    IPv6 only), as asyncio's servers bind them; OSError when one cannot be."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    listeners: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):  # once each, in order
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise OSError(exc.errno, f"error while attempting to bind on address "
                                         f"{address!r}: {(exc.strerror or '').lower()}") from None
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners


async def take_connections(listener: socket.socket,
                           accepted: Callable[[socket.socket], None]) -> None:
    """Hand each new connection to ``accepted``, one per turn of the loop,
    until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            sock, _ = await loop.sock_accept(listener)
        except OSError as exc:
            if exc.errno not in OUT_OF_RESOURCES:
                continue  # that connection is gone (reset before it was taken)
            log.warning("the dashboard cannot take a connection: %s; again in %g s",
                        exc.strerror, ACCEPT_PAUSE_S)
            await asyncio.sleep(ACCEPT_PAUSE_S)
            continue
        accepted(sock)
        await asyncio.sleep(0)  # the loop's turn: reads, then the next connection
