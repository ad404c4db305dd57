"""A peer's sockets, on ZeroMQ: what the peer loop sends its actions through.

A DEALER to the tracker, a SUB on its events, a ROUTER that serves chunks,
and links to other peers.  Every source we fetch from is reached through
one ROUTER, connected to each (its routing id per connection set before the
connect, so messages queue as on a DEALER), with one monitor: the number of
sockets, and the cost of each poll, stays the same however many sources a
peer has.  A broken connection is reported at once, and so is a refused one
(nothing listens at the source's endpoint: it has gone, or refuses us); one
that never comes up is reported as unreachable after a while (which starts a
reversal).  For reversal, a DEALER per peer we connected out to in order to
serve it, because it could not reach us (rare: only a peer behind NAT has
them).  For hole punching, a punch port held for the peer's life: punched
links connect from it, on the fetch ROUTER, or (with a swarm key, on the
side that is the link's CURVE server) on a punch server ROUTER, and carry
requests both ways.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable

import zmq

from swarm.config import PeerPorts
from swarm.io.common.address_echo import ask_echoes
from swarm.io.common.curve import CurveKeys, make_client, make_server
from swarm.io.common.ports import PortUnavailable, bind_zmq
from swarm.io.common.process_limits import AcceptWatch
from swarm.io.common.zmq_util import configure
from swarm.io.peer.local_ports import local_address_towards, punch_port
from swarm.io.peer.monitor import address_of, monitor_events
from swarm.peer.reversal import ReverseRoute
from swarm.protocol.addresses import bracketed, is_ipv6, tcp_endpoint
from swarm.protocol.codec import MAX_HEADER_BYTES, MAX_PAYLOAD_BYTES, encode_frames
from swarm.protocol.events import FILE_TOPIC
from swarm.protocol.messages import Message

log = logging.getLogger("swarm.peer")

EVENT_MAX_BYTES = 1 << 16
# The chunk port takes requests, and -- from peers that connected to us to be
# reversed -- their answers, so it must take a piece.
SERVER_MAX_BYTES = MAX_PAYLOAD_BYTES + 4096
# A link not connected by then counts as unreachable: a connect that gets no
# answer at all (a host or firewall that drops it).  A refused one counts at once.
LINK_CONNECT_TIMEOUT_S = 3.0
# What the fetch links' monitors report: a connect attempt that failed closes
# its socket (EVENT_CLOSED), and libzmq then tries again, later and later.
LINK_EVENTS = zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED
LINK_HWM_MESSAGES = 10_000
FDS_PER_PEER = 2  # a connection we fetch over, and one a fetcher opened to us


class FetchLink:
    """A source we fetch from: one connection of the fetch ROUTER.  Never
    disconnected (libzmq asserts when a ROUTER disconnects a pipe a message
    is arriving on, zeromq/libzmq#3485): a link no longer wanted is only
    set aside, and taken up again if the source is wanted again."""

    def __init__(self, peer_id: int, endpoint: str, route: bytes, created_at_s: float) -> None:
        self.peer_id = peer_id
        self.endpoint = endpoint
        self.route = route  # its routing id on the fetch ROUTER
        self.created_at_s = created_at_s
        self.connected = False  # up now
        self.unreachable_reported = False
        self.refused = False  # its last connect attempt failed, none came up since
        self.in_use = True
        self.punched = False  # made by hole punching: it serves the other side too
        # With a swarm key, the side of a punched link chosen to be the CURVE
        # server has it on the punch server ROUTER rather than the fetch one.
        self.on_punch_server = False


class ServeLink:
    """A DEALER to a peer we serve over a connection we opened (it cannot
    reach us: a reversal), and its monitor."""

    def __init__(self, peer_id: int, sock: zmq.Socket[bytes], monitor: zmq.Socket[bytes],
                 created_at_s: float) -> None:
        self.peer_id = peer_id
        self.sock = sock
        self.monitor = monitor
        self.created_at_s = created_at_s
        self.connected = False


class PeerSockets:
    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], tracker_host: str,
                 tracker_port: int, poller: zmq.Poller, keys: CurveKeys | None,
                 clock: Callable[[], float], fd_limit: int,
                 wake: Callable[[], None], ports: PeerPorts | None = None) -> None:
        """``ports``: the chunk port and the punch port, by the port rule
        (None, or 0 for either: a port the system draws); PortUnavailable
        when one cannot be had, with nothing left open."""
        self.ctx = ctx
        self.tracker_host = tracker_host
        self._wake = wake  # the echo thread's way to wake the poll loop
        self.poller = poller
        self.keys = keys
        self._clock = clock
        ports = ports or PeerPorts(0, 0)
        # The ports first: a port that cannot be had stops the peer before
        # it says a word to the tracker.
        self.server = self._socket(zmq.ROUTER, SERVER_MAX_BYTES, server=True)
        self.server.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.server.setsockopt(zmq.SNDHWM, LINK_HWM_MESSAGES)
        bind_host = local_address_towards(tracker_host, tracker_port)
        holder = None
        try:
            self.punch_host, self.punch_port, holder = punch_port(bind_host, ports.punch)
            if is_ipv6(bind_host):
                self.server.setsockopt(zmq.IPV6, 1)
                bind_host = bracketed(bind_host)
            self.listen_port = bind_zmq(self.server, f"tcp://{bind_host}", ports.chunks,
                                        "peer_port")
        except PortUnavailable:
            self.server.close(linger=0)
            if holder is not None:
                holder.close()
            raise
        self._punch_holder = holder
        self._mappings: list[list[tuple[str, int]]] = []  # what the echo thread found
        self._mapping_lock = threading.Lock()
        self.tracker = self._socket(zmq.DEALER, MAX_HEADER_BYTES + 4096)
        # A routing id of our own survives reconnects, so the tracker keeps
        # knowing who we are after a network blip.
        self.tracker.setsockopt(zmq.ROUTING_ID, os.urandom(16))
        self.events = self._socket(zmq.SUB, EVENT_MAX_BYTES)
        if is_ipv6(tracker_host):  # ZeroMQ reaches IPv4 addresses only unless told
            for sock in (self.tracker, self.events):
                sock.setsockopt(zmq.IPV6, 1)
        self.tracker.connect(tcp_endpoint(tracker_host, tracker_port))
        # The file topic only: news that grows with the files, not the peers.
        self.events.setsockopt(zmq.SUBSCRIBE, FILE_TOPIC)
        self.events.setsockopt(zmq.RCVHWM, 100_000)
        self._events_endpoint: str | None = None  # the tracker's event port, once told
        for sock in (self.tracker, self.events, self.server):
            poller.register(sock, zmq.POLLIN)
        self.accepts = AcceptWatch({"chunk port": self.server}, fd_limit, FDS_PER_PEER, poller)
        # Every source we fetch from, through one ROUTER and one monitor.
        self.fetch = self._socket(zmq.ROUTER, MAX_PAYLOAD_BYTES + 4096)
        self.fetch.setsockopt(zmq.IPV6, 1)
        self.fetch.setsockopt(zmq.RCVHWM, LINK_HWM_MESSAGES)
        # Links set aside to a peer that left keep trying to reconnect: rarely.
        self.fetch.setsockopt(zmq.RECONNECT_IVL_MAX, 10_000)
        self.fetch_monitor = self.fetch.get_monitor_socket(LINK_EVENTS)
        for sock in (self.fetch, self.fetch_monitor):
            poller.register(sock, zmq.POLLIN)
        # Made at the first punch that makes this peer a link's CURVE server.
        self.punch_server: zmq.Socket[bytes] | None = None
        self.punch_monitor: zmq.Socket[bytes] | None = None
        self.fetch_links: dict[int, FetchLink] = {}  # sources we connect to, in use
        self.by_route: dict[bytes, FetchLink] = {}  # every link, in use or set aside
        self.by_endpoint: dict[str, FetchLink] = {}
        self.by_address: dict[str, FetchLink] = {}  # by address_of(endpoint)
        # Links in use, not yet up and not yet reported unreachable: what
        # the connect timer watches, so a wake-up never walks every link.
        self.connecting: set[FetchLink] = set()
        # Links taken up again whose last connect attempt was refused: said
        # at once (libzmq's next try may be seconds away).
        self._refused_again: list[FetchLink] = []
        self._next_route = 1
        self.serve_links: dict[int, ServeLink] = {}  # peers we connected to, to serve them
        self.by_socket: dict[zmq.Socket[bytes], ServeLink] = {}
        self.by_monitor: dict[zmq.Socket[bytes], ServeLink] = {}

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
        link = self.fetch_links.get(peer_id) or self._fetch_link(peer_id, endpoint)
        try:
            self._link_socket(link).send_multipart([link.route, *encode_frames(message)],
                                                   zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.info("link to peer %d: a message is dropped (%s)", peer_id, exc.strerror)

    def reply(self, route: Hashable, message: Message, payload: bytes | None = None) -> None:
        frames = encode_frames(message, payload)
        if isinstance(route, ReverseRoute):
            link = self.serve_links.get(route.peer_id)
            if link is not None:
                self._send(link, frames)
                return
            punched = self.fetch_links.get(route.peer_id)
            if punched is not None and punched.punched:
                try:
                    self._link_socket(punched).send_multipart([punched.route, *frames],
                                                              zmq.NOBLOCK)
                except zmq.ZMQError as exc:
                    log.info("punched link to peer %d: an answer is dropped (%s)",
                             route.peer_id, exc.strerror)
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
        self._open_serve_link(peer_id, endpoint)

    # --- hole punching ---------------------------------------------------------------

    def learn_mapping(self, echo_ports: tuple[int, ...]) -> None:
        """Reach the tracker's echoes from our punch port, on a thread (a
        connect may take seconds); ``mapping_results`` hands back what they saw."""
        if self.punch_port is None:
            return
        host, port = self.punch_host, self.punch_port

        def ask() -> None:
            seen = ask_echoes(host, port, self.tracker_host, echo_ports)
            with self._mapping_lock:
                self._mappings.append(seen)
            self._wake()

        threading.Thread(target=ask, name="address-echo", daemon=True).start()

    def mapping_results(self) -> list[list[tuple[str, int]]]:
        with self._mapping_lock:
            found, self._mappings = self._mappings, []
        return found

    def open_punch(self, peer_id: int, endpoint: str, curve_server: bool) -> None:
        """Connect from our punch port to ``endpoint`` (the other side does
        the same to us now): TCP simultaneous open, so each
        NAT has seen a packet go out before the other's comes in.  libzmq
        binds the source port with SO_REUSEADDR, so one port makes links to
        many peers (each its own destination).  ``curve_server``: with a swarm
        key, this side is the link's CURVE server (a connecting socket may be
        one), so the handshake has the two sides it needs."""
        if self.punch_port is None:
            return
        source = f"tcp://{self.punch_host}:{self.punch_port};{endpoint.removeprefix('tcp://')}"
        old = self.fetch_links.get(peer_id)
        if old is not None and old.endpoint != source:
            self.close_link(peer_id)
        link = self._fetch_link(peer_id, source, curve_server)
        link.punched = True
        if not link.connected:  # asked again: it gets its time again
            link.unreachable_reported = False
            link.created_at_s = self._now()
            self.connecting.add(link)

    def close_link(self, peer_id: int) -> None:
        """Stop using our connection to a source (it left, or connected to
        us instead): what it still sends is not read."""
        link = self.fetch_links.pop(peer_id, None)
        if link is not None:
            link.in_use = False
            self.connecting.discard(link)

    def drop_peer(self, peer_id: int) -> None:
        self.close_link(peer_id)
        link = self.serve_links.pop(peer_id, None)
        if link is not None:
            self._close(link)

    def subscribe(self, pub_port: int) -> None:
        """Take the tracker's events from ``pub_port``: once per port (a
        second connection would bring every event twice), and from that
        port only (a tracker started again elsewhere)."""
        endpoint = tcp_endpoint(self.tracker_host, pub_port)
        if endpoint == self._events_endpoint:
            return
        if self._events_endpoint is not None:
            self.events.disconnect(self._events_endpoint)
        self.events.connect(endpoint)
        self._events_endpoint = endpoint

    # --- links ---------------------------------------------------------------------

    def fetch_sockets(self) -> list[zmq.Socket[bytes]]:
        """The ROUTERs our links to sources are on (the punch server only
        once a punch made this peer a link's CURVE server)."""
        if self.punch_server is None:
            return [self.fetch]
        return [self.fetch, self.punch_server]

    def fetch_monitors(self) -> list[zmq.Socket[bytes]]:
        if self.punch_monitor is None:
            return [self.fetch_monitor]
        return [self.fetch_monitor, self.punch_monitor]

    def _link_socket(self, link: FetchLink) -> zmq.Socket[bytes]:
        if link.on_punch_server and self.punch_server is not None:
            return self.punch_server
        return self.fetch

    def _punch_server_socket(self) -> zmq.Socket[bytes]:
        if self.punch_server is None:
            sock = self._socket(zmq.ROUTER, MAX_PAYLOAD_BYTES + 4096, server=True)
            sock.setsockopt(zmq.RCVHWM, LINK_HWM_MESSAGES)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 10_000)
            self.punch_monitor = sock.get_monitor_socket(LINK_EVENTS)
            self.punch_server = sock
            for handle in (sock, self.punch_monitor):
                self.poller.register(handle, zmq.POLLIN)
        return self.punch_server

    def _fetch_link(self, peer_id: int, endpoint: str, curve_server: bool = False) -> FetchLink:
        """The link to a source: one set aside is taken up again (the peer
        at an endpoint may have changed: a restart on the same port)."""
        link = self.by_endpoint.get(endpoint)
        if link is not None:
            link.peer_id, link.in_use = peer_id, True
            self.fetch_links[peer_id] = link
            if link.refused and not link.punched:
                self._refused_again.append(link)
            elif not link.connected:
                link.unreachable_reported = False  # wanted again: its timer starts again
                link.created_at_s = self._now()
                self.connecting.add(link)
            return link
        route = f"{peer_id}.{self._next_route}".encode()
        self._next_route += 1
        sock = self._punch_server_socket() if curve_server else self.fetch
        sock.setsockopt(zmq.CONNECT_ROUTING_ID, route)
        sock.connect(endpoint)
        link = FetchLink(peer_id, endpoint, route, self._now())
        link.on_punch_server = curve_server
        self.connecting.add(link)
        self.fetch_links[peer_id] = link
        self.by_route[route] = link
        self.by_endpoint[endpoint] = link
        self.by_address[address_of(endpoint)] = link
        return link

    def _open_serve_link(self, peer_id: int, endpoint: str) -> ServeLink:
        sock = self._socket(zmq.DEALER, SERVER_MAX_BYTES)
        sock.setsockopt(zmq.RCVHWM, LINK_HWM_MESSAGES)
        if endpoint.startswith("tcp://["):
            sock.setsockopt(zmq.IPV6, 1)
        monitor = sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        sock.connect(endpoint)
        link = ServeLink(peer_id, sock, monitor, self._now())
        self.serve_links[peer_id] = link
        self.by_socket[sock] = link
        self.by_monitor[monitor] = link
        self.poller.register(sock, zmq.POLLIN)
        self.poller.register(monitor, zmq.POLLIN)
        return link

    def _send(self, link: ServeLink, frames: list[bytes | bytearray | memoryview]) -> None:
        try:
            link.sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            log.info("link to peer %d is full; a message is dropped", link.peer_id)

    def _close(self, link: ServeLink) -> None:
        self.poller.unregister(link.sock)
        self.poller.unregister(link.monitor)
        del self.by_socket[link.sock]
        del self.by_monitor[link.monitor]
        link.sock.disable_monitor()
        link.monitor.close(linger=0)
        link.sock.close(linger=0)

    def link_events(self, link: ServeLink) -> list[int]:
        """Connection events waiting on a serving link's monitor."""
        events = [event for event, _ in monitor_events(link.monitor)]
        if zmq.EVENT_CONNECTED in events:
            link.connected = True
        return events

    def fetch_link_events(self) -> list[tuple[int, int]]:
        """(source, event) for the connection events of the fetch links:
        EVENT_CONNECTED, EVENT_DISCONNECTED, and EVENT_CLOSED for a connect
        attempt that failed -- refused: nothing listens there (said once,
        until the link comes up; libzmq keeps trying).  A punched link's
        refusals are left to its timer: its two sides' first attempts may
        refuse each other before they meet."""
        found = []
        monitors = self.fetch_monitors()
        for event, endpoint in [e for monitor in monitors for e in monitor_events(monitor)]:
            link = self.by_endpoint.get(endpoint) or self.by_address.get(address_of(endpoint))
            if link is None:
                continue
            if event == zmq.EVENT_CONNECTED:
                link.connected, link.refused = True, False
                self.connecting.discard(link)
            elif event == zmq.EVENT_DISCONNECTED:
                link.connected = False
            elif event == zmq.EVENT_CLOSED:
                if link.refused or link.punched:
                    continue
                link.refused = True
                self.connecting.discard(link)
            if link.in_use:  # not one set aside
                found.append((link.peer_id, event))
        return found

    def refused_again(self) -> list[int]:
        """Sources whose link, set aside and wanted again, was refused at its
        last try: they are known not to listen, now."""
        found = [link.peer_id for link in self._refused_again if link.in_use and link.refused]
        self._refused_again = []
        return found

    def fetch_source(self, route: bytes) -> int | None:
        """The source a message on the fetch ROUTER came from."""
        link = self.by_route.get(route)
        return link.peer_id if link is not None and link.in_use else None

    def failed_reversals(self, now_s: float) -> list[int]:
        """Peers whose link we opened to serve them (a reversal) has not come
        up in LINK_CONNECT_TIMEOUT_S: neither side can reach the other.  Each
        is closed and named once."""
        found = []
        for link in list(self.serve_links.values()):
            if not link.connected and now_s - link.created_at_s >= LINK_CONNECT_TIMEOUT_S:
                del self.serve_links[link.peer_id]
                self._close(link)
                found.append(link.peer_id)
        return found

    def unreachable(self, now_s: float) -> list[int]:
        """Sources whose link has not come up in LINK_CONNECT_TIMEOUT_S (each
        said once)."""
        found = []
        for fetch in list(self.connecting):
            if now_s - fetch.created_at_s >= LINK_CONNECT_TIMEOUT_S:
                fetch.unreachable_reported = True
                self.connecting.discard(fetch)
                found.append(fetch.peer_id)
        return found

    def next_check_s(self) -> float | None:
        """When ``unreachable``, ``failed_reversals`` or ``refused_again`` may
        next have news."""
        if self._refused_again:
            return self._now()
        pending = [link.created_at_s + LINK_CONNECT_TIMEOUT_S for link in self.connecting]
        pending += [link.created_at_s + LINK_CONNECT_TIMEOUT_S
                    for link in self.serve_links.values() if not link.connected]
        return min(pending) if pending else None

    def close(self) -> None:
        for peer_id in list(self.serve_links):
            self.drop_peer(peer_id)
        self.fetch.disable_monitor()
        if self.punch_server is not None and self.punch_monitor is not None:
            self.punch_server.disable_monitor()
            self.punch_monitor.close(linger=0)
            self.punch_server.close(linger=0)
        self.accepts.close()
        for sock in (self.fetch_monitor, self.fetch, self.server, self.events):
            sock.close(linger=0)
        if self._punch_holder is not None:
            self._punch_holder.close()
        self.tracker.close(linger=500)  # let a goodbye go out
