"""The tracker's sockets and poll loop: a ROUTER for requests, a PUB for events.

All decisions are ``TrackerState``'s; this loop receives, decodes, hands over,
and carries out the actions the state returns, in order: replies, published
events, lines on stderr, entries of the ``--events`` log (stamped here with
the time) and stdout blocks (written once per pass, each block whole).
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq

from swarm.config import Settings
from swarm.io.common.address_echo import AddressEcho
from swarm.io.common.curve import http_token, keys_from, make_server, start_authenticator
from swarm.io.common.event_log import EventLogHandler, log_entry, open_event_log
from swarm.io.common.memory import collect_less, keep_freed_buffers
from swarm.io.common.ports import PortUnavailable, bind_zmq
from swarm.io.common.process_limits import (
    AcceptWatch,
    dashboard_limits,
    peers_within,
    raise_open_file_limit,
)
from swarm.io.common.stdout import StdoutWriter
from swarm.io.common.zmq_util import Waker, configure, monotonic, receive_all, timeout_ms
from swarm.io.tracker.port_file import FolderLock, FolderTaken, write_port_file
from swarm.protocol.addresses import bracketed, is_ipv6
from swarm.protocol.codec import MAX_HEADER_BYTES, decode, encode, encode_frames
from swarm.protocol.display import Block
from swarm.protocol.events import Event
from swarm.protocol.fields import TOKEN_BYTES, ProtocolError
from swarm.protocol.messages import Message
from swarm.protocol.output import Action, Observe, Say, Show
from swarm.tracker.actions import Publish, Send
from swarm.tracker.listing_json import status_json
from swarm.tracker.state import TrackerState

if TYPE_CHECKING:
    from swarm.io.http.feed import DashboardFeed
    from swarm.io.http.metrics import TrackerMetrics
    from swarm.io.http.server import HttpServer

log = logging.getLogger("swarm.tracker")

EXIT_FOLDER_TAKEN = 2  # another tracker serves from this folder's port.txt
EXIT_PORT_UNAVAILABLE = 2  # a port the settings fixed cannot be had
EXIT_NO_DASHBOARD = 1  # --http asked for an address it cannot have (taken, not ours)
PUB_HWM_MESSAGES = 100_000  # events are small; dropping one costs a resync
FDS_PER_PEER = 2  # its request connection and its event connection
MAX_WAIT_S = 1.0  # a pass waits at most this long, deadline or not: a net under a missed wake


def bind_spec(address: str) -> str:
    host = "*" if address in ("*", "0.0.0.0", "") else address
    return f"tcp://{bracketed(host)}"


class TrackerLoop:
    """Made, it holds its folder and has bound its sockets; ``run`` serves
    until a signal.  Tests drive it pass by pass instead: ``watch``, then
    ``run_once`` as often as they like, then ``close``."""

    def __init__(self, settings: Settings, workdir: Path, events: Path | None = None,
                 writer: StdoutWriter | None = None) -> None:
        self.settings = settings
        self.workdir = workdir
        # Before anything is bound or written: a second tracker in this
        # folder stops here (FolderTaken) and leaves port.txt alone.
        self.folder_lock = FolderLock(workdir)
        self.folder_lock.acquire()
        self.events = open_event_log(events)
        self.fd_limit = raise_open_file_limit()
        keep_freed_buffers()  # before ZeroMQ's threads start
        collect_less()
        self.ctx = zmq.Context()
        keys = keys_from(settings.key)
        self.auth = start_authenticator(self.ctx, keys) if keys else None
        self.router = self.ctx.socket(zmq.ROUTER)
        configure(self.router, MAX_HEADER_BYTES + 4096)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.router.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self.pub = self.ctx.socket(zmq.PUB)
        configure(self.pub, 1 << 16)
        self.pub.setsockopt(zmq.SNDHWM, PUB_HWM_MESSAGES)
        for sock in (self.router, self.pub):
            if is_ipv6(settings.bind_address):
                sock.setsockopt(zmq.IPV6, 1)
            if keys is not None:
                make_server(sock, keys)
        try:
            self.port, self.pub_port, self.echo = self._bind(settings)
        except PortUnavailable:
            self._release()
            raise
        self.state = TrackerState(self.pub_port, settings.expiry_s,
                                  lambda: os.urandom(TOKEN_BYTES), random.Random(),
                                  self.echo.ports)
        self.writer = writer if writer is not None else StdoutWriter()
        self.waker = Waker()
        self._blocks: list[Block] = []  # stdout blocks of the current pass
        self._poller: zmq.Poller | None = None  # made by watch
        self.accepts: AcceptWatch | None = None  # made with the poller
        self._take_request = self._on_request
        # The dashboard (--http): its feed, the metrics it serves, its server.
        self.feed: DashboardFeed | None = None
        self.metrics: TrackerMetrics | None = None
        self.http: HttpServer | None = None
        self._feed_log: logging.Handler | None = None

    def _bind(self, settings: Settings) -> tuple[int, int, AddressEcho]:
        """Every port of the tracker, by the port rule: the request port,
        the event port, the address echoes."""
        ports = settings.tracker_ports()
        spec = bind_spec(settings.bind_address)
        port = bind_zmq(self.router, spec, ports.requests, "tracker_port")
        pub_port = bind_zmq(self.pub, spec, ports.events, "tracker_port + 1, the event port")
        return port, pub_port, AddressEcho(settings.bind_address, ports.echoes)

    def run(self) -> int:
        self.waker.install_signal_handlers()
        # The dashboard first: a tracker that cannot have it does not start,
        # and must not leave a port.txt naming it behind.
        if self.settings.http_address:
            try:
                self._start_dashboard()
            except OSError as exc:
                log.error("not starting: the dashboard cannot listen at %s: %s",
                          self.settings.http_address, exc.strerror or exc)
                self.close()
                return EXIT_NO_DASHBOARD
        port_path = write_port_file(self.workdir, self.port)
        self._say_where(port_path)
        log.info("open-file limit %d: room for about %d peers", self.fd_limit,
                 peers_within(self.fd_limit, FDS_PER_PEER, self._dashboard_fds()))
        self.watch()
        try:
            while not self.waker.stop_requested:
                self.run_once()
        finally:
            self.close()
        log.info("tracker stopped by signal %s", self.waker.stop_signal)
        return 0

    def watch(self) -> None:
        """What a pass waits on: requests, the waker, the address echoes,
        connections refused for want of descriptors."""
        poller = self._poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.waker.read_fd, zmq.POLLIN)
        self.echo.watch(poller)
        self.accepts = AcceptWatch({"request port": self.router, "event port": self.pub},
                                   self.fd_limit, FDS_PER_PEER, poller, self._dashboard_fds())
        # Requests are timed only for the metrics: without them, not a clock read more.
        self._take_request = self._on_request if self.metrics is None else self._on_request_timed

    def run_once(self, max_wait_s: float = MAX_WAIT_S) -> None:
        """One pass: wait for something to arrive or the next deadline (at
        most ``max_wait_s``), hand every waiting request to the state, run
        the expiry, write the pass's stdout blocks as one batch."""
        assert self._poller is not None and self.accepts is not None, "watch() first"
        now = monotonic()
        ready = dict(self._poller.poll(timeout_ms(self._next_deadline_s(), now, max_wait_s)))
        self.waker.drain()
        now = monotonic()
        for monitor in self.accepts.monitors:
            if monitor in ready:
                self.accepts.check(monitor, now)
        self.echo.serve(ready, now)
        self._blocks = []
        receive_all(self.router, self._take_request)
        self._carry_out(self.state.expire(monotonic()))
        self.writer.write(self._blocks)
        if self.feed is not None and self.feed.status_due():
            self._publish_status()

    def _say_where(self, port_path: Path) -> None:
        """Where to reach this tracker, whatever the log level: a person
        starting it wants to know, and stdout belongs to the blocks."""
        spec = bind_spec(self.settings.bind_address)
        sys.stderr.write(f"tracker listening on {spec}:{self.port} (requests), events on "
                         f"{spec}:{self.pub_port}; port written to {port_path.absolute()}\n")
        sys.stderr.flush()

    def _start_dashboard(self) -> None:
        """The HTTP server of --http, on its own thread; this loop only
        publishes to its feed."""
        from swarm.io.http.feed import DashboardFeed
        from swarm.io.http.server import start_http_server

        self.feed = DashboardFeed()
        self.feed.on_wanted(self.waker.wake)
        self.metrics = _tracker_metrics(self.feed)
        self.http = start_http_server(self.feed, self.settings.http_address,
                                      http_token(self.settings.key),
                                      self.metrics.render if self.metrics else None,
                                      dashboard_limits(self.fd_limit), self.fd_limit)
        # Warnings and errors (refused offers, expiries) show among the page's events.
        self._feed_log = EventLogHandler(self.feed.publish_entry)
        logging.getLogger().addHandler(self._feed_log)
        sys.stderr.write(f"dashboard at {self.http.url} (status at /api/status, events at "
                         f"/api/events, metrics at /metrics)\n")
        sys.stderr.flush()

    def _dashboard_fds(self) -> int:
        """The descriptors set aside for the dashboard, out of the peers' room."""
        return dashboard_limits(self.fd_limit).descriptors if self.http is not None else 0

    def _next_deadline_s(self) -> float | None:
        """When the loop must wake with nothing received: a peer's expiry, an
        address echo set aside, the next status a reader waits for."""
        status = self.feed.next_status_s() if self.feed is not None else None
        due = [t for t in (self.state.next_expiry_s(), self.echo.next_check_s(), status)
               if t is not None]
        return min(due, default=None)

    def _publish_status(self) -> None:
        """What /api/status serves: `swarm status --json`'s object, built
        only while somebody reads it."""
        assert self.feed is not None
        status = status_json(self.state.listing(monotonic()))
        self.feed.publish_status(status | {"time": time.time()})

    def _on_request(self, frames: list[zmq.Frame]) -> None:
        sender = frames[0].bytes
        try:
            message, _ = decode([f.buffer for f in frames[1:]])
        except ProtocolError as exc:
            self._bad_message(sender, str(exc))
            return
        address = str(frames[1].get("Peer-Address") or "127.0.0.1")
        self._carry_out(self.state.handle(sender, message, address, monotonic()))

    def _on_request_timed(self, frames: list[zmq.Frame]) -> None:
        started = monotonic()
        self._on_request(frames)
        assert self.metrics is not None
        self.metrics.request_handled(monotonic() - started)

    def _bad_message(self, sender: bytes, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.bad_message()
        self._carry_out(self.state.bad_request(sender, reason))

    def _carry_out(self, actions: list[Action]) -> None:
        """The actions of one call of the state, in the order it decided
        them.  A reply that carries an event number (a Welcome, a Pong) is
        decided after the events of its request, so it never goes out
        before them: a peer that compares the two sees no false gap."""
        if self.metrics is not None:
            self.metrics.count_actions(actions, self.state.figures())
        for action in actions:
            carry_out = CARRY_OUT.get(type(action))
            if carry_out is None:  # pragma: no cover - a new action without its carrying out
                raise TypeError(f"no way to carry out {type(action).__name__}")
            carry_out(self, action)

    def _observe(self, action: Observe) -> None:
        """An entry for tools: the --events file and the dashboard's
        /api/events get the same object."""
        if self.events is None and self.feed is None:
            return
        entry = log_entry(action.kind, **action.fields)
        if self.events is not None:
            self.events.write(entry)
        if self.feed is not None:
            self.feed.publish_entry(entry)

    def _publish(self, event: Event) -> None:
        self.pub.send_multipart([event.TOPIC, encode(event)])

    def _send(self, target: bytes, message: Message) -> None:
        try:
            self.router.send_multipart([target, *encode_frames(message)], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            # Gone (EHOSTUNREACH with ROUTER_MANDATORY) or not reading (EAGAIN):
            # the heartbeat expiry deals with a peer that stays away.
            log.info("could not answer %s: %s", target.hex()[:12], exc.strerror)

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
        if self._feed_log is not None:
            logging.getLogger().removeHandler(self._feed_log)
        if self.accepts is not None:
            self.accepts.close()
        self.echo.close()
        self.waker.close()
        self._release()

    def _release(self) -> None:
        """What the constructor made before it binds: closed at the end, or
        when a port cannot be had."""
        self.router.close(linger=0)
        self.pub.close(linger=0)
        if self.auth is not None:
            self.auth.stop()
        self.ctx.term()
        if self.events is not None:
            self.events.close()
        self.folder_lock.release()


# How each action is carried out.
CARRY_OUT: dict[type[Action], Callable[[TrackerLoop, Any], None]] = {
    Send: lambda loop, a: loop._send(a.to, a.message),
    Publish: lambda loop, a: loop._publish(a.event),
    Show: lambda loop, a: loop._blocks.append(a.block),
    Say: lambda _loop, a: log.log(a.level, a.template, *a.args),
    Observe: TrackerLoop._observe,
}


def _tracker_metrics(feed: DashboardFeed) -> TrackerMetrics | None:
    """The metrics /metrics serves; without prometheus_client installed the
    dashboard works and /metrics says it is not available."""
    try:
        from swarm.io.http.metrics import TrackerMetrics
    except ImportError as exc:
        log.warning("no metrics at /metrics: %s", exc)
        return None
    return TrackerMetrics(feed)


def run_tracker(settings: Settings, workdir: Path, events: Path | None = None) -> int:
    try:
        loop = TrackerLoop(settings, workdir, events)
    except FolderTaken as exc:
        log.error("not starting: %s", exc)
        return EXIT_FOLDER_TAKEN
    except PortUnavailable as exc:
        log.error("not starting: %s", exc)
        return EXIT_PORT_UNAVAILABLE
    return loop.run()
