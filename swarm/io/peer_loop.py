"""A peer's poll loop.

The sockets are ``peer_net``'s; everything else -- what to fetch, whom to
ask, when to leave -- is ``PeerState``'s.  Files that appear in Shared are
hashed on a worker thread, so a big one never stalls the loop.
"""

from __future__ import annotations

import functools
import logging
import random
from pathlib import Path

import zmq

from swarm.config import Settings
from swarm.io.curve import keys_from, start_authenticator
from swarm.io.event_log import open_event_log
from swarm.io.peer_sockets import PeerNetZmq
from swarm.io.progress_bars import REFRESH_S as PROGRESS_REFRESH_S
from swarm.io.progress_bars import ProgressBars
from swarm.io.progress_bars import wanted as progress_wanted
from swarm.io.stdout import StdoutWriter
from swarm.io.store import Store
from swarm.io.watcher import SharedWatcher
from swarm.io.zmq_util import Waker, monotonic, receive_all, timeout_ms, try_decode
from swarm.peer.reversal import ReverseRoute
from swarm.peer.state import PeerState
from swarm.protocol import display
from swarm.protocol.messages import Event

log = logging.getLogger("swarm.peer")


class PeerLoop:
    def __init__(self, settings: Settings, tracker_host: str, tracker_port: int,
                 quiet_s: float, shared_dir: Path, state_dir: Path,
                 events: Path | None = None, progress: str = "auto") -> None:
        self.settings = settings
        self.events = open_event_log(events)
        self.bars = ProgressBars() if progress_wanted(progress) else None
        self.store = Store(shared_dir, state_dir, settings.follow_symlinks)
        self.waker = Waker()
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        keys = keys_from(settings.key)
        self.auth = start_authenticator(self.ctx, keys) if keys else None
        self.poller = zmq.Poller()
        self.poller.register(self.waker.read_fd, zmq.POLLIN)
        self.net = PeerNetZmq(self.ctx, tracker_host, tracker_port, self.poller, keys, monotonic)
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
                deadline = min(state.next_deadline_s(now), next_scan, next_bars,
                               self.net.next_check_s() or float("inf"))
                ready = dict(self.poller.poll(timeout_ms(deadline, now)))
                self.waker.drain()
                self._dispatch(state, ready)
                now = monotonic()
                if now >= next_scan:
                    self.watcher.scan(state, now)
                    next_scan = now + self.settings.scan_interval_s
                for meta in self.watcher.finished():
                    state.on_local_file(meta, now)
                for peer_id in self.net.unreachable(now):
                    state.on_link_unreachable(peer_id, now)
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
        scan = self.store.scan_shared()
        self.watcher.note_skipped(scan.skipped)
        local_files = []
        for name in sorted(scan.files):
            try:
                local_files.append(self.store.hash_shared(name))
            except OSError as exc:  # the watcher offers it once it can be read
                log.warning("cannot read %r in Shared: %s", name, exc.strerror)
        partials = []
        local_digests = {m.digest for m in local_files}
        local_names = {m.name for m in local_files}
        for meta, pieces in self.store.load_partials():
            if meta.digest in local_digests or meta.name in local_names:
                self.store.drop_partial(meta.digest)  # finished, or superseded
            else:
                partials.append((meta, pieces))
        self.state = PeerState(
            self.settings, self.quiet_s, self.store, self.net, self._show,
            local_files, partials, self.net.listen_port, now, random.Random(),
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
        for sock, link in list(net.by_socket.items()):
            if sock in ready:
                handler = self._served if link.serving else self._reply
                receive_all(sock, functools.partial(handler, state, link.peer_id))
        for monitor, link in list(net.by_monitor.items()):
            if monitor in ready:
                for event in net.link_events(link):
                    if link.serving:
                        continue  # the peer we serve notices its own losses
                    if event == zmq.EVENT_DISCONNECTED:
                        state.on_link_down(link.peer_id, monotonic())
                    elif event == zmq.EVENT_CONNECTED:
                        state.on_link_up(link.peer_id, monotonic())

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
            state.on_request(route, decoded[0], monotonic(), decoded[1])

    def _served(self, state: PeerState, peer_id: int, frames: list[zmq.Frame]) -> None:
        """A request from a peer we connected out to (it cannot reach us)."""
        decoded = try_decode(frames, f"peer {peer_id} (reversed)")
        if decoded is not None:
            state.on_request(ReverseRoute(peer_id), decoded[0], monotonic(), decoded[1])

    def _reply(self, state: PeerState, peer_id: int, frames: list[zmq.Frame]) -> None:
        decoded = try_decode(frames, f"peer {peer_id}")
        if decoded is not None:
            state.on_peer_reply(peer_id, decoded[0], decoded[1], monotonic())


def run_peer(settings: Settings, tracker_host: str, tracker_port: int, quiet_s: float,
             shared_dir: Path, state_dir: Path, events: Path | None = None,
             progress: str = "auto") -> int:
    return PeerLoop(settings, tracker_host, tracker_port, quiet_s, shared_dir, state_dir,
                    events, progress).run()
