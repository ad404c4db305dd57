"""A peer's sockets, on ZeroMQ: what the peer loop sends its actions through.

A DEALER to the tracker, a SUB on its events, a ROUTER that serves chunks,
and links to other peers: a DEALER per source we fetch from, and -- for
connection reversal -- a DEALER per peer we connected out to in order to
serve it, because it could not reach us.  Each link has a monitor: a broken
connection is reported at once, and one that never comes up is reported as
unreachable (which starts a reversal).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable, Hashable

import zmq

from swarm.io.curve import CurveKeys, make_client, make_server
from swarm.io.zmq_util import configure
from swarm.peer.reversal import ReverseRoute
from swarm.protocol.codec import MAX_HEADER_BYTES, MAX_PAYLOAD_BYTES, encode_frames
from swarm.protocol.messages import FILE_TOPIC, Message, bracketed, is_ipv6, tcp_endpoint

log = logging.getLogger("swarm.peer")

EVENT_MAX_BYTES = 1 << 16
# The chunk port takes requests, and -- from peers that connected to us to be
# reversed -- their answers, so it must take a piece.
SERVER_MAX_BYTES = MAX_PAYLOAD_BYTES + 4096
LINK_CONNECT_TIMEOUT_S = 3.0  # a link not connected by then counts as unreachable
LINK_HWM_MESSAGES = 10_000


def local_address_towards(host: str, port: int) -> str:
    """The local address this machine uses to reach ``host`` (no packet is sent)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, sockaddr = infos[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(sockaddr)
            return str(probe.getsockname()[0])
    except OSError as exc:
        log.warning("cannot tell the local address towards %s (%s); serving on all", host, exc)
        return "*"


class Link:
    """A DEALER to another peer, and its monitor."""

    def __init__(self, peer_id: int, sock: zmq.Socket[bytes], monitor: zmq.Socket[bytes],
                 serving: bool, created_at_s: float) -> None:
        self.peer_id = peer_id
        self.sock = sock
        self.monitor = monitor
        self.serving = serving  # True: we connected out to serve it (a reversal)
        self.created_at_s = created_at_s
        self.connected = False
        self.unreachable_reported = False


class PeerSockets:
    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], tracker_host: str,
                 tracker_port: int, poller: zmq.Poller, keys: CurveKeys | None,
                 clock: Callable[[], float]) -> None:
        self.ctx = ctx
        self.tracker_host = tracker_host
        self.poller = poller
        self.keys = keys
        self._clock = clock
        self.tracker = self._socket(zmq.DEALER, MAX_HEADER_BYTES + 4096)
        # A routing id of our own survives reconnects, so the tracker keeps
        # knowing who we are after a network blip.
        self.tracker.setsockopt(zmq.ROUTING_ID, os.urandom(16))
        self.tracker.connect(tcp_endpoint(tracker_host, tracker_port))
        self.events = self._socket(zmq.SUB, EVENT_MAX_BYTES)
        # The file topic only: news that grows with the files, not the peers.
        self.events.setsockopt(zmq.SUBSCRIBE, FILE_TOPIC)
        self.events.setsockopt(zmq.RCVHWM, 100_000)
        self.server = self._socket(zmq.ROUTER, SERVER_MAX_BYTES, server=True)
        self.server.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.server.setsockopt(zmq.SNDHWM, LINK_HWM_MESSAGES)
        bind_host = local_address_towards(tracker_host, tracker_port)
        if is_ipv6(bind_host):
            self.server.setsockopt(zmq.IPV6, 1)
            bind_host = bracketed(bind_host)
        self.listen_port = self.server.bind_to_random_port(f"tcp://{bind_host}")
        for sock in (self.tracker, self.events, self.server):
            poller.register(sock, zmq.POLLIN)
        self.fetch_links: dict[int, Link] = {}  # sources we connect to
        self.serve_links: dict[int, Link] = {}  # peers we connected to, to serve them
        self.by_socket: dict[zmq.Socket[bytes], Link] = {}
        self.by_monitor: dict[zmq.Socket[bytes], Link] = {}

    def _now(self) -> float:
        return self._clock()

    def _socket(self, kind: int, max_bytes: int, server: bool = False) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(kind)
        configure(sock, max_bytes)
        if self.keys is not None:
            (make_server if server else make_client)(sock, self.keys)
        return sock

    # --- what the actions send ---------------------------------------------------

    def to_tracker(self, message: Message) -> None:
        try:
            self.tracker.send_multipart(encode_frames(message), zmq.NOBLOCK)
        except zmq.Again:
            log.warning("tracker queue full; dropped %s", type(message).__name__)

    def to_peer(self, peer_id: int, endpoint: str, message: Message) -> None:
        link = self.fetch_links.get(peer_id)
        if link is None:
            link = self._open_link(peer_id, endpoint, serving=False)
        self._send(link, encode_frames(message))

    def reply(self, route: Hashable, message: Message, payload: bytes | None = None) -> None:
        frames = encode_frames(message, payload)
        if isinstance(route, ReverseRoute):
            link = self.serve_links.get(route.peer_id)
            if link is not None:
                self._send(link, frames)
            return
        assert isinstance(route, bytes)
        try:
            # Copied (a memcpy of at most 1 MiB) rather than zero-copy, which
            # would cost a message to pyzmq's garbage-collector thread per send.
            self.server.send_multipart([route, *frames], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.info("could not answer a peer: %s", exc.strerror)

    def open_reverse(self, peer_id: int, endpoint: str) -> None:
        old = self.serve_links.pop(peer_id, None)
        if old is not None:
            self._close(old)
        self._open_link(peer_id, endpoint, serving=True)

    def close_link(self, peer_id: int) -> None:
        """Close our connection to a source (it connected to us instead)."""
        link = self.fetch_links.pop(peer_id, None)
        if link is not None:
            self._close(link)

    def drop_peer(self, peer_id: int) -> None:
        for links in (self.fetch_links, self.serve_links):
            link = links.pop(peer_id, None)
            if link is not None:
                self._close(link)

    def subscribe(self, pub_port: int) -> None:
        self.events.connect(tcp_endpoint(self.tracker_host, pub_port))

    # --- links ---------------------------------------------------------------------

    def _open_link(self, peer_id: int, endpoint: str, serving: bool) -> Link:
        sock = self._socket(zmq.DEALER, SERVER_MAX_BYTES if serving else MAX_PAYLOAD_BYTES + 4096)
        sock.setsockopt(zmq.RCVHWM, LINK_HWM_MESSAGES)
        if endpoint.startswith("tcp://["):
            sock.setsockopt(zmq.IPV6, 1)
        monitor = sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        sock.connect(endpoint)
        link = Link(peer_id, sock, monitor, serving, self._now())
        (self.serve_links if serving else self.fetch_links)[peer_id] = link
        self.by_socket[sock] = link
        self.by_monitor[monitor] = link
        self.poller.register(sock, zmq.POLLIN)
        self.poller.register(monitor, zmq.POLLIN)
        return link

    def _send(self, link: Link, frames: list[bytes | bytearray | memoryview]) -> None:
        try:
            link.sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            log.info("link to peer %d is full; a message is dropped", link.peer_id)

    def _close(self, link: Link) -> None:
        self.poller.unregister(link.sock)
        self.poller.unregister(link.monitor)
        del self.by_socket[link.sock]
        del self.by_monitor[link.monitor]
        link.sock.disable_monitor()
        link.monitor.close(linger=0)
        link.sock.close(linger=0)

    def link_events(self, link: Link) -> list[int]:
        """Connection events waiting on a link's monitor.  A monitor message
        is two frames; the first starts with the event number (uint16, native
        order).  Parsed here because pyzmq's helper pulls in asyncio, which
        costs every peer 25 ms at start-up."""
        events: list[int] = []
        while True:
            try:
                frames = link.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if frames and len(frames[0]) >= 2:
                events.append(int.from_bytes(frames[0][:2], sys.byteorder))
        if zmq.EVENT_CONNECTED in events:
            link.connected = True
        return events

    def unreachable(self, now_s: float) -> list[int]:
        """Sources whose link has not come up in LINK_CONNECT_TIMEOUT_S (each
        said once).  A link we opened to serve a peer that never comes up
        means neither side can reach the other: it is closed."""
        found = []
        for link in list(self.fetch_links.values()) + list(self.serve_links.values()):
            if link.connected or now_s - link.created_at_s < LINK_CONNECT_TIMEOUT_S:
                continue
            if link.serving:
                log.warning("cannot connect out to peer %d either: neither of us can reach "
                            "the other, so it gets this peer's files from others", link.peer_id)
                del self.serve_links[link.peer_id]
                self._close(link)
            elif not link.unreachable_reported:
                link.unreachable_reported = True
                found.append(link.peer_id)
        return found

    def next_check_s(self) -> float | None:
        """When ``unreachable`` may next have news."""
        pending = [link.created_at_s + LINK_CONNECT_TIMEOUT_S
                   for link in (*self.fetch_links.values(), *self.serve_links.values())
                   if not link.connected and not link.unreachable_reported]
        return min(pending) if pending else None

    def close(self) -> None:
        for peer_id in list(self.fetch_links) + list(self.serve_links):
            self.drop_peer(peer_id)
        for sock in (self.server, self.events):
            sock.close(linger=0)
        self.tracker.close(linger=500)  # let a goodbye go out
