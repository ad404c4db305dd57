"""Reading a ZeroMQ socket monitor: the events it reports about a socket's
connections, and the endpoint each names, matched to the endpoint the
socket was connected to."""

from __future__ import annotations

import ipaddress
import sys

import zmq


def address_of(endpoint: str) -> str:
    """An endpoint's address and port, written one way: once libzmq has
    resolved a link's endpoint, it names the link's later connect attempts
    by the address, an IPv4 one mapped into IPv6 on the fetch ROUTER
    (``tcp://[::ffff:127.0.0.1]:5001`` for ``tcp://127.0.0.1:5001``).  Anything
    but a plain address (a punched link's source and destination) is kept."""
    host, _, port = endpoint.removeprefix("tcp://").rpartition(":")
    try:
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return endpoint
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return f"{address}:{port}"


def monitor_events(monitor: zmq.Socket[bytes]) -> list[tuple[int, str]]:
    """(event, endpoint) for the messages waiting on a monitor socket.  A
    monitor message is two frames: the event number (uint16, native order)
    and a value, then the endpoint.  Parsed here because pyzmq's helper pulls
    in asyncio, which costs every peer 25 ms at start-up."""
    events = []
    while True:
        try:
            frames = monitor.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            break
        if len(frames) >= 2 and len(frames[0]) >= 2:
            events.append((int.from_bytes(frames[0][:2], sys.byteorder),
                           frames[1].decode("utf-8", "replace")))
    return events
