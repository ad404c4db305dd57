"""A peer's sockets and poll loop.

Sockets: a DEALER to the tracker, a SUB on its events, a ROUTER that serves
chunks, and one DEALER per peer we fetch from.  Everything else -- what to
fetch, whom to ask, when to leave -- is ``PeerState``'s.  Files that appear in
Shared are hashed on a worker thread, so a big one never stalls the loop.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import threading
from pathlib import Path
from queue import SimpleQueue

import zmq

from swarm import display
from swarm.codec import MAX_HEADER_BYTES, MAX_PAYLOAD_BYTES, encode_frames
from swarm.config import Settings
from swarm.curve import CurveKeys, keys_from, make_client, make_server, start_authenticator
from swarm.display import StdoutWriter
from swarm.event_log import open_event_log
from swarm.loop import Waker, configure, monotonic, receive_all, timeout_ms, try_decode
from swarm.messages import Event, Message, tcp_endpoint
from swarm.meta import FileMeta
from swarm.peer_state import PeerState
from swarm.progress import REFRESH_S as PROGRESS_REFRESH_S
from swarm.progress import ProgressBars
from swarm.progress import wanted as progress_wanted
from swarm.store import LocalFile, Store

log = logging.getLogger("swarm.peer")

REQUEST_PORT_MAX_BYTES = 64 << 10  # chunk requests are tiny
EVENT_MAX_BYTES = 1 << 16


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


class SharedWatcher:
    """Offers files copied into Shared once they stop changing: a file is
    hashed when two scans, ``scan_interval_s`` apart, see the same size,
    mtime and inode.  Hashing runs on a thread of its own (hashlib releases
    the GIL), started the first time it is needed, so a big file never
    stalls the loop."""

    def __init__(self, store: Store, waker: Waker) -> None:
        self.store = store
        self.waker = waker
        self.known: set[str] = set()
        self._seen: dict[str, LocalFile] = {}
        self._hashing: dict[str, LocalFile] = {}
        self._jobs: SimpleQueue[str | None] = SimpleQueue()
        self._results: SimpleQueue[tuple[str, FileMeta | OSError]] = SimpleQueue()
        self._thread: threading.Thread | None = None

    def scan(self) -> None:
        current = self.store.scan_shared()
        for name, seen in current.items():
            if name in self.known or name in self._hashing:
                continue
            if self._seen.get(name) == seen:
                self._hashing[name] = seen
                self._submit(name)
        self._seen = {n: f for n, f in current.items() if n not in self.known}

    def _submit(self, name: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="hash", daemon=True)
            self._thread.start()
        self._jobs.put(name)

    def _work(self) -> None:
        while (name := self._jobs.get()) is not None:
            try:
                result: FileMeta | OSError = self.store.hash_shared(name)
            except OSError as exc:
                result = exc
            self._results.put((name, result))
            self.waker.wake()

    def finished(self) -> list[FileMeta]:
        done = []
        while not self._results.empty():
            name, result = self._results.get()
            seen = self._hashing.pop(name)
            if isinstance(result, OSError):
                log.warning("cannot read %r in Shared: %s", name, result)
                continue
            if result.size_bytes != seen.size_bytes:
                continue  # changed while it was hashed: look again next scan
            done.append(result)
        return done

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)


class PeerNetZmq:
    """``PeerNet`` on ZeroMQ sockets."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], tracker_host: str,
                 tracker_port: int, poller: zmq.Poller, keys: CurveKeys | None) -> None:
        self.ctx = ctx
        self.tracker_host = tracker_host
        self.poller = poller
        self.keys = keys
        self.tracker = ctx.socket(zmq.DEALER)
        self._client(self.tracker)
        configure(self.tracker, MAX_HEADER_BYTES + 4096)
        # A routing id of our own survives reconnects, so the tracker keeps
        # knowing who we are after a network blip.
        self.tracker.setsockopt(zmq.ROUTING_ID, os.urandom(16))
        self.tracker.connect(tcp_endpoint(tracker_host, tracker_port))
        poller.register(self.tracker, zmq.POLLIN)
        self.events = ctx.socket(zmq.SUB)
        self._client(self.events)
        configure(self.events, EVENT_MAX_BYTES)
        self.events.setsockopt(zmq.SUBSCRIBE, b"")
        self.events.setsockopt(zmq.RCVHWM, 100_000)
        poller.register(self.events, zmq.POLLIN)
        self.server = ctx.socket(zmq.ROUTER)
        if keys is not None:
            make_server(self.server, keys)
        configure(self.server, REQUEST_PORT_MAX_BYTES)
        self.server.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.server.setsockopt(zmq.SNDHWM, 10_000)
        bind_host = local_address_towards(tracker_host, tracker_port)
        if ":" in bind_host:
            self.server.setsockopt(zmq.IPV6, 1)
            bind_host = f"[{bind_host}]"
        self.listen_port = self.server.bind_to_random_port(f"tcp://{bind_host}")
        poller.register(self.server, zmq.POLLIN)
        self.links: dict[int, zmq.Socket[bytes]] = {}
        self.link_owner: dict[zmq.Socket[bytes], int] = {}
        # A monitor per link reports a broken connection at once (a SIGKILLed
        # peer's socket is reset), so its requests need not wait for deadlines.
        self.monitors: dict[int, zmq.Socket[bytes]] = {}
        self.monitor_owner: dict[zmq.Socket[bytes], int] = {}

    def _client(self, sock: zmq.Socket[bytes]) -> None:
        if self.keys is not None:
            make_client(sock, self.keys)

    # PeerNet

    def to_tracker(self, message: Message) -> None:
        try:
            self.tracker.send_multipart(encode_frames(message), zmq.NOBLOCK)
        except zmq.Again:
            log.warning("tracker queue full; dropped %s", type(message).__name__)

    def to_peer(self, peer_id: int, endpoint: str, message: Message) -> None:
        link = self.links.get(peer_id)
        if link is None:
            link = self.ctx.socket(zmq.DEALER)
            self._client(link)
            configure(link, MAX_PAYLOAD_BYTES + 4096)
            link.setsockopt(zmq.RCVHWM, 10_000)
            if endpoint.startswith("tcp://["):
                link.setsockopt(zmq.IPV6, 1)
            monitor = link.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
            link.connect(endpoint)
            self.links[peer_id] = link
            self.link_owner[link] = peer_id
            self.monitors[peer_id] = monitor
            self.monitor_owner[monitor] = peer_id
            self.poller.register(link, zmq.POLLIN)
            self.poller.register(monitor, zmq.POLLIN)
        try:
            link.send_multipart(encode_frames(message), zmq.NOBLOCK)
        except zmq.Again:
            log.info("link to peer %d is full; %s dropped", peer_id, type(message).__name__)

    def reply(self, route: bytes, message: Message, payload: bytes | None = None) -> None:
        frames = [route, *encode_frames(message, payload)]
        try:
            # Copied (a memcpy of at most 1 MiB) rather than zero-copy, which
            # would cost a message to pyzmq's garbage-collector thread per send.
            self.server.send_multipart(frames, zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.info("could not answer a peer: %s", exc.strerror)

    def drop_peer(self, peer_id: int) -> None:
        link = self.links.pop(peer_id, None)
        monitor = self.monitors.pop(peer_id, None)
        if link is None or monitor is None:
            return
        self.poller.unregister(link)
        self.poller.unregister(monitor)
        del self.link_owner[link]
        del self.monitor_owner[monitor]
        link.disable_monitor()
        monitor.close(linger=0)
        link.close(linger=0)

    def link_events(self, monitor: zmq.Socket[bytes]) -> list[int]:
        """Connection events waiting on a link's monitor.  A monitor message
        is two frames; the first starts with the event number (uint16, native
        order).  Parsed here because pyzmq's helper pulls in asyncio, which
        costs every peer 25 ms at start-up."""
        events: list[int] = []
        while True:
            try:
                frames = monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return events
            if frames and len(frames[0]) >= 2:
                events.append(int.from_bytes(frames[0][:2], sys.byteorder))

    def subscribe(self, pub_port: int) -> None:
        self.events.connect(tcp_endpoint(self.tracker_host, pub_port))

    def close(self) -> None:
        for peer_id in list(self.links):
            self.drop_peer(peer_id)
        for sock in (self.server, self.events):
            sock.close(linger=0)
        self.tracker.close(linger=500)  # let a goodbye go out


class PeerLoop:
    def __init__(self, settings: Settings, tracker_host: str, tracker_port: int,
                 quiet_s: float, shared_dir: Path, state_dir: Path,
                 events: Path | None = None, progress: str = "auto") -> None:
        self.settings = settings
        self.events = open_event_log(events)
        self.bars = ProgressBars() if progress_wanted(progress) else None
        self.store = Store(shared_dir, state_dir)
        self.waker = Waker()
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        keys = keys_from(settings.key)
        self.auth = start_authenticator(self.ctx, keys) if keys else None
        self.poller = zmq.Poller()
        self.poller.register(self.waker.read_fd, zmq.POLLIN)
        self.net = PeerNetZmq(self.ctx, tracker_host, tracker_port, self.poller, keys)
        self.writer = StdoutWriter()
        self.watcher = SharedWatcher(self.store, self.waker)
        self.quiet_s = quiet_s
        self.state: PeerState | None = None

    def _show(self, block: display.Block) -> None:
        self.writer.write([block])

    def run(self) -> int:
        self.waker.install_signal_handlers()
        self.store.open()
        state = self._start()
        next_scan = monotonic() + self.settings.scan_interval_s
        next_bars = monotonic() if self.bars else float("inf")
        try:
            while not state.done:
                now = monotonic()
                if self.waker.stop_requested:
                    self.waker.stop_requested = False
                    state.request_shutdown(now)
                deadline = min(state.next_deadline_s(now), next_scan, next_bars)
                ready = dict(self.poller.poll(timeout_ms(deadline, now)))
                self.waker.drain()
                self._dispatch(state, ready)
                now = monotonic()
                if now >= next_scan:
                    self.watcher.scan()
                    next_scan = now + self.settings.scan_interval_s
                for meta in self.watcher.finished():
                    self.watcher.known.add(meta.name)
                    state.on_local_file(meta, now)
                state.on_timer(now)
                if self.bars is not None and now >= next_bars:
                    self.bars.update(state.progress())
                    next_bars = now + PROGRESS_REFRESH_S
        finally:
            if self.bars is not None:
                self.bars.update(state.progress())
                self.bars.close()
            if self.events is not None:
                self.events.close()
            self.watcher.stop()
            self.net.close()
            if self.auth is not None:
                self.auth.stop()
            self.ctx.term()
            self.store.close()
            self.waker.close()
        if not state.fetching and not state.partials:
            self.store.remove_state_if_empty()
        return state.exit_code if state.exit_code is not None else 1

    def _start(self) -> PeerState:
        now = monotonic()
        local_files = []
        for name in sorted(self.store.scan_shared()):
            try:
                local_files.append(self.store.hash_shared(name))
            except OSError as exc:
                log.warning("cannot read %r in Shared: %s", name, exc)
        partials = []
        local_digests = {m.digest for m in local_files}
        local_names = {m.name for m in local_files}
        for meta, pieces in self.store.load_partials():
            if meta.digest in local_digests or meta.name in local_names:
                self.store.drop_partial(meta.digest)  # finished, or superseded
            else:
                partials.append((meta, pieces))
        self.watcher.known.update(local_names)
        self.state = PeerState(
            self.settings, self.quiet_s, self.store, self.net, self._show,
            local_files, partials, self.net.listen_port, now,
            observe=self.events.emit if self.events else None,
        )
        return self.state

    def _dispatch(self, state: PeerState, ready: dict[object, int]) -> None:
        net = self.net
        if net.tracker in ready:
            receive_all(net.tracker, lambda frames: self._from_tracker(state, frames))
        if net.events in ready:
            receive_all(net.events, lambda frames: self._event(state, frames))
        if net.server in ready:
            receive_all(net.server, lambda frames: self._request(state, frames))
        for sock, peer_id in list(net.link_owner.items()):
            if sock in ready:
                receive_all(sock, functools.partial(self._reply, state, peer_id))
        for monitor, peer_id in list(net.monitor_owner.items()):
            if monitor in ready:
                for event in net.link_events(monitor):
                    if event == zmq.EVENT_DISCONNECTED:
                        state.on_link_down(peer_id, monotonic())
                    elif event == zmq.EVENT_CONNECTED:
                        state.on_link_up(peer_id, monotonic())

    def _from_tracker(self, state: PeerState, frames: list[zmq.Frame]) -> None:
        decoded = try_decode(frames, "the tracker")
        if decoded is not None:
            state.on_tracker(decoded[0], monotonic())

    def _event(self, state: PeerState, frames: list[zmq.Frame]) -> None:
        decoded = try_decode(frames, "the tracker's events")
        if decoded is None:
            return
        if not isinstance(decoded[0], Event):
            log.warning("non-event %s on the event channel", type(decoded[0]).__name__)
            return
        state.on_event(decoded[0], monotonic())

    def _request(self, state: PeerState, frames: list[zmq.Frame]) -> None:
        route = frames[0].bytes
        decoded = try_decode(frames[1:], "a peer's request")
        if decoded is not None:
            state.on_request(route, decoded[0], monotonic())

    def _reply(self, state: PeerState, peer_id: int, frames: list[zmq.Frame]) -> None:
        decoded = try_decode(frames, f"peer {peer_id}")
        if decoded is not None:
            state.on_peer_reply(peer_id, decoded[0], decoded[1], monotonic())


def run_peer(settings: Settings, tracker_host: str, tracker_port: int, quiet_s: float,
             shared_dir: Path, state_dir: Path, events: Path | None = None,
             progress: str = "auto") -> int:
    return PeerLoop(settings, tracker_host, tracker_port, quiet_s, shared_dir, state_dir,
                    events, progress).run()
