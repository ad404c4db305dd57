"""The tracker's sockets and poll loop: a ROUTER for requests, a PUB for events.

All decisions are ``TrackerState``'s; this loop receives, decodes, hands over,
and carries out the outcome: replies, published events, and stdout blocks
(written once per pass, each block whole).
"""

from __future__ import annotations

import logging
import os
import random
import sys
from pathlib import Path

import zmq

from swarm.config import Settings
from swarm.io.address_echo import AddressEcho
from swarm.io.curve import keys_from, make_server, start_authenticator
from swarm.io.event_log import open_event_log
from swarm.io.port_file import FolderLock, FolderTaken, write_port_file
from swarm.io.process_limits import AcceptWatch, peers_within, raise_open_file_limit
from swarm.io.stdout import StdoutWriter
from swarm.io.zmq_util import Waker, configure, monotonic, receive_all, timeout_ms
from swarm.protocol.codec import MAX_HEADER_BYTES, decode, encode, encode_frames
from swarm.protocol.display import Acquired, Block, Connect, Disconnect
from swarm.protocol.messages import (
    TOKEN_BYTES,
    Availability,
    ErrorReply,
    Event,
    Excused,
    ExcuseWithdrawn,
    FileAdded,
    FileCompleted,
    FileDropped,
    FileRemoved,
    Message,
    ProtocolError,
    bracketed,
    is_ipv6,
)
from swarm.tracker.state import Outcome, TrackerState

log = logging.getLogger("swarm.tracker")

EXIT_FOLDER_TAKEN = 2  # another tracker serves from this folder's port.txt
PUB_HWM_MESSAGES = 100_000  # events are small; dropping one costs a resync
BAD_MESSAGES_LOGGED = 10  # per stranger; then its bad requests are only dropped
STRANGERS_REMEMBERED = 10_000  # bounds the memory a flood of new senders can take
FDS_PER_PEER = 2  # its request connection and its event connection


def bind_spec(address: str) -> str:
    host = "*" if address in ("*", "0.0.0.0", "") else address
    return f"tcp://{bracketed(host)}"


class TrackerLoop:
    def __init__(self, settings: Settings, workdir: Path, events: Path | None = None) -> None:
        self.settings = settings
        self.workdir = workdir
        # Before anything is bound or written: a second tracker in this
        # folder stops here (FolderTaken) and leaves port.txt alone.
        self.folder_lock = FolderLock(workdir)
        self.folder_lock.acquire()
        self.events = open_event_log(events)
        self.fd_limit = raise_open_file_limit()
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
        spec = bind_spec(settings.bind_address)
        self.port = self.router.bind_to_random_port(spec)
        self.pub_port = self.pub.bind_to_random_port(spec)
        self.echo = AddressEcho(settings.bind_address)
        echo_ports = self.echo.ports
        self.state = TrackerState(self.pub_port, settings.expiry_s,
                                  lambda: os.urandom(TOKEN_BYTES), random.Random(), echo_ports)
        self.writer = StdoutWriter()
        self.waker = Waker()
        self._bad_from: dict[bytes, int] = {}
        self._blocks: list[Block] = []  # stdout blocks of the current pass
        self.accepts: AcceptWatch | None = None  # made with the poller, in run

    def run(self) -> int:
        self.waker.install_signal_handlers()
        port_path = write_port_file(self.workdir, self.port)
        self._say_where(port_path)
        log.info("open-file limit %d: room for about %d peers", self.fd_limit,
                 peers_within(self.fd_limit, FDS_PER_PEER))
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.waker.read_fd, zmq.POLLIN)
        self.echo.watch(poller)
        self.accepts = AcceptWatch({"request port": self.router, "event port": self.pub},
                                   self.fd_limit, FDS_PER_PEER, poller)
        try:
            while not self.waker.stop_requested:
                now = monotonic()
                due = [t for t in (self.state.next_expiry_s(), self.echo.next_check_s())
                       if t is not None]
                ready = dict(poller.poll(timeout_ms(min(due, default=None), now)))
                self.waker.drain()
                now = monotonic()
                for monitor in self.accepts.monitors:
                    if monitor in ready:
                        self.accepts.check(monitor, now)
                self.echo.serve(ready, now)
                self._blocks = []
                receive_all(self.router, self._on_request)
                self._carry_out(self.state.expire(monotonic()))
                self.writer.write(self._blocks)
        finally:
            self.close()
        log.info("tracker stopped by signal %s", self.waker.stop_signal)
        return 0

    def _say_where(self, port_path: Path) -> None:
        """Where to reach this tracker, whatever the log level: a person
        starting it wants to know, and stdout belongs to the blocks."""
        spec = bind_spec(self.settings.bind_address)
        sys.stderr.write(f"tracker listening on {spec}:{self.port} (requests), events on "
                         f"{spec}:{self.pub_port}; port written to {port_path.absolute()}\n")
        sys.stderr.flush()

    def _on_request(self, frames: list[zmq.Frame]) -> None:
        sender = frames[0].bytes
        try:
            message, _ = decode([f.buffer for f in frames[1:]])
        except ProtocolError as exc:
            self._bad_message(sender, str(exc))
            return
        address = str(frames[1].get("Peer-Address") or "127.0.0.1")
        self._carry_out(self.state.handle(sender, message, address, monotonic()))

    def _bad_message(self, sender: bytes, reason: str) -> None:
        if sender in self.state.by_sender:  # a peer: counted, and expelled if it keeps on
            out = Outcome()
            self.state.strike(out, sender, f"bad request: {reason}")
            self._carry_out(out)
            return
        # A stranger: answered and logged a few times, then only dropped, so
        # a flood costs us little and cannot be turned against anyone else.
        if len(self._bad_from) > STRANGERS_REMEMBERED:
            self._bad_from.clear()
        count = self._bad_from.get(sender, 0) + 1
        self._bad_from[sender] = count
        if count <= BAD_MESSAGES_LOGGED:
            log.warning("dropped a bad request from %s: %s", sender.hex()[:12], reason)
            self._send(sender, ErrorReply(f"bad request: {reason}"[:1000]))

    def _carry_out(self, outcome: Outcome) -> None:
        self._blocks.extend(outcome.blocks)
        if self.events is not None:
            self._log_events(outcome)
        for event in outcome.events:
            self._publish(event)
        for target, message in outcome.sends:
            self._send(target, message)

    def _publish(self, event: Event) -> None:
        self.pub.send_multipart([event.TOPIC, encode(event)])

    def _send(self, target: bytes, message: Message) -> None:
        try:
            self.router.send_multipart([target, *encode_frames(message)], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            # Gone (EHOSTUNREACH with ROUTER_MANDATORY) or not reading (EAGAIN):
            # the heartbeat expiry deals with a peer that stays away.
            log.info("could not answer %s: %s", target.hex()[:12], exc.strerror)

    def _log_events(self, outcome: Outcome) -> None:
        """--events: the outcome of a request, as tools want to see it."""
        self._log_blocks(outcome.blocks)
        self._log_published(outcome.events)

    def _log_blocks(self, blocks: list[Block]) -> None:
        assert self.events is not None
        emit = self.events.emit
        for block in blocks:
            if isinstance(block, Connect):
                peer = self.state.peers.get(block.peer_id)
                emit("join", peer=block.peer_id, endpoint=peer.endpoint if peer else "",
                     offers=[name for name, _ in block.offers])
            elif isinstance(block, Acquired):
                emit("chunks", peer=block.peer_id, file=block.name,
                     chunks=sum(e - s for s, e in block.ranges),
                     ranges=[list(r) for r in block.ranges])
            elif isinstance(block, Disconnect):
                emit("leave", peer=block.peer_id, reason=block.reason,
                     received=list(block.received))

    def _log_published(self, events: list[Event]) -> None:
        assert self.events is not None
        emit = self.events.emit
        for event in events:
            if isinstance(event, FileAdded):
                emit("file", name=event.file.name, size=event.file.size_bytes,
                     digest=event.file.digest.hex(), owner=event.owner)
            elif isinstance(event, FileCompleted):
                emit("complete", peer=event.peer_id, file=event.name)
            elif isinstance(event, Availability):
                emit("available" if event.available else "lost", file=event.name)
            elif isinstance(event, Excused):
                emit("excused", peer=event.peer_id, file=event.name)
            elif isinstance(event, ExcuseWithdrawn):
                emit("unexcused", peer=event.peer_id, file=event.name)
            elif isinstance(event, FileDropped):
                emit("dropped", peer=event.peer_id, file=event.name)
            elif isinstance(event, FileRemoved):
                emit("removed", file=event.name)

    def close(self) -> None:
        if self.events is not None:
            self.events.close()
        if self.accepts is not None:
            self.accepts.close()
        self.router.close(linger=0)
        self.pub.close(linger=0)
        self.echo.close()
        if self.auth is not None:
            self.auth.stop()
        self.ctx.term()
        self.waker.close()
        self.folder_lock.release()


def run_tracker(settings: Settings, workdir: Path, events: Path | None = None) -> int:
    try:
        loop = TrackerLoop(settings, workdir, events)
    except FolderTaken as exc:
        log.error("not starting: %s", exc)
        return EXIT_FOLDER_TAKEN
    return loop.run()
