"""Every test fails if it leaves a ZeroMQ socket open or a context not
terminated, as pyzmq's own tests do: a leaked socket keeps its port bound and
its connections trying, a context left alive keeps its I/O thread, and either
can make a later test hang or pass for the wrong reason.

(tests/test_zmq_leaks.py runs this file as the conftest of a throwaway
project, so it imports nothing but pytest and zmq.)
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, cast

import pytest
import zmq

TERM_TIMEOUT_S = 10.0  # a context with only closed sockets terminates at once
ZMQ_DIR = os.path.dirname(zmq.__file__) + os.sep


def _made_at() -> str:
    """Where the code that made a socket or context is: the innermost
    frame outside pyzmq and this file."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename != __file__ and not filename.startswith(ZMQ_DIR):
            return f"{filename}:{frame.f_lineno} ({frame.f_code.co_name})"
        frame = frame.f_back
    return "an unknown place"


def _terminate(ctx: zmq.Context[Any], timeout_s: float) -> bool:
    """Terminate a context on a thread of its own: term() waits for every
    socket of the context, and a test must not hang on one it lost."""
    thread = threading.Thread(target=ctx.term, name="zmq-term", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return not thread.is_alive()


class ZmqLedger:
    """The ZeroMQ contexts and sockets made while it records, with where
    each was made.  Shadows (another handle on an existing socket or
    context) are not recorded: they own nothing."""

    def __init__(self) -> None:
        self.contexts: list[tuple[zmq.Context[Any], str]] = []
        self.sockets: list[tuple[zmq.Socket[Any], str]] = []
        self._lock = threading.Lock()  # sockets may be made on other threads

    @contextmanager
    def recording(self) -> Iterator[ZmqLedger]:
        context_init = zmq.Context.__init__
        socket_init = zmq.Socket.__init__

        def made_context(ctx: zmq.Context[Any], *args: Any, **kwargs: Any) -> None:
            context_init(ctx, *args, **kwargs)
            if not kwargs.get("shadow") and not (args and isinstance(args[0], zmq.Context)):
                with self._lock:
                    self.contexts.append((ctx, f"a context made at {_made_at()}"))

        def made_socket(sock: zmq.Socket[Any], *args: Any, **kwargs: Any) -> None:
            socket_init(sock, *args, **kwargs)
            if not kwargs.get("shadow") and not (args and isinstance(args[0], zmq.Socket)):
                kind = zmq.SocketType(cast(int, sock.type)).name  # an int option
                with self._lock:
                    self.sockets.append((sock, f"a {kind} socket made at {_made_at()}"))

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(zmq.Context, "__init__", made_context)
            patch.setattr(zmq.Socket, "__init__", made_socket)
            yield self

    def left_open(self) -> list[str]:
        """What is still open: sockets not closed, contexts not terminated."""
        with self._lock:
            sockets, contexts = list(self.sockets), list(self.contexts)
        return ([f"{what}, still open" for sock, what in sockets if not sock.closed]
                + [f"{what}, never terminated" for ctx, what in contexts if not ctx.closed])

    def clean_up(self, timeout_s: float = TERM_TIMEOUT_S) -> list[str]:
        """Close what was left open, so the next test starts clean; returns
        the contexts that would still not terminate."""
        with self._lock:
            sockets, contexts = list(self.sockets), list(self.contexts)
        for sock, _ in sockets:
            if not sock.closed:
                sock.close(linger=0)
        return [f"{what}, stuck in term()" for ctx, what in contexts
                if not ctx.closed and not _terminate(ctx, timeout_s)]


def check_zmq_leaks(test: Callable[[], object]) -> list[str]:
    """Run ``test`` and return what it left open (closing it afterwards)."""
    ledger = ZmqLedger()
    try:
        with ledger.recording():
            test()
        return ledger.left_open()
    finally:
        ledger.clean_up()


@pytest.fixture(autouse=True)
def no_zmq_leaks() -> Iterator[ZmqLedger]:
    """Fails the test when a socket it made is still open at its end, or a
    context it made was not terminated (autouse: it is torn down after the
    test's other fixtures, so what they close in teardown counts as closed)."""
    ledger = ZmqLedger()
    with ledger.recording():
        yield ledger
    leaks = ledger.left_open()
    leaks += ledger.clean_up()  # and why cleaning up did not end a context
    if leaks:
        pytest.fail("the test leaked ZeroMQ resources:\n  " + "\n  ".join(leaks), pytrace=False)
