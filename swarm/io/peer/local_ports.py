"""Where a peer's sockets sit on this machine: the local address it uses
towards the tracker (the address it serves on and tells others), and the
port it punches holes from, held for its life."""

from __future__ import annotations

import logging
import socket

from swarm.io.common.ports import PortUnavailable, bind_socket, first_address
from swarm.protocol.addresses import is_ipv6

log = logging.getLogger("swarm.peer")


def local_address_towards(host: str, port: int) -> str:
    """The local address this machine uses to reach ``host`` (no packet is sent)."""
    try:
        family, sockaddr = first_address(host, port, socket.SOCK_DGRAM)
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(sockaddr)
            return str(probe.getsockname()[0])
    except OSError as exc:
        log.warning("cannot tell the local address towards %s (%s); serving on all", host, exc)
        return "*"


def punch_port(local_host: str,
                port: int = 0) -> tuple[str, int | None, socket.socket | None]:
    """The local port this peer punches from (``port``, or one the system
    draws when 0), held for its life by a socket bound to it and never
    listening (so no other connection takes the port meanwhile;
    SO_REUSEADDR lets the punch connections bind it too).  IPv4 only: NAT is
    an IPv4 matter.  A port drawn that cannot be had turns punching off; a
    fixed one is PortUnavailable."""
    if local_host == "*" or is_ipv6(local_host):
        return local_host, None, None
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        bound = bind_socket(holder, local_host, port, "peer_port + 1, the punch port")
    except PortUnavailable:
        holder.close()
        raise
    except OSError as exc:
        holder.close()
        log.info("no port to punch from (%s): hole punching is off", exc.strerror)
        return local_host, None, None
    return local_host, bound, holder
