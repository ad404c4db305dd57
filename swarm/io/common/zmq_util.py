"""Pieces both IO loops share: the wake-up pipe for signals and threads,
socket options, and frame helpers.  zmq is imported only in the IO room
(and by the tools' one-shot client): tests/test_layout.py holds that.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import zmq

from swarm.protocol.codec import Buffer, decode
from swarm.protocol.fields import ProtocolError
from swarm.protocol.messages import Message

log = logging.getLogger("swarm.loop")

MAX_DRAIN = 256  # messages taken from one socket before looking at the others


def monotonic() -> float:
    return time.monotonic()


class Waker:
    """A pipe that wakes the poll loop: signals write to it (set_wakeup_fd)
    and worker threads call ``wake``."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        self.stop_requested = False
        self.stop_signal: int | None = None
        # A worker thread may still be finishing (a big file's hash) when the
        # loop closes the pipe: its wake must not write to a closed, perhaps
        # already reused, descriptor.
        self._lock = threading.Lock()
        self._closed = False

    def wake(self) -> None:
        with self._lock:
            if self._closed:
                return
            # A full pipe means the loop wakes anyway.
            with contextlib.suppress(BlockingIOError):
                os.write(self.write_fd, b"\0")

    def drain(self) -> None:
        try:
            while os.read(self.read_fd, 4096):
                pass
        except BlockingIOError:
            pass

    def install_signal_handlers(self) -> None:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            self.stop_requested = True
            self.stop_signal = signum

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, on_signal)
        signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)

    def close(self) -> None:
        signal.set_wakeup_fd(-1)
        with self._lock:
            self._closed = True
            os.close(self.read_fd)
            os.close(self.write_fd)


def configure(sock: zmq.Socket[bytes], max_message_bytes: int) -> None:
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, max_message_bytes)


def receive_all(
    sock: zmq.Socket[bytes],
    handle: Callable[[list[zmq.Frame]], None],
    limit: int = MAX_DRAIN,
) -> int:
    """Hand every waiting message (as frames, not copied) to ``handle``."""
    count = 0
    while count < limit and not sock.closed:  # a handler may close it (a banned peer)
        try:
            frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            break
        count += 1
        try:
            handle(frames)
        except Exception:
            # A bug must not take the process down with it: say so loudly,
            # drop the message, carry on.
            log.exception("error while handling a message; it is dropped")
    return count


def decode_frames(frames: list[zmq.Frame]) -> tuple[Message, memoryview | None]:
    """Decode a message from frames; raises ProtocolError."""
    buffers: list[Buffer] = [f.buffer for f in frames]
    return decode(buffers)


_bad_counts: dict[str, int] = {}
BAD_LOGGED_PER_SOURCE = 20  # then one line in a thousand: a flood must not flood stderr


def try_decode(frames: list[zmq.Frame], where: str) -> tuple[Message, memoryview | None] | None:
    try:
        return decode_frames(frames)
    except ProtocolError as exc:
        count = _bad_counts.get(where, 0) + 1
        _bad_counts[where] = count
        if count <= BAD_LOGGED_PER_SOURCE or count % 1000 == 0:
            log.warning("dropped a bad message from %s (%d so far): %s", where, count, exc)
        return None


def timeout_ms(deadline_s: float | None, now_s: float, cap_s: float = 1.0) -> int:
    """Poll timeout until ``deadline_s``, at most ``cap_s``."""
    if deadline_s is None:
        return int(cap_s * 1000)
    return max(0, min(int(cap_s * 1000), int((deadline_s - now_s) * 1000) + 1))
