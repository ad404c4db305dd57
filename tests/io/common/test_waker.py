"""The waker: a worker thread that finishes after the loop has closed it
must not write to a closed (perhaps reused) descriptor."""

from __future__ import annotations

import os

from swarm.io.common.zmq_util import Waker


def test_a_wake_after_close_writes_nothing_anywhere() -> None:
    waker = Waker()
    write_fd = waker.write_fd
    waker.close()
    # The descriptor number comes back for the next file opened: a late
    # wake must not put a byte into it.
    reader, writer = os.pipe()
    try:
        reused = writer if writer == write_fd else None
        waker.wake()
        os.set_blocking(reader, False)
        try:
            leaked = os.read(reader, 1)
        except BlockingIOError:
            leaked = b""
        assert leaked == b"", f"a byte was written to descriptor {reused}"
    finally:
        os.close(reader)
        os.close(writer)


def test_a_wake_before_close_wakes_the_loop() -> None:
    waker = Waker()
    try:
        waker.wake()
        assert os.read(waker.read_fd, 1) == b"\0"
    finally:
        waker.close()
