"""The dashboard cannot be locked out: hundreds of connections held open to
it (idle ones, and request heads sent in part), and reopened as the server
closes them, while a swarm runs.  A client that sends a whole
`GET /api/status` is answered all the same, the swarm completes with the
contract's stdout, and the tracker keeps answering on its request port.

The tracker runs with an open-file limit of 1,024, so the dashboard's cap
(a sixteenth of it: 54 connections) is well below the connections held."""

from __future__ import annotations

import json
import re
import resource
import select
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from swarm.io.common.process_limits import dashboard_limits, peers_within
from swarm.tools.client import TrackerClient
from tests.e2e.harness import TEST_ENV, Swarm, check_swarm, random_bytes, wait_for
from tests.e2e.test_http import http_port

FD_LIMIT = 1024  # the tracker's (soft and hard)
TRACKER_FDS_PER_PEER = 2  # swarm.io.tracker.loop's
IDLE = 250  # connections that send nothing
HALF_SENT = 150  # connections that send part of a request head, and no more
HALF_HEAD = b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
SOCKET_TIMEOUT_S = 10.0  # every connect and read below
REFILL_EVERY_S = 0.25  # the held connections the server closed are opened again this often
ASK_EVERY_S = 0.25  # a legitimate request, and a question on the tracker's port, this often
# Slow enough that the swarm runs for several seconds under the held
# connections (each peer fetches two files of 400-420 KB at 200 KB/s a source).
SLOW = {"SWARM_UPLOAD_LIMIT_BYTES_S": "200000"}
CAP_RE = re.compile(r"dashboard: at most (\d+) connections at once, (\d+) of them event streams")
FULL_RE = re.compile(r"the dashboard is full \((\d+) connections\)")


class Held:
    """The hostile connections, on a thread of their own: opened, and opened
    again (the same kind) as the server closes them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.socks: dict[socket.socket, bool] = {}  # socket -> sent half a head
        self.closed_by_server = 0
        self.told_408 = 0
        self.opened = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._refill, daemon=True)

    def open(self, half_sent: bool) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=SOCKET_TIMEOUT_S)
        if half_sent:
            sock.sendall(HALF_HEAD)
        self.socks[sock] = half_sent
        self.opened += 1

    def open_all(self) -> None:
        total = IDLE + HALF_SENT
        for i in range(total):  # the half-sent spread evenly among the idle
            self.open(half_sent=i * HALF_SENT // total != (i + 1) * HALF_SENT // total)
        self.thread.start()

    def _refill(self) -> None:
        while not self.stop.wait(REFILL_EVERY_S):
            readable, _, _ = select.select(list(self.socks), [], [], 0)
            for sock in readable:
                half_sent = self.socks.pop(sock)
                try:
                    said = sock.recv(65536)
                except OSError:
                    said = b""
                self.closed_by_server += 1
                self.told_408 += said.startswith(b"HTTP/1.1 408 ")
                sock.close()
                if not self.stop.is_set():
                    self.open(half_sent)

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(SOCKET_TIMEOUT_S)
        for sock in self.socks:
            sock.close()
        self.socks.clear()


@pytest.fixture
def fd_limit() -> Iterator[int]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < FD_LIMIT:
        pytest.skip(f"the hard open-file limit here is {hard}: the tracker cannot be given "
                    f"{FD_LIMIT}")
    yield FD_LIMIT


def legitimate_status(port: int) -> tuple[float, int, dict[str, object]]:
    """(seconds from connecting to the whole answer, status, body) of a
    client that sends a whole GET /api/status and reads the answer."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    elapsed = time.perf_counter() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    code = int(head.split(b" ")[1]) if head else 0
    return elapsed, code, json.loads(body) if code == 200 else {}


def test_held_connections_do_not_lock_the_dashboard_out(swarm: Swarm, fd_limit: int) -> None:
    files = {f"f{i}.bin": random_bytes(300 + i, 400_000 + 7_000 * i) for i in range(3)}
    swarm.env = dict(TEST_ENV)
    swarm.start_tracker(args=["--http", "127.0.0.1:0"], ulimit=f"-n {fd_limit}")
    assert swarm.tracker is not None
    tracker = swarm.tracker
    port = http_port(swarm)
    wait_for(lambda: CAP_RE.search(tracker.stderr()), 10, "the dashboard's cap on stderr")
    cap = CAP_RE.search(tracker.stderr())
    assert cap is not None
    limits = dashboard_limits(fd_limit)
    assert (int(cap[1]), int(cap[2])) == (limits.connections, limits.streams)
    room = peers_within(fd_limit, TRACKER_FDS_PER_PEER, limits.descriptors)
    wait_for(lambda: f"open-file limit {fd_limit}: room for about {room} peers"
             in tracker.stderr(), 10, "the peers' room on stderr")
    assert limits.connections * 4 < IDLE + HALF_SENT

    held = Held(port)
    answers_s: list[float] = []
    tracker_answers_s: list[float] = []
    peers_seen = 0  # the most peers a legitimate answer showed
    try:
        held.open_all()
        for i, (name, data) in enumerate(files.items()):
            swarm.start_peer({name: data}, quiet_s=2, name=f"peer{i + 1}", env=SLOW)
        with TrackerClient("127.0.0.1", swarm.port, timeout_s=SOCKET_TIMEOUT_S) as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                elapsed, code, status = legitimate_status(port)
                assert code == 200, f"a legitimate GET /api/status got {code}"
                answers_s.append(elapsed)
                totals = status["totals"]
                assert isinstance(totals, dict)
                peers_seen = max(peers_seen, totals["peers"])
                started = time.perf_counter()
                client.listing()  # the tracker's loop answers its request port
                tracker_answers_s.append(time.perf_counter() - started)
                if all(run.proc.popen.poll() is not None for run in swarm.peers):
                    break
                time.sleep(ASK_EVERY_S)
    finally:
        held.close()

    assert swarm.wait_peers(10) == [0, 0, 0]
    assert peers_seen == len(files)  # the answers were the swarm's status
    check_swarm(swarm, files)
    assert held.closed_by_server >= held.opened - IDLE - HALF_SENT > 0
    assert held.told_408 > 0  # half-sent heads closed for room are told so
    stderr = tracker.stderr()
    assert FULL_RE.search(stderr) and "Traceback" not in stderr
    assert "too many open files" not in stderr
    assert swarm.stop_tracker() == 0
    print(f"\nFIGURES dashboard under {IDLE + HALF_SENT} held connections "
          f"({IDLE} idle, {HALF_SENT} half-sent; cap {limits.connections}): "
          f"{len(answers_s)} legitimate GET /api/status answered in "
          f"{statistics.median(answers_s) * 1000:.1f} ms median, "
          f"{max(answers_s) * 1000:.1f} ms at most; the tracker's request port answered in "
          f"{statistics.median(tracker_answers_s) * 1000:.1f} ms median, "
          f"{max(tracker_answers_s) * 1000:.1f} ms at most; {held.opened} held connections "
          f"opened, {held.closed_by_server} closed by the server for room "
          f"({held.told_408} told 408)")
