"""The tools' client: no answer in time is one failure, an answer that is not
the one asked for is another."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import zmq

from swarm.protocol.codec import encode
from swarm.protocol.messages import ErrorReply, Listing, Pong
from swarm.tools.client import (
    BadTrackerAnswer,
    TrackerClient,
    TrackerQueryError,
    TrackerUnreachable,
)

SERVE_WAIT_MS = 10_000  # bounds the fake tracker's wait for the question
NO_ANSWER_S = 0.2  # how long the client waits when nothing will come


@contextmanager
def tracker_answering(*reply: bytes) -> Iterator[int]:
    """A ROUTER on a random port that takes one question and answers it with
    ``reply`` (a list of frames), or with nothing if ``reply`` is empty."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")

    def serve() -> None:
        if router.poll(SERVE_WAIT_MS):
            sender, *_ = router.recv_multipart()
            if reply:
                router.send_multipart([sender, *reply])

    thread = threading.Thread(target=serve, name="fake tracker", daemon=True)
    thread.start()
    try:
        yield port
    finally:
        thread.join(SERVE_WAIT_MS / 1000)
        router.close()
        ctx.term()


def listing_from(port: int, timeout_s: float = 5.0) -> Listing:
    with TrackerClient("127.0.0.1", port, timeout_s) as client:
        return client.listing()


def test_an_answer_is_returned() -> None:
    with tracker_answering(encode(Listing(3, (), (), ()))) as port:
        assert listing_from(port) == Listing(3, (), (), ())


def test_no_answer_in_time_is_unreachable() -> None:
    with tracker_answering() as port, pytest.raises(TrackerUnreachable, match="no answer"):
        listing_from(port, NO_ANSWER_S)


@pytest.mark.parametrize(("reply", "said"), [
    ([encode(ErrorReply("bad request: no"))], "says: bad request: no"),
    ([b"\xc1 not msgpack"], "bad answer"),
    ([encode(Pong(1)), b"a second frame"], "bad answer"),
    ([encode(Pong(1))], "unexpected Pong"),
])
def test_an_answer_that_is_not_a_listing_is_bad_not_unreachable(
        reply: list[bytes], said: str) -> None:
    with tracker_answering(*reply) as port, pytest.raises(BadTrackerAnswer, match=said) as caught:
        listing_from(port)
    assert not isinstance(caught.value, TrackerUnreachable)
    assert isinstance(caught.value, TrackerQueryError)  # what the command line catches
