"""The tracker's HTTP server (`swarm tracker --http`) against a live swarm:
/api/status is `swarm status --json`, /api/events is the --events file, and
hostile clients disturb neither the swarm nor the tracker."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import threading
from typing import Any

from swarm.io.common.curve import new_swarm_key
from tests.e2e.harness import TEST_ENV, Swarm, check_swarm, random_bytes, wait_for
from tests.e2e.test_cli import as_json, swarm_cmd

URL_RE = re.compile(r"dashboard at http://127\.0\.0\.1:(\d+)/ ")
SOCKET_TIMEOUT_S = 20.0  # every read below is bounded by this
HEAD_TIMEOUT_S = 10.0  # the server's, for a request head (swarm/io/http/server.py)
# Rates and what heartbeats carry move while a swarm is done; the rest stands still.
MOVING = {"time", "recv_bytes_s", "send_bytes_s", "sent_bytes", "eta_s"}
FILE_EVENTS = {"join", "file", "chunks", "complete", "available", "lost", "leave"}


def http_port(swarm: Swarm) -> int:
    assert swarm.tracker is not None
    tracker = swarm.tracker
    wait_for(lambda: URL_RE.search(tracker.stderr()), 20, "the dashboard's URL on stderr")
    found = URL_RE.search(tracker.stderr())
    assert found is not None
    return int(found.group(1))


def exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` raw and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)  # all said: the server need not wait for more
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def get(port: int, target: str, headers: str = "", host: str = "127.0.0.1") -> tuple[int, bytes]:
    answer = exchange(port, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def stable(status: Any) -> Any:
    if isinstance(status, dict):
        return {k: stable(v) for k, v in status.items() if k not in MOVING}
    if isinstance(status, list):
        return [stable(v) for v in status]
    return status


class EventStream:
    """/api/events read on a thread until stopped: the events, in order."""

    def __init__(self, port: int, headers: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
        self.sock.sendall(
            f"GET /api/events HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n".encode())
        self.raw = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.raw += chunk
        except OSError:  # closed by stop()
            pass

    def events(self) -> list[tuple[int, dict[str, Any]]]:
        head, complete, body = self.raw.partition(b"\r\n\r\n")
        if not complete:
            return []
        assert head.startswith(b"HTTP/1.1 200 ")
        assert b"Content-Type: text/event-stream" in head
        assert b"Transfer-Encoding: chunked" in head
        found = []
        for message in unchunked(body).decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in message.split("\n")
                          if line and not line.startswith(":") and ": " in line)
            if "data" in fields:
                found.append((int(fields["id"]), json.loads(fields["data"])))
        return found

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # the server may have closed it already
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(SOCKET_TIMEOUT_S)


def unchunked(body: bytes) -> bytes:
    """The data of the whole chunks of a chunked body (an HTTP/1.1 stream)."""
    data = b""
    while True:
        size_line, found, rest = body.partition(b"\r\n")
        if not found:
            return data
        size = int(size_line.split(b";")[0], 16)
        if size == 0 or len(rest) < size + 2:
            return data
        data += rest[:size]
        body = rest[size + 2:]


def test_dashboard_serves_status_and_events_and_shrugs_off_hostile_clients(
        swarm: Swarm) -> None:
    files = {"a.bin": random_bytes(140, 6000), "b.txt": b"two\n" * 300}
    swarm.env = dict(TEST_ENV)
    events_file = swarm.root / "tracker-events.jsonl"
    swarm.start_tracker(args=["--http", "127.0.0.1:0", "--events", str(events_file)])
    port = http_port(swarm)
    stream = EventStream(port)
    slowloris = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
    slowloris.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")  # and never a line end
    # (A full server, and who makes room: tests/e2e/test_dashboard_lockout.py.)
    swarm.start_peer(files, quiet_s=60)
    swarm.start_peer({}, quiet_s=60)

    tracker_port = str(swarm.port)
    def done() -> bool:
        peers = as_json(swarm_cmd("status", "127.0.0.1", tracker_port, "--once",
                                  "--json"))["peers"]
        return len(peers) == 2 and all(len(p["complete"]) == 2 for p in peers)

    wait_for(done, 30, "both peers to hold both files")
    cli = as_json(swarm_cmd("status", "127.0.0.1", tracker_port, "--once", "--json"))
    code, body = get(port, "/api/status")
    assert code == 200
    api = json.loads(body)
    assert set(api) == set(cli)  # one schema, `time` included
    wait_for(lambda: stable(json.loads(get(port, "/api/status")[1])) == stable(cli), 10,
             "/api/status to agree with swarm status --json")

    # Hostile requests get their answers, and nothing else happens.
    huge = exchange(port, b"GET / HTTP/1.1\r\nX-Huge: " + b"x" * 40_000 + b"\r\n\r\n")
    assert huge.startswith(b"HTTP/1.1 431 ")
    long_line = exchange(port, b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n")
    assert long_line.startswith(b"HTTP/1.1 414 ")
    assert get(port, "/../../etc/passwd")[0] == 404
    assert get(port, "/static/../../etc/passwd")[0] == 404
    assert get(port, "/static/%2e%2e/%2e%2e/etc/passwd")[0] == 404
    assert get(port, "/nope")[0] == 404
    posted = exchange(port, b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc")
    assert posted.startswith(b"HTTP/1.1 405 ") and b"\r\nAllow: GET, HEAD\r\n" in posted
    # HTTP/1.1 requires a Host (RFC 9112 3.2); HTTP/1.0 does not.
    assert exchange(port, b"GET /api/status HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert exchange(port, b"GET /api/status HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200 ")
    # Kept alive: two requests on one connection, both answered.
    twice = exchange(port, b"GET /api/status HTTP/1.1\r\nHost: localhost\r\n\r\n" * 2)
    assert twice.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert get(port, "/api/status?evil=1")[0] == 400
    head_only = exchange(port, b"HEAD /api/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert head_only.startswith(b"HTTP/1.1 200 ") and head_only.endswith(b"\r\n\r\n")

    for run in swarm.peers:
        run.proc.signal(signal.SIGTERM)
    assert swarm.wait_peers(20) == [0, 0]
    wait_for(lambda: sum(e["event"] == "leave" for _, e in stream.events()) == 2, 10,
             "both leave events on /api/events")
    stream.stop()
    # A client that reconnects gets only what it missed.
    last_id = stream.events()[-1][0]
    resumed = EventStream(port, f"Last-Event-ID: {last_id - 2}\r\n")
    wait_for(lambda: len(resumed.events()) >= 2, 10, "the two events missed")
    resumed.stop()
    assert resumed.events() == stream.events()[-2:]
    # The slow client was cut off, whatever it meant to send.
    slowloris.settimeout(HEAD_TIMEOUT_S + 10)
    assert slowloris.recv(65536).startswith(b"HTTP/1.1 408 ")
    slowloris.close()

    # The tracker still answers, and its stdout is the contract's.
    assert as_json(swarm_cmd("status", "127.0.0.1", tracker_port, "--once", "--json"))
    check_swarm(swarm, files)
    assert swarm.stop_tracker() == 0

    streamed = stream.events()
    ids = [event_id for event_id, _ in streamed]
    assert ids == list(range(1, len(ids) + 1))
    written = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [e for _, e in streamed if e["event"] in FILE_EVENTS] == [
        e for e in written if e["event"] in FILE_EVENTS]
    kinds = [e["event"] for _, e in streamed]
    assert kinds.count("join") == 2 and kinds.count("complete") == 4  # 2 peers x 2 files


def test_a_keyed_swarms_dashboard_wants_the_token(swarm: Swarm) -> None:
    key = new_swarm_key()
    swarm.env = {**TEST_ENV, "SWARM_KEY": key}
    swarm.start_tracker(args=["--http", "0"])
    port = http_port(swarm)
    minted = swarm_cmd("keygen", "--http-token", env={"SWARM_KEY": key})
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()

    code, _ = get(port, "/api/status")
    assert code == 401
    assert get(port, "/api/status", f"Authorization: Bearer {'0' * 64}\r\n")[0] == 401
    code, body = get(port, "/api/status", f"Authorization: Bearer {token}\r\n")
    assert code == 200 and json.loads(body)["totals"]["peers"] == 0
    assert get(port, f"/api/status?token={token}")[0] == 200
    page = exchange(port, f"GET /?token={token} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    assert page.startswith(b"HTTP/1.1 200 ")
    # The browser keeps the token for the page's own requests (its script, its styles).
    cookie = re.search(rb"\r\nSet-Cookie: (swarm_token=[0-9a-f]+);", page)
    assert cookie is not None
    assert get(port, "/api/status", f"Cookie: {cookie.group(1).decode()}\r\n")[0] == 200
    # A page elsewhere that points its own name at 127.0.0.1 is not answered.
    assert get(port, f"/?token={token}", host="evil.example")[0] == 421
    # Two names at once are no name (RFC 9112 3.2).
    assert get(port, f"/?token={token}", "Host: evil.example\r\n")[0] == 400

    no_key = swarm_cmd("keygen", "--http-token", env={"SWARM_KEY": ""})
    assert no_key.returncode == 2 and no_key.stdout == ""
    # Stopping with an event stream open ends it, quietly.
    stream = EventStream(port, f"Authorization: Bearer {token}\r\n")
    wait_for(lambda: b"retry:" in stream.raw, 10, "the event stream to open")
    assert swarm.stop_tracker() == 0
    stream.thread.join(SOCKET_TIMEOUT_S)
    stream.stop()
    assert swarm.tracker is not None and "Traceback" not in swarm.tracker.stderr()


def test_an_open_swarms_dashboard_on_every_interface_is_warned_about(swarm: Swarm) -> None:
    swarm.env = dict(TEST_ENV)
    swarm.start_tracker(args=["--http", "0.0.0.0:0"])
    assert swarm.tracker is not None
    tracker = swarm.tracker
    wait_for(lambda: "dashboard at http://0.0.0.0:" in tracker.stderr(), 20,
             "the dashboard's URL on stderr")
    assert "open to anyone who can reach it" in tracker.stderr()
    assert swarm.stop_tracker() == 0
    assert tracker.stdout() == ""
