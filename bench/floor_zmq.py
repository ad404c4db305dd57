"""The floor on ZeroMQ: bench/floor.py's chain, its bytes carried by ZeroMQ.

swarm moves its bytes over ZeroMQ, as it must; the floor moves them over raw
sockets.  This variant does the floor's work on the same files, in the same
frames, along the same chain, but each frame is a two-part ZeroMQ message
(the header, the bytes) from a PUSH to the next peer's PULL, over loopback
TCP: received without a copy (the message's buffer written and hashed where
it lies), forwarded as the same message (no copy), a peer's own file read a
frame at a time with pread and copied once into its message, large buffers
kept for reuse as a swarm peer keeps them (swarm/io/common/memory.py).  What it costs
beyond the raw floor is what ZeroMQ costs any design built on it: its I/O
thread and the hand-off of every message to it, its buffers, its frames.

    python -m bench.floor --transport zmq --peers 8 --size-mib 32
"""

from __future__ import annotations

import os
import socket
from collections import deque
from pathlib import Path
from typing import Any

import zmq

from bench.floor import (
    FRAME,
    MAX_QUEUED_BYTES,
    OWN_FRAME_BYTES,
    FloorPeer,
    next_peer_port,
    publish_port,
)
from swarm.io.common.memory import keep_freed_buffers

# Messages a socket queues each way: about MAX_QUEUED_BYTES of frames, as
# the raw floor's forwarding backlog.
HWM_MESSAGES = max(2, MAX_QUEUED_BYTES // OWN_FRAME_BYTES)
RECEIVE_BATCH = 64  # messages taken per wake-up before sending again


class ZmqFloorPeer(FloorPeer):
    """A peer of the chain on a PULL (from the previous peer) and a PUSH
    (to the next one)."""

    def run_zmq(self, pull: zmq.Socket[bytes], push: zmq.Socket[bytes] | None,
                lines_path: str) -> None:
        notices = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        notices.connect(lines_path)
        self.open_own()
        # What waits to go to the next peer: messages, each with the bytes
        # of forwarding backlog it holds (0 for the peer's own file).
        outgoing: deque[tuple[list[Any], int]] = deque()
        poller = zmq.Poller()
        while (self.done_files < len(self.expect) or outgoing
               or (push is not None and self.own_left)):
            reading = (self.done_files < len(self.expect)
                       and self.queued_bytes <= MAX_QUEUED_BYTES)
            poller.register(pull, zmq.POLLIN if reading else 0)
            if push is not None:
                sending = bool(outgoing or self.own_left)
                poller.register(push, zmq.POLLOUT if sending else 0)
            for sock, _ in poller.poll():
                if sock is pull:
                    self._receive(pull, outgoing, notices)
                elif push is not None:
                    self._send_zmq(push, outgoing)
        notices.close()

    def _receive(self, pull: zmq.Socket[bytes], outgoing: deque[tuple[list[Any], int]],
                 notices: socket.socket) -> None:
        out: list[bytes] = []
        for _ in range(RECEIVE_BATCH):
            try:
                header, body = pull.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            origin, offset, length = FRAME.unpack(header.bytes)
            self.store(origin, offset, body.buffer, out)
            if origin in self.forward_to_next:
                outgoing.append(([header, body], length))
                self.queued_bytes += length
        if out:
            notices.sendall(b"".join(out))

    def _send_zmq(self, push: zmq.Socket[bytes],
                  outgoing: deque[tuple[list[Any], int]]) -> None:
        """Forwarded messages first (they hold memory), then the next frame
        of the peer's own file."""
        while outgoing or self.own_left:
            if not outgoing:
                length = min(self.own_left, OWN_FRAME_BYTES)
                data = os.pread(self.own_fd, length, self.own_offset)
                outgoing.append(([FRAME.pack(self.me, self.own_offset, length), data], 0))
                self.own_offset += length
                self.own_left -= length
            parts, held = outgoing[0]
            try:
                # A forwarded message goes as it came (no copy); the bytes of
                # the peer's own file are copied (zero-copy of them would cost
                # a hand-off to pyzmq's garbage-collector thread per message).
                push.send_multipart(parts, zmq.NOBLOCK, copy=not held)
            except zmq.Again:
                return
            outgoing.popleft()
            self.queued_bytes -= held


def run_zmq_peer(spec: dict[str, Any], folder: Path) -> None:
    """A floor peer on ZeroMQ: its PULL's port in ``folder/port``, a PUSH to
    the next peer's once it is there."""
    keep_freed_buffers()  # as a swarm peer does: large buffers reused, not faulted in anew
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = HWM_MESSAGES
    publish_port(folder, pull.bind_to_random_port("tcp://127.0.0.1"))
    push = None
    next_port = next_peer_port(spec)
    if next_port is not None:
        push = ctx.socket(zmq.PUSH)
        push.sndhwm = HWM_MESSAGES
        push.connect(f"tcp://127.0.0.1:{next_port}")
    ZmqFloorPeer(spec, folder).run_zmq(pull, push, spec["lines"])
    pull.close(linger=0)
    if push is not None:
        push.close()  # lingers until the next peer holds every message
    ctx.term()

