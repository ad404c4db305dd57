"""A peer's sockets (swarm.io.peer.sockets) on real ZeroMQ sockets, bound on
127.0.0.1 on ports the system picks: a fake tracker (a ROUTER and a PUB) and
fake peers around one PeerSockets.  The link timers run on a clock the test
sets; every wait is bounded, and the leak check of tests/conftest.py holds
every socket and context to account."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import zmq

from swarm.io.peer.sockets import LINK_CONNECT_TIMEOUT_S, PeerSockets
from swarm.peer.reversal import ReverseRoute
from swarm.protocol import messages as m
from swarm.protocol.codec import decode, encode, encode_frames
from swarm.protocol.events import FILE_TOPIC, FileAdded, PeerJoined
from swarm.protocol.message_parts import FileSummary
from swarm.protocol.meta import meta_of_bytes
from swarm.protocol.peer_messages import ChunkData, ChunkRequest, Introduce
from tests.conftest import ZmqLedger

T = TypeVar("T")

WAIT_S = 3.0  # the longest anything is waited for
DOC = meta_of_bytes("doc", bytes(range(256)) * 4)  # 1024 bytes: 2 chunks
PAYLOAD = bytes(range(256)) * 2  # chunk 1 of DOC
TOKEN = bytes(range(16))


def until(found: Callable[[], T | None], wait_s: float = WAIT_S) -> T:
    """Ask ``found`` again until it finds something, for at most ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        result = found()
        if result is not None:
            return result
        time.sleep(0.005)
    raise AssertionError(f"nothing within {wait_s} s")


def receive(sock: zmq.Socket[bytes]) -> list[bytes]:
    assert sock.poll(int(WAIT_S * 1000)), "nothing arrived in time"
    return sock.recv_multipart()


def message_of(frames: list[bytes]) -> tuple[m.Message, bytes | None]:
    message, payload = decode(frames)
    return message, None if payload is None else bytes(payload)


class Rig:
    """One PeerSockets, on a context of its own, and the fakes around it
    (the tracker, sources, peers it serves) on another."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.fakes: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sockets: list[zmq.Socket[bytes]] = []
        self.tracker = self.bound(zmq.ROUTER)
        self.pub = self.fake(zmq.PUB)
        self.pub_port = self.pub.bind_to_random_port("tcp://127.0.0.1")
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.poller = zmq.Poller()
        self.net = PeerSockets(self.ctx, "127.0.0.1", self.port_of(self.tracker), self.poller,
                               None, lambda: self.now_s, 1024, lambda: None)
        self.peer_closed = False

    def fake(self, kind: int) -> zmq.Socket[bytes]:
        sock = self.fakes.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        self.sockets.append(sock)
        return sock

    def bound(self, kind: int) -> zmq.Socket[bytes]:
        sock = self.fake(kind)
        sock.bind_to_random_port("tcp://127.0.0.1")
        return sock

    @staticmethod
    def port_of(sock: zmq.Socket[bytes]) -> int:
        endpoint = sock.getsockopt(zmq.LAST_ENDPOINT)
        assert isinstance(endpoint, bytes)
        return int(endpoint.rsplit(b":", 1)[1])

    def endpoint_of(self, sock: zmq.Socket[bytes]) -> str:
        return f"tcp://127.0.0.1:{self.port_of(sock)}"

    def fetch_events(self) -> list[tuple[int, int]]:
        """The next link events of the fetch ROUTER's connections."""
        return until(lambda: self.net.fetch_link_events() or None)

    def close_peer(self) -> float:
        """Close the PeerSockets and end its context; how long ending it took
        (at most WAIT_S: a context waits for every socket not closed)."""
        self.peer_closed = True
        self.net.close()
        ended = threading.Thread(target=self.ctx.term, name="zmq-term", daemon=True)
        started = time.monotonic()
        ended.start()
        ended.join(WAIT_S)
        return time.monotonic() - started

    def close(self) -> None:
        if not self.peer_closed:
            self.close_peer()
        for sock in self.sockets:
            sock.close(linger=0)
        self.fakes.term()


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig()
    try:
        yield made
    finally:
        made.close()


def test_the_tracker_hears_the_peer_on_one_routing_id_and_answers_it(rig: Rig) -> None:
    rig.net.to_tracker(m.Hello(m.PROTOCOL_VERSION))
    sender, *frames = receive(rig.tracker)
    assert len(sender) == 16  # its own id, the same after a reconnect
    assert message_of(frames) == (m.Hello(m.PROTOCOL_VERSION), None)
    rig.net.to_tracker(m.Heartbeat(0))
    again, *frames = receive(rig.tracker)
    assert again == sender and message_of(frames)[0] == m.Heartbeat(0)
    rig.tracker.send_multipart([sender, *encode_frames(m.Pong(3))])
    assert message_of(receive(rig.net.tracker)) == (m.Pong(3), None)


def test_the_events_sub_takes_the_file_topic_only(rig: Rig) -> None:
    rig.net.subscribe(rig.pub_port)
    added = FileAdded(1, FileSummary(DOC.name, DOC.size_bytes, DOC.digest, True), 1)
    joined = PeerJoined(1, 2, "tcp://127.0.0.1:5000")
    # A subscription takes a moment to reach the PUB, which drops what it
    # publishes before: publish until the SUB hears something.
    def heard() -> list[bytes] | None:
        rig.pub.send_multipart([joined.TOPIC, encode(joined)])
        rig.pub.send_multipart([added.TOPIC, encode(added)])
        return rig.net.events.recv_multipart() if rig.net.events.poll(20) else None

    topic, body = until(heard)
    assert topic == FILE_TOPIC and message_of([body]) == (added, None)
    while rig.net.events.poll(50):  # nothing of the peer topic ever comes
        assert rig.net.events.recv_multipart()[0] == FILE_TOPIC


def test_the_chunk_port_answers_a_request_with_its_payload_in_a_frame_of_its_own(
        rig: Rig) -> None:
    fetcher = rig.fake(zmq.DEALER)
    fetcher.connect(f"tcp://127.0.0.1:{rig.net.listen_port}")
    fetcher.send_multipart(encode_frames(ChunkRequest(7, DOC.digest, 1, 1)))
    route, *frames = receive(rig.net.server)
    assert message_of(frames) == (ChunkRequest(7, DOC.digest, 1, 1), None)
    answer = ChunkData(7, DOC.digest, 1, 1)
    rig.net.reply(route, answer, PAYLOAD)
    frames = receive(fetcher)
    assert len(frames) == 2 and frames[-1] == PAYLOAD
    assert message_of(frames) == (answer, PAYLOAD)


def test_a_source_is_reached_through_the_fetch_router_and_its_replies_name_it(
        rig: Rig) -> None:
    source = rig.bound(zmq.ROUTER)
    endpoint = rig.endpoint_of(source)
    rig.net.to_peer(4, endpoint, ChunkRequest(1, DOC.digest, 0, 2))
    assert rig.fetch_events() == [(4, zmq.EVENT_CONNECTED)]
    assert rig.net.next_check_s() is None  # up: no timer watches it
    fetcher_id, *frames = receive(source)
    assert message_of(frames)[0] == ChunkRequest(1, DOC.digest, 0, 2)
    source.send_multipart([fetcher_id, *encode_frames(ChunkData(1, DOC.digest, 0, 2), PAYLOAD)])
    (sock,) = rig.net.fetch_sockets()
    route, *frames = receive(sock)
    assert rig.net.fetch_source(route) == 4
    assert message_of(frames) == (ChunkData(1, DOC.digest, 0, 2), PAYLOAD)
    # The source goes away: its link is reported down.
    source.close(linger=0)
    assert rig.fetch_events() == [(4, zmq.EVENT_DISCONNECTED)]


def test_a_link_set_aside_is_not_heard_and_is_taken_up_again(rig: Rig) -> None:
    source = rig.bound(zmq.ROUTER)
    endpoint = rig.endpoint_of(source)
    rig.net.to_peer(4, endpoint, m.Hello(m.PROTOCOL_VERSION))
    fetcher_id, *_ = receive(source)
    link = rig.net.fetch_links[4]
    rig.net.close_link(4)
    source.send_multipart([fetcher_id, *encode_frames(m.Pong(1))])
    route, *_ = receive(rig.net.fetch)
    assert route == link.route and rig.net.fetch_source(route) is None  # not read
    # A peer at the same endpoint (a restart on the same port) is wanted again:
    # the same connection, under its new id.
    rig.net.to_peer(9, endpoint, m.Hello(m.PROTOCOL_VERSION))
    assert rig.net.fetch_links[9] is link and receive(source)[0] == fetcher_id
    assert rig.net.fetch_source(link.route) == 9
    rig.net.drop_peer(9)
    assert rig.net.fetch_links == {}


def test_a_source_that_never_answers_the_connect_is_unreachable_once(rig: Rig) -> None:
    nobody = rig.bound(zmq.ROUTER)
    endpoint = rig.endpoint_of(nobody)
    nobody.close(linger=0)  # its port now refuses connections
    rig.net.to_peer(6, endpoint, m.Hello(m.PROTOCOL_VERSION))
    assert rig.net.next_check_s() == LINK_CONNECT_TIMEOUT_S
    assert rig.net.unreachable(LINK_CONNECT_TIMEOUT_S - 0.1) == []
    assert rig.net.unreachable(LINK_CONNECT_TIMEOUT_S) == [6]
    assert rig.net.unreachable(LINK_CONNECT_TIMEOUT_S + 10) == []  # said once
    assert rig.net.next_check_s() is None


def test_a_reversal_serves_the_peer_over_the_connection_it_opens(rig: Rig) -> None:
    # Peer 5 cannot be reached by us: we connect to its chunk port and serve
    # it over that connection.
    fetcher = rig.bound(zmq.ROUTER)
    rig.net.open_reverse(5, rig.endpoint_of(fetcher))
    rig.net.reply(ReverseRoute(5), Introduce(2, TOKEN))
    our_id, *frames = receive(fetcher)
    assert message_of(frames) == (Introduce(2, TOKEN), None)
    link = rig.net.serve_links[5]
    assert until(lambda: rig.net.link_events(link) or None) == [zmq.EVENT_CONNECTED]
    assert link.connected and rig.net.failed_reversals(LINK_CONNECT_TIMEOUT_S + 1) == []
    # Its requests come on the link's socket, and are answered on it.
    fetcher.send_multipart([our_id, *encode_frames(ChunkRequest(3, DOC.digest, 1, 1))])
    assert rig.net.by_socket[link.sock] is link
    assert message_of(receive(link.sock)) == (ChunkRequest(3, DOC.digest, 1, 1), None)
    rig.net.reply(ReverseRoute(5), ChunkData(3, DOC.digest, 1, 1), PAYLOAD)
    _, *frames = receive(fetcher)
    assert message_of(frames) == (ChunkData(3, DOC.digest, 1, 1), PAYLOAD)
    # Dropped: the link's socket and monitor are closed and forgotten.
    rig.net.drop_peer(5)
    assert link.sock.closed and link.monitor.closed
    assert rig.net.serve_links == {} and rig.net.by_socket == {} and rig.net.by_monitor == {}
    rig.net.reply(ReverseRoute(5), ChunkData(4, DOC.digest, 0, 1), PAYLOAD)  # goes nowhere


def test_a_reversal_that_never_comes_up_is_closed_and_named_once(rig: Rig) -> None:
    nobody = rig.bound(zmq.ROUTER)
    endpoint = rig.endpoint_of(nobody)
    nobody.close(linger=0)
    rig.net.open_reverse(8, endpoint)
    link = rig.net.serve_links[8]
    assert rig.net.next_check_s() == LINK_CONNECT_TIMEOUT_S
    assert rig.net.failed_reversals(LINK_CONNECT_TIMEOUT_S) == [8]
    assert link.sock.closed and rig.net.serve_links == {}
    assert rig.net.failed_reversals(LINK_CONNECT_TIMEOUT_S + 10) == []


def test_a_punched_link_carries_answers_to_the_other_side_too(rig: Rig) -> None:
    other = rig.bound(zmq.ROUTER)  # the other side's punched connection, as it sees ours
    rig.net.open_punch(6, rig.endpoint_of(other), curve_server=False)
    link = rig.net.fetch_links[6]
    assert link.punched and link.endpoint.startswith(f"tcp://127.0.0.1:{rig.net.punch_port};")
    assert rig.fetch_events() == [(6, zmq.EVENT_CONNECTED)]
    # Our answer to its request goes over the link we opened, from our punch port.
    rig.net.reply(ReverseRoute(6), ChunkData(2, DOC.digest, 1, 1), PAYLOAD)
    our_id, *frames = receive(other)
    assert message_of(frames) == (ChunkData(2, DOC.digest, 1, 1), PAYLOAD)
    other.send_multipart([our_id, *encode_frames(ChunkRequest(3, DOC.digest, 0, 1))])
    route, *frames = receive(rig.net.fetch)
    assert rig.net.fetch_source(route) == 6
    assert message_of(frames) == (ChunkRequest(3, DOC.digest, 0, 1), None)


def test_close_closes_every_socket_it_made_and_the_context_ends_at_once(
        rig: Rig, no_zmq_leaks: ZmqLedger) -> None:
    # Every kind of socket it makes: the fixed ones, a serving link, a fetch
    # link, and the punch server a punch made.
    fetcher, source, punched = (rig.bound(zmq.ROUTER) for _ in range(3))
    rig.net.open_reverse(5, rig.endpoint_of(fetcher))
    rig.net.to_peer(4, rig.endpoint_of(source), m.Hello(m.PROTOCOL_VERSION))
    rig.net.open_punch(6, rig.endpoint_of(punched), curve_server=True)
    assert rig.net.punch_server is not None and rig.net.punch_monitor is not None
    rig.net.to_tracker(m.Goodbye(False))
    receive(rig.tracker)  # (the tracker's DEALER lingers to let a goodbye go out)
    took_s = rig.close_peer()
    fakes = set(rig.sockets)
    assert [what for sock, what in no_zmq_leaks.sockets
            if sock not in fakes and not sock.closed] == []
    assert rig.ctx.closed and took_s < 1.0
