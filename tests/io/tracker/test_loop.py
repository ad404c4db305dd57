"""The tracker's loop on real sockets: bound on 127.0.0.1 on ports the system
picks, driven pass by pass in the test's own thread, with DEALERs playing
peers and a SUB listening to the events.  Every wait is bounded; the leak
check of tests/conftest.py holds every socket and context to account."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import zmq

from swarm.config import Settings
from swarm.io.common.stdout import StdoutWriter
from swarm.io.tracker.loop import TrackerLoop
from swarm.io.tracker.port_file import FolderLock, read_port
from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.codec import decode, encode_frames
from swarm.protocol.events import PEER_TOPIC, PeerJoined, PeerLeft
from swarm.protocol.message_parts import HaveReport
from swarm.protocol.meta import meta_of_bytes

T = TypeVar("T")

WAIT_S = 5.0  # the longest anything is waited for
PASS_S = 0.02  # the longest one pass of the loop waits for something to arrive
FILE = meta_of_bytes("a.bin", bytes(range(256)) * 5)  # 1280 bytes: 3 chunks
OTHER = meta_of_bytes("b.txt", b"b\n")  # 1 chunk


class Rig:
    """A tracker loop, and the sockets that talk to it (a context of their own)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.stdout = io.BytesIO()
        self.events_path = workdir / "events.jsonl"
        self.loop = TrackerLoop(Settings(bind_address="127.0.0.1"), workdir, self.events_path,
                                StdoutWriter(self.stdout))
        self.loop.watch()
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sockets: list[zmq.Socket[bytes]] = []
        self.closed = False

    def dealer(self) -> zmq.Socket[bytes]:
        sock = self._socket(zmq.DEALER)
        sock.connect(f"tcp://127.0.0.1:{self.loop.port}")
        return sock

    def subscriber(self) -> zmq.Socket[bytes]:
        sock = self._socket(zmq.SUB)
        sock.setsockopt(zmq.SUBSCRIBE, b"")  # both topics
        sock.connect(f"tcp://127.0.0.1:{self.loop.pub_port}")
        return sock

    def _socket(self, kind: int) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        self.sockets.append(sock)
        return sock

    def until(self, found: Callable[[], T | None], wait_s: float = WAIT_S) -> T:
        """Run the loop pass by pass until ``found`` finds something."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            self.loop.run_once(PASS_S)
            result = found()
            if result is not None:
                return result
        raise AssertionError(f"nothing within {wait_s} s")

    def answer(self, dealer: zmq.Socket[bytes]) -> m.Message:
        """The next message ``dealer`` gets."""
        frames = self.until(lambda: dealer.recv_multipart() if dealer.poll(0) else None)
        message, _ = decode(frames)
        return message

    def ask(self, dealer: zmq.Socket[bytes], message: m.Message) -> m.Message:
        dealer.send_multipart(encode_frames(message))
        return self.answer(dealer)

    def join(self, dealer: zmq.Socket[bytes], port: int, *files: Any) -> m.Welcome:
        welcome = self.ask(dealer, m.Join(m.PROTOCOL_VERSION, port, files, ()))
        assert isinstance(welcome, m.Welcome)
        assert isinstance(self.answer(dealer), m.LeaveStatus)  # where it stands, at once
        return welcome

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.events_path.read_text().splitlines()]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in self.sockets:
            sock.close(linger=0)
        self.ctx.term()
        self.loop.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    try:
        yield made
    finally:
        made.close()


def test_hello_join_and_heartbeat_round_trip(rig: Rig) -> None:
    peer = rig.dealer()
    hello = rig.ask(peer, m.Hello(m.PROTOCOL_VERSION))
    assert hello == m.HelloReply(m.PROTOCOL_VERSION, rig.loop.pub_port, rig.loop.echo.ports)
    welcome = rig.ask(peer, m.Join(m.PROTOCOL_VERSION, 5001, (FILE,), ()))
    assert isinstance(welcome, m.Welcome)
    assert welcome.peer_id == 1 and [f.name for f in welcome.snapshot.files] == ["a.bin"]
    assert rig.answer(peer) == m.LeaveStatus(True, "")  # alone: nobody lacks its file
    assert rig.ask(peer, m.Heartbeat(0)) == m.Pong(welcome.snapshot.seq)
    # A tool's question, from a socket that never joined.
    listing = rig.ask(rig.dealer(), m.ListQuery())
    assert isinstance(listing, m.Listing)
    assert [(p.peer_id, p.endpoint) for p in listing.peers] == [(1, "tcp://127.0.0.1:5001")]


def test_a_bad_frame_is_answered_and_struck(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    stranger, peer = rig.dealer(), rig.dealer()
    with caplog.at_level(logging.WARNING, logger="swarm.tracker"):
        stranger.send_multipart([b"\xc1 not msgpack"])
        answer = rig.answer(stranger)
        assert isinstance(answer, m.ErrorReply) and answer.reason.startswith("bad request: ")
        assert rig.loop.state.figures().strikes == 0  # a stranger is not struck
        rig.join(peer, 5002)
        peer.send_multipart([b"\xc1 not msgpack"])
        answer = rig.answer(peer)
        assert isinstance(answer, m.ErrorReply) and answer.reason.startswith("bad request: ")
        assert rig.loop.state.figures().strikes == 1
    # Said on stderr by the tracker's logger, as a warning.
    said = [r.getMessage() for r in caplog.records if r.name == "swarm.tracker"]
    assert said[0].startswith("dropped a bad request from ")
    assert said[-1].startswith("peer 1: refused: bad request: ")
    # The peer is still a peer.
    assert isinstance(rig.ask(peer, m.Heartbeat(0)), m.Pong)


def test_events_are_published_on_pub_with_their_topic(rig: Rig) -> None:
    sub = rig.subscriber()
    peer = rig.dealer()
    # A subscription takes a moment to reach the PUB, which drops what it
    # publishes before: the peer joins and leaves until the SUB hears it.
    heard: list[list[bytes]] = []
    for _ in range(50):
        rig.join(peer, 5003)
        assert rig.ask(peer, m.Goodbye(True)) == m.Farewell()
        if sub.poll(100):
            heard.append(sub.recv_multipart())
            break
    assert heard, "the SUB never heard the tracker"
    # From then on it hears every event, in order: what is left of that
    # join and goodbye, then the next join.
    welcome = rig.join(peer, 5003)
    while True:
        assert sub.poll(int(WAIT_S * 1000)), "an event went missing"
        heard.append(sub.recv_multipart())
        last, _ = decode([heard[-1][1]])
        if isinstance(last, PeerJoined) and last.peer_id == welcome.peer_id:
            break
        assert len(heard) < 4, heard
    events = [decode([body])[0] for _, body in heard]
    assert all(topic == PEER_TOPIC for topic, _ in heard)
    assert all(isinstance(e, PeerJoined | PeerLeft) and e.TOPIC == PEER_TOPIC for e in events)
    seqs = [e.seq for e in events if isinstance(e, PeerJoined | PeerLeft)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_stdout_blocks_are_written_whole_and_entries_stamped(rig: Rig) -> None:
    seeder, fetcher = rig.dealer(), rig.dealer()
    rig.join(seeder, 5004, FILE, OTHER)
    rig.join(fetcher, 5005)
    fetcher.send_multipart(encode_frames(m.Have((HaveReport(FILE.digest, (0, 3)),))))
    fetcher.send_multipart(encode_frames(m.Complete(FILE.digest)))  # answered by nothing
    assert isinstance(rig.ask(fetcher, m.Heartbeat(0)), m.Pong)
    assert rig.ask(fetcher, m.Goodbye(True)) == m.Farewell()
    expected = "".join(display.render(block) for block in (
        display.Connect(1, [("a.bin", 3), ("b.txt", 1)]),
        display.Connect(2, []),
        display.Acquired(2, "a.bin", 3, [(0, 3)]),
        display.Disconnect(2, ["a.bin"]),
    ))
    assert rig.stdout.getvalue().decode() == expected
    assert expected.startswith("PEER 1 CONNECT: OFFERS 2\n1    a.bin 3\n1    b.txt 1\n")
    # The --events file: the state's entries, each stamped with the time.
    entries = rig.entries()
    assert all(isinstance(e.pop("ts"), float) for e in entries)
    assert [e["event"] for e in entries] == [
        "join", "file", "complete", "file", "complete", "join", "chunks", "complete", "leave"]
    assert entries[6] == {"event": "chunks", "peer": 2, "file": "a.bin", "chunks": 3,
                          "ranges": [[0, 3]], "brought": False}


def test_a_clean_close_lets_the_folder_go(rig: Rig) -> None:
    assert read_port(rig.workdir) is None  # port.txt is run's to write, not the loop's
    rig.join(rig.dealer(), 5006)
    rig.close()
    assert rig.loop.router.closed and rig.loop.pub.closed and rig.loop.ctx.closed
    with FolderLock(rig.workdir) as lock:  # another tracker may start here now
        assert lock.held
