"""A peer's poll loop: the thin side of the peer.

It owns the sockets (``sockets``), the disk (``store``, ``watcher``)
and the clock, hands everything that happens to ``PeerState``, and carries
out the actions it returns (``runner``).  Files that appear in Shared
are hashed on a worker thread, so a big one never stalls the loop.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable
from pathlib import Path

import zmq

from swarm.config import Settings
from swarm.io.common.curve import keys_from, start_authenticator
from swarm.io.common.event_log import open_event_log
from swarm.io.common.memory import collect_less, keep_freed_buffers
from swarm.io.common.ports import PortUnavailable
from swarm.io.common.process_limits import lower_priority, raise_open_file_limit
from swarm.io.common.stdout import StdoutWriter
from swarm.io.common.zmq_util import Waker, monotonic, receive_all, timeout_ms, try_decode
from swarm.io.peer.console import REFRESH_S as CONSOLE_REFRESH_S
from swarm.io.peer.console import Console
from swarm.io.peer.console import wanted as console_wanted
from swarm.io.peer.runner import ActionRunner
from swarm.io.peer.sockets import PeerSockets
from swarm.io.peer.store import Store
from swarm.io.peer.watcher import SharedWatcher
from swarm.peer.mode import Mode
from swarm.peer.reversal import ReverseRoute
from swarm.peer.state import PeerState
from swarm.protocol.events import Event
from swarm.protocol.output import Action

log = logging.getLogger("swarm.peer")

# How often a peer that shows its status asks the tracker why it may not
# leave yet (only while it waits to leave): fresh words, at a request a peer.
REASON_REFRESH_S = 2.0
EXIT_PORT_UNAVAILABLE = 2  # a port the settings fixed cannot be had


class PeerLoop:
    def __init__(self, settings: Settings, tracker_host: str, tracker_port: int,
                 quiet_s: float, shared_dir: Path, state_dir: Path,
                 events: Path | None = None, progress: str = "auto",
                 mode: Mode | None = None) -> None:
        self.settings = settings
        self.mode = mode  # a get or a seed (swarm.peer.mode); None: a peer
        keep_freed_buffers()  # before ZeroMQ's threads start
        collect_less()
        lower_priority(settings.peer_niceness)
        self.waker = Waker()
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        keys = keys_from(settings.key)
        self.auth = start_authenticator(self.ctx, keys) if keys else None
        self.poller = zmq.Poller()
        self.poller.register(self.waker.read_fd, zmq.POLLIN)
        try:
            self.net = PeerSockets(self.ctx, tracker_host, tracker_port, self.poller, keys,
                                   monotonic, raise_open_file_limit(), self.waker.wake,
                                   settings.peer_ports())
        except PortUnavailable:
            if self.auth is not None:
                self.auth.stop()
            self.ctx.term()
            self.waker.close()
            raise
        self.events = open_event_log(events)
        self.console = Console(console_wanted(progress), f"{tracker_host}:{tracker_port}")
        self.store = Store(shared_dir, state_dir, settings.follow_symlinks)
        self.writer = StdoutWriter(around=self.console.around_stdout)
        self.watcher = SharedWatcher(self.store, self.waker)
        self.quiet_s = quiet_s

    def run(self) -> int:
        self.waker.install_signal_handlers()
        self.store.open()
        state = self._start()
        runner = ActionRunner(state, self.net, self.store, self.writer, self.events, monotonic,
                              self.console)
        run = runner.run
        run(state.start())
        next_scan = monotonic() + self.settings.scan_interval_s
        next_draw = monotonic() if self.console.live else float("inf")
        next_reason = monotonic()
        try:
            while not state.done:
                now = monotonic()
                if self.waker.stop_requested:
                    self.waker.stop_requested = False
                    run(state.request_shutdown(now))
                timer_due = state.next_deadline_s(now)
                deadline = min(timer_due, next_scan, next_draw,
                               self.net.next_check_s() or float("inf"))
                ready = dict(self.poller.poll(timeout_ms(deadline, now)))
                if self.waker.read_fd in ready:
                    self.waker.drain()
                self._dispatch(state, run, ready)
                now = monotonic()
                if now >= next_scan:
                    scan = self.watcher.scan()
                    for digest, what in scan.changed:
                        run(state.on_local_changed(digest, what, now))
                    run(state.on_shared_entries(scan.taken, now))
                    next_scan = now + self.settings.scan_interval_s
                for meta in self.watcher.finished():
                    run(state.on_local_file(meta, now))
                self._link_news(state, run, now)
                # The timer pass walks every part of the state: only when
                # something is due.  Otherwise only the requests the messages
                # made possible go out.  (A deadline a handler set sooner is in
                # the next ``next_deadline_s``, and the poll returns at once.)
                run(state.on_timer(now) if now >= timer_due else state.flush(now))
                if now >= next_draw and not state.done:
                    if now >= next_reason:
                        run(state.ask_why_not_leaving())
                        next_reason = now + REASON_REFRESH_S
                    self.console.update(state.progress(), state.status(now), now)
                    next_draw = now + CONSOLE_REFRESH_S
        finally:
            self.console.close()
            if self.events is not None:
                self.events.close()
            self.watcher.stop()
            self.net.close()
            if self.auth is not None:
                self.auth.stop()
            self.ctx.term()
            self._say_what_is_left(state)
            self.store.close()
            self.waker.close()
        self.store.remove_state_if_empty()  # only folders left empty go
        return state.exit_code if state.exit_code is not None else 1

    def _link_news(self, state: PeerState, run: Callable[[list[Action]], None],
                   now: float) -> None:
        """What the sockets found out by themselves: our public mapping, and
        links that never came up, or are known to be refused."""
        for seen in self.net.mapping_results():
            run(state.on_mapping(self.net.punch_host, seen))
        for peer_id in self.net.failed_reversals(now):
            run(state.on_reversal_failed(peer_id))
        for peer_id in self.net.unreachable(now):
            run(state.on_link_unreachable(peer_id, now))
        for peer_id in self.net.refused_again():
            run(state.on_link_unreachable(peer_id, now, refused=True))

    def _say_what_is_left(self, state: PeerState) -> None:
        """At exit: the swarm's files this peer leaves without, and why; and
        no download that never stored a piece is left on disk (there is
        nothing in it to resume; those with data stay for a later run)."""
        for missing in state.unobtained():
            # Nobody could serve it: worth a word at the default level.  A
            # peer stopped early knows why it lacks the rest.
            level = logging.WARNING if missing.stranded else logging.INFO
            log.log(level, "leaving without %s", missing.describe())
        for digest in state.empty_partials():
            self.store.drop_partial(digest)

    def _start(self) -> PeerState:
        """What the peer starts with: the files of Shared, hashed; what else
        is there; and the downloads an earlier run left, re-verified."""
        now = monotonic()
        scan = self.watcher.scan()
        local_files = []
        for name in sorted(scan.files):
            try:
                local_files.append(self.store.hash_shared(name))
            except OSError as exc:  # the watcher offers it once it can be read
                log.warning("cannot read %r in Shared: %s", name, exc.strerror)
        local_names = {m.name for m in local_files}
        taken = {n: what for n, what in scan.taken.items() if n not in local_names}
        leftovers = []  # downloads an earlier run left
        local_digests = {m.digest for m in local_files}
        for meta, pieces in self.store.load_partials():
            if meta.digest in local_digests or meta.name in local_names:
                self.store.drop_partial(meta.digest)  # finished, or superseded
            else:
                leftovers.append((meta, pieces))
        return PeerState(self.settings.peer_settings(), self.quiet_s, local_files, leftovers, taken,
                         self.net.listen_port, now, random.Random(), self.mode,
                         explains_itself=self.console.live)

    def _dispatch(self, state: PeerState, run: Callable[[list[Action]], None],
                  ready: dict[object, int]) -> None:
        net = self.net
        if net.tracker in ready:
            receive_all(net.tracker, lambda frames: self._from_tracker(state, run, frames))
        if net.events in ready:
            receive_all(net.events, lambda frames: self._event(state, run, frames))
        if net.server in ready:
            receive_all(net.server, lambda frames: self._request(state, run, frames))
        for sock in net.fetch_sockets():
            if sock in ready:
                receive_all(sock, lambda frames: self._reply(state, run, frames))
        self._serve_links(state, run, ready)
        if any(monitor in ready for monitor in net.fetch_monitors()):
            self._link_events(state, run)
        for monitor in net.accepts.monitors:
            if monitor in ready:
                net.accepts.check(monitor, monotonic())

    def _serve_links(self, state: PeerState, run: Callable[[list[Action]], None],
                     ready: dict[object, int]) -> None:
        """Requests on the links we opened to serve peers that cannot reach us."""
        net = self.net
        for sock, link in list(net.by_socket.items()):
            if sock in ready:
                receive_all(sock, functools.partial(self._served, state, run, link.peer_id))
        for monitor, link in list(net.by_monitor.items()):
            if monitor in ready:
                net.link_events(link)  # the peer we serve notices its own losses

    def _link_events(self, state: PeerState, run: Callable[[list[Action]], None]) -> None:
        """Connections to sources that came up, broke, or were refused."""
        for peer_id, event in self.net.fetch_link_events():
            if event == zmq.EVENT_DISCONNECTED:
                run(state.on_link_down(peer_id))
            elif event == zmq.EVENT_CONNECTED:
                run(state.on_link_up(peer_id))
            elif event == zmq.EVENT_CLOSED:
                run(state.on_link_unreachable(peer_id, monotonic(), refused=True))

    def _from_tracker(self, state: PeerState, run: Callable[[list[Action]], None],
                      frames: list[zmq.Frame]) -> None:
        decoded = try_decode(frames, "the tracker")
        if decoded is not None:
            run(state.on_tracker(decoded[0], monotonic()))

    def _event(self, state: PeerState, run: Callable[[list[Action]], None],
               frames: list[zmq.Frame]) -> None:
        decoded = try_decode(frames[1:], "the tracker's events")  # past the topic frame
        if decoded is None:
            return
        if not isinstance(decoded[0], Event):
            log.warning("non-event %s on the event channel", type(decoded[0]).__name__)
            return
        run(state.on_event(decoded[0], monotonic()))

    def _request(self, state: PeerState, run: Callable[[list[Action]], None],
                 frames: list[zmq.Frame]) -> None:
        route = frames[0].bytes
        decoded = try_decode(frames[1:], "a peer's request")
        if decoded is not None:
            run(state.on_request(route, decoded[0], monotonic(), decoded[1]))

    def _served(self, state: PeerState, run: Callable[[list[Action]], None], peer_id: int,
                frames: list[zmq.Frame]) -> None:
        """A request from a peer we connected out to (it cannot reach us)."""
        decoded = try_decode(frames, f"peer {peer_id} (reversed)")
        if decoded is not None:
            run(state.on_request(ReverseRoute(peer_id), decoded[0], monotonic(), decoded[1]))

    def _reply(self, state: PeerState, run: Callable[[list[Action]], None],
               frames: list[zmq.Frame]) -> None:
        """A reply from a source, on the fetch ROUTER."""
        peer_id = self.net.fetch_source(frames[0].bytes)
        if peer_id is None:
            return  # from a connection closed since
        decoded = try_decode(frames[1:], f"peer {peer_id}")
        if decoded is not None:
            run(state.on_peer_reply(peer_id, decoded[0], decoded[1], monotonic()))


def run_peer(settings: Settings, tracker_host: str, tracker_port: int, quiet_s: float,
             shared_dir: Path, state_dir: Path, events: Path | None = None,
             progress: str = "auto", mode: Mode | None = None) -> int:
    try:
        loop = PeerLoop(settings, tracker_host, tracker_port, quiet_s, shared_dir, state_dir,
                        events, progress, mode)
    except PortUnavailable as exc:
        log.error("not starting: %s", exc)
        return EXIT_PORT_UNAVAILABLE
    return loop.run()
