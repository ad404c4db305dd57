"""End-to-end: a live swarm keeps its contract while strangers attack every
port it listens on.

A tracker and four peers, each with a random file of a few MiB and uploads
slowed so that the transfer lasts seconds, are attacked mid-transfer from a
background thread on the tracker's request port (ROUTER), its event port (PUB)
and every peer's chunk port (ROUTER): raw TCP garbage and connect-and-close
storms, well-framed ZeroMQ messages with malformed bodies, and valid but
abusive messages.  The contract says bad input "gets a clear error and is
dropped: it never crashes a tracker or a peer, and never loses data", so
afterwards every process has exited 0, every stdout line and every byte of
every copy is right, nothing was written outside Shared/ and .swarm/, and
stderr names what was dropped without a Python traceback.

Two inputs once broke the swarm and keep tests of their own besides their
place in the big attack: a large ChunkRequest, refused, must not stall a
rate-limited peer's uploads, and a member's Complete for a file it never
fetched must leave no trace in the tracker's Listing.

Counts of what was sent are printed (run with ``-s``); no timing is asserted.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq

from swarm.io.tracker.port_file import LOCK_FILE
from swarm.protocol.chunks import Layout
from swarm.protocol.codec import decode, encode, encode_frames
from swarm.protocol.events import Availability, FileCompleted, PeerLeft
from swarm.protocol.fields import MAX_CHUNKS, MAX_ID, ProtocolError
from swarm.protocol.message_parts import HaveReport
from swarm.protocol.messages import (
    PROTOCOL_VERSION,
    Complaint,
    Complete,
    ErrorReply,
    Farewell,
    Goodbye,
    Have,
    Heartbeat,
    Hello,
    HelloReply,
    HoldersQuery,
    Join,
    LeaveStatus,
    ListQuery,
    Message,
    MetaQuery,
    Offer,
    Rejoin,
    ReverseRequest,
    Snapshot,
    SyncRequest,
    Welcome,
)
from swarm.protocol.meta import meta_of_bytes
from swarm.protocol.peer_messages import Cancel, ChunkData, ChunkRefused, ChunkRequest, Introduce
from tests.e2e.harness import (
    CHUNK,
    REPO,
    Swarm,
    check_swarm,
    chunks_of,
    random_bytes,
    wait_for,
)

MIB = 1 << 20
LOCALHOST = "127.0.0.1"
SLOW_UPLOADS = {"SWARM_UPLOAD_LIMIT_BYTES_S": "1500000"}  # 4 files of ~3 MiB: seconds
FILE_SIZES = (2 * MIB + 1234, 3 * MIB + 77, 4 * MIB - 5, 3 * MIB + 511)  # odd last chunks
ATTACK_S = 5.0  # overlaps the transfer; the thread stops after its current round
ROUND_MIN_S = 0.5  # paces the rounds, so the attack does not just eat both cores
IO_TIMEOUT_S = 2.0  # bound on any one blocking step of the attacker
THREAD_GRACE_S = 20.0  # the attacker's last round and its final drain
DISCOVERY_S = 20.0
FINISH_S = 120.0
STORM_CONNECTIONS = 50  # connect-and-close, per port and round
STRANGER_STRIKES_MAX = 30  # bad requests from the joined stranger: below expulsion (50)
TRACEBACK = "Traceback (most recent call last)"

HOSTILE_NAMES = (
    "../../etc/passwd", ".hidden", "a/b", "x\x00y", "line\nbreak", "back\\slash", ".", "..",
    "", "n" * 300, "é" * 150, "tab\there", "para\u2029graph",
)


def pack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


# --- finding the ports -------------------------------------------------------------


def swarm_json(*args: str) -> Any:
    """One answer of a `swarm` tool command run with --json; None if it failed."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "swarm", *args, "--json"], cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
            timeout=15,
        )
    except subprocess.TimeoutExpired:
        return None
    if result.returncode != 0 or not result.stdout.strip():
        return None
    return json.loads(result.stdout.splitlines()[0])


def discover_peers(tracker_port: int, count: int) -> list[dict[str, Any]]:
    """The peers `swarm status` lists, once there are ``count`` of them."""
    peers: list[dict[str, Any]] = []

    def listed() -> bool:
        nonlocal peers
        status = swarm_json("status", LOCALHOST, str(tracker_port), "--once")
        peers = status["peers"] if status else []
        return len(peers) >= count

    wait_for(listed, DISCOVERY_S, f"{count} peers in `swarm status`", poll_s=0.1)
    return peers


def endpoint_port(endpoint: str) -> int:
    m = re.fullmatch(r"tcp://127\.0\.0\.1:(\d+)", endpoint)
    assert m, f"a peer serves at {endpoint!r}, not on 127.0.0.1"
    return int(m[1])


def event_port(ctx: zmq.Context[zmq.Socket[bytes]], tracker_port: int) -> int:
    """The tracker's PUB port, asked the way a peer asks: Hello, HelloReply."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(f"tcp://{LOCALHOST}:{tracker_port}")
        sock.send_multipart(encode_frames(Hello(PROTOCOL_VERSION)))
        assert sock.poll(int(IO_TIMEOUT_S * 1000) * 3), "no HelloReply from the tracker"
        reply, _ = decode(sock.recv_multipart())
        assert isinstance(reply, HelloReply), f"{reply!r} in answer to Hello"
        return reply.pub_port
    finally:
        sock.close(linger=0)


# --- what the strangers send ------------------------------------------------------


def meta_wire(name: object) -> list[Any]:
    """File metadata that is valid in every field but (maybe) its name."""
    meta = meta_of_bytes("placeholder.bin", b"swarm" * 300)
    return [name, meta.size_bytes, meta.digest, meta.piece_hashes]


def malformed_bodies(noise: bytes, digest: bytes) -> list[list[bytes]]:
    """Well-framed ZeroMQ messages that are not swarm messages: each must be
    dropped with a diagnostic, whichever socket it reaches."""
    request = pack([ChunkRequest.KIND, 1, digest, 0, 1])
    # A str whose bytes are not UTF-8 (msgpack.packb cannot produce one).
    bad_utf8 = pack([FileCompleted.KIND, 1, 1, "PLACEHOLDER"]).replace(
        b"\xabPLACEHOLDER", b"\xab" + b"\xff" * 11)
    kind = ChunkRequest.KIND
    headers = [
        b"", request[:-2], request[:1], b"\x95", b"\xdd\x00\xff\xff\xff",  # empty, truncated
        b"\x91" * 100_000, b"\xc1", bad_utf8,  # too deep; a byte msgpack never uses
        pack(kind), pack("ChunkRequest"), pack({"kind": kind}), pack(None), pack(b"<"),
        pack(1.5), pack([]),  # not an array, or an empty one
        pack([0]), pack([-1]), pack([999]), pack([2**64 - 1]), pack(["60"]), pack([True]),
        pack([60.0]), pack([None, 1]),  # unknown kinds
        pack([kind, "1", digest, 0, 1]), pack([kind, True, digest, 0, 1]),  # wrong types
        pack([kind, 1, 12345, 0, 1]), pack([kind, 1, "digest", 0, 1]),
        pack([kind, 1, digest[:31], 0, 1]), pack([kind, 1, digest, "0", 1]),
        pack([kind, 1, digest, 0, False]), pack([kind, 1, digest, 0, 1.0]),
        pack([kind, 1, digest, [0], 1]),
        pack([kind, -1, digest, 0, 1]), pack([kind, 2**64 - 1, digest, 0, 1]),  # range
        pack([kind, 1, digest, -5, 1]), pack([kind, 1, digest, 2**63, 1]),
        pack([kind, 1, digest, 0, -(2**63)]), pack([kind, 1, digest, 0, 0]),
        pack([kind, 1, digest, 0, MAX_CHUNKS + 1]),
        pack([kind, 1, digest]), pack([kind, 1, digest, 0, 1, "extra"]),  # field counts
        pack([Goodbye.KIND, 1]), pack([Goodbye.KIND]), pack([Hello.KIND, "1"]),
        pack([Hello.KIND, 10**6]), pack([Cancel.KIND, -1]),
        pack([Join.KIND, "1", 5000, [], []]), pack([Join.KIND, 1, True, [], []]),
        pack([Join.KIND, 1, 70_000, [], []]), pack([Join.KIND, 1, 0, [], []]),
        pack([Join.KIND, 1, 5000, "files", []]), pack([Join.KIND, 1, 5000, [], [[1, 2]]]),
        pack([Have.KIND, [[digest, [5, 3]]]]), pack([Have.KIND, [[digest, [1]]]]),
        pack([Have.KIND, [[digest, [0, MAX_CHUNKS + 1]]]]),
        pack([Have.KIND, list(range(100_001))]),  # longer than any list may be
    ]
    for name in HOSTILE_NAMES:
        headers += [
            pack([Join.KIND, PROTOCOL_VERSION, 5000, [meta_wire(name)], []]),
            pack([Offer.KIND, [meta_wire(name)]]),
            pack([FileCompleted.KIND, 1, 1, name]),
            pack([Availability.KIND, 1, name, True]),
        ]
    headers.append(pack([Offer.KIND, [meta_wire(b"bytes-name")]]))  # bytes where str belongs
    return [[h] for h in headers] + [
        [noise],  # one 2 MiB frame of noise
        [pack([kind, 1, bytes(2 * MIB), 0, 1])],  # 2 MiB where 32 bytes belong
        [pack([Heartbeat.KIND]), *([b"x"] * 49)],  # 50 frames
        [b""] * 50,
        [request, b"a payload where none belongs"],
        [pack([ChunkData.KIND, 1, digest, 0, 1])],  # ChunkData without its payload
    ]


def tracker_abuse(real: bytes, unknown: bytes) -> list[Message]:
    """Valid messages a sender that never joined has no business sending."""
    return [
        Goodbye(False), Goodbye(True), Complete(real), Have((HaveReport(unknown, (0, 8)),)),
        HoldersQuery(real, 10**9, 0), HoldersQuery(unknown, 0, 0), MetaQuery(unknown),
        SyncRequest(), ReverseRequest(MAX_ID), Complaint(1, real, "x" * 1000), Heartbeat(),
        ListQuery(), ChunkRequest(1, real, 0, 1), Farewell(), Rejoin(), PeerLeft(1, 1),
        Welcome(1, Snapshot(0, ()), ()),
    ]


def peer_abuse(real: bytes, unknown: bytes) -> list[list[bytes]]:
    """Valid messages that have no place on a chunk port, and requests it
    must refuse (see also test_refused_huge_request_does_not_stall_uploads)."""
    messages: list[Message] = [
        Heartbeat(), Goodbye(True), ListQuery(), PeerLeft(1, 1), ChunkRefused(1, "no"),
        Introduce(1, os.urandom(16)), Cancel(2**63 - 1), ChunkRequest(1, unknown, 0, 1),
        ChunkRequest(2, real, 10**9, 1), ChunkRequest(3, real, MAX_CHUNKS - 1, 1),
        ChunkRequest(4, real, 0, 10**6), ChunkRequest(5, unknown, 0, 4096),
    ]
    unsolicited = [encode(ChunkData(4, real, 0, 1)), bytes(CHUNK)]
    return [[encode(m)] for m in messages] + [unsolicited]


ZMTP_SIGNATURE = b"\xff" + bytes(8) + b"\x7f"


def zmtp_greeting(mechanism: bytes) -> bytes:
    """A ZMTP 3.0 greeting: what a real ZeroMQ socket sends first."""
    return ZMTP_SIGNATURE + b"\x03\x00" + mechanism.ljust(20, b"\x00") + b"\x00" + bytes(31)


def zmtp_command(name: bytes, body: bytes) -> bytes:
    payload = bytes([len(name)]) + name + body
    return b"\x04" + bytes([len(payload)]) + payload


def greeting_then_junk(rng: random.Random, variant: int) -> bytes:
    """A valid-looking ZMTP start, then something no ZeroMQ peer sends."""
    junk = rng.randbytes(rng.randint(4 << 10, 32 << 10))
    ready = zmtp_command(b"READY", b"\x0bSocket-Type" + struct.pack(">I", 6) + b"DEALER")
    bogus_ready = zmtp_command(b"READY", b"\x0bSocket-Type" + struct.pack(">I", 5) + b"BOGUS")
    huge = struct.pack(">Q", 2**63 - 1)
    variants = (
        zmtp_greeting(b"NULL") + junk,
        zmtp_greeting(b"NULL") + b"\x06" + huge + junk,  # a command of 8 EiB
        zmtp_greeting(b"NULL") + bogus_ready + junk,
        zmtp_greeting(b"CURVE") + junk,  # a mechanism the open swarm does not speak
        zmtp_greeting(b"NULL") + ready + b"\x02" + huge + junk,  # a message of 8 EiB
        zmtp_greeting(b"NULL") + ready + b"\x00\x05\xc1\xc1\xc1\xc1\xc1" + junk,
    )
    return variants[variant % len(variants)]


# --- the attacker ------------------------------------------------------------------


@dataclass
class Target:
    label: str
    port: int
    role: str  # "tracker", "events" or "peer"
    digest: bytes = b""  # for a peer: a file it holds whole
    sent: Counter[str] = field(default_factory=Counter)


@dataclass
class Attacker:
    """Strangers hammering every port of a live swarm from one thread until a
    deadline.  Every socket is made, used and closed on that thread; anything
    that goes wrong on the attacker's side is kept in ``errors``."""

    ctx: zmq.Context[zmq.Socket[bytes]]
    targets: list[Target]
    contents: Mapping[bytes, bytes]  # digest -> the file's bytes
    collision: tuple[str, bytes]  # a name in the swarm, and other content for it
    deadline_s: float
    rng: random.Random = field(default_factory=lambda: random.Random(4242))
    errors: list[str] = field(default_factory=list)
    bad_replies: list[str] = field(default_factory=list)  # undecodable or wrong bytes
    replies: Counter[str] = field(default_factory=Counter)
    stranger_id: int | None = None
    stranger_refused: list[str] = field(default_factory=list)
    stranger_left: bool = False
    events_heard: int = 0
    _asked: set[tuple[bytes, int, int]] = field(default_factory=set)
    _sockets: dict[str, zmq.Socket[bytes]] = field(default_factory=dict)
    _stranger_strikes: int = 0

    def run(self) -> None:
        try:
            self._join_stranger()
            while time.monotonic() < self.deadline_s:
                started = time.monotonic()
                noise = self.rng.randbytes(2 * MIB)
                for target in self.targets:
                    self._raw_tcp(target)
                    if target.role == "events":
                        self._events_round(target, noise)
                    else:
                        self._router_round(target, noise)
                self._stranger_round()
                self._drain_fetchers(0.0)
                time.sleep(max(0.0, min(ROUND_MIN_S - (time.monotonic() - started),
                                        self.deadline_s - time.monotonic())))
            self._stranger_leaves()
            self._drain_fetchers(1.0)
        except Exception:
            self.errors.append(traceback.format_exc())
        finally:
            for sock in self._sockets.values():
                sock.close(linger=0)

    # --- sockets ---------------------------------------------------------------------

    def _socket(self, kind: int, port: int) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(f"tcp://{LOCALHOST}:{port}")
        return sock

    def _kept(self, key: str, kind: int, port: int) -> zmq.Socket[bytes]:
        """A socket that lives for the whole attack."""
        if key not in self._sockets:
            self._sockets[key] = self._socket(kind, port)
        return self._sockets[key]

    def _send(self, sock: zmq.Socket[bytes], frames: list[bytes], target: Target,
              what: str) -> None:
        try:
            sock.send_multipart(frames, zmq.NOBLOCK)
            target.sent[what] += 1
        except zmq.Again:
            target.sent[f"{what} (queue full)"] += 1

    def _read_replies(self, sock: zmq.Socket[bytes], until: type[Message] | None = None,
                      wait_s: float = 0.0) -> Message | None:
        """Read every waiting reply (for ``wait_s`` at most, or until one of
        type ``until``); each must be a valid swarm message."""
        deadline = time.monotonic() + wait_s
        while True:
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not sock.poll(left_ms):
                return None
            frames = sock.recv_multipart()
            try:
                message, payload = decode(frames)
            except ProtocolError as exc:
                self.bad_replies.append(f"undecodable reply {frames[:1]!r}: {exc}")
                continue
            self.replies[type(message).__name__] += 1
            if isinstance(message, ChunkData):
                self._check_data(message, payload)
            if until is not None and isinstance(message, until):
                return message

    # --- raw TCP -----------------------------------------------------------------------

    def _raw_tcp(self, target: Target) -> None:
        size = self.rng.randint(4 << 10, 100 << 10)
        if self._raw_send(target.port, self.rng.randbytes(size)):
            target.sent["tcp junk bytes"] += size
        target.sent["tcp junk connections"] += 1
        self._raw_send(target.port, greeting_then_junk(self.rng, target.sent["tcp greeting"]))
        target.sent["tcp greeting"] += 1
        for i in range(STORM_CONNECTIONS):
            try:
                conn = socket.create_connection((LOCALHOST, target.port), timeout=IO_TIMEOUT_S)
            except OSError:
                continue
            if i % 2:  # half of them end with a reset rather than a FIN
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            target.sent["tcp storm"] += 1

    @staticmethod
    def _raw_send(port: int, data: bytes) -> bool:
        try:
            with socket.create_connection((LOCALHOST, port), timeout=IO_TIMEOUT_S) as conn:
                conn.sendall(data)
            return True
        except OSError:
            return False  # hung up on the garbage: what a server should do

    # --- ZeroMQ on the ROUTER ports ----------------------------------------------------

    def _router_round(self, target: Target, noise: bytes) -> None:
        """A fresh stranger per round sends every malformed body and every
        abusive message, then a Hello, answered in order once all is read."""
        real = target.digest or next(iter(self.contents))
        unknown = self.rng.randbytes(32)
        sock = self._socket(zmq.DEALER, target.port)
        try:
            for frames in malformed_bodies(noise, real):
                self._send(sock, frames, target, "zmq malformed")
            if target.role == "tracker":
                abuse = [[encode(m)] for m in tracker_abuse(real, unknown)]
            else:
                abuse = peer_abuse(real, unknown)
            for frames in abuse:
                self._send(sock, frames, target, "zmq abusive")
            self._send(sock, [encode(Hello(PROTOCOL_VERSION))], target, "zmq abusive")
            until = HelloReply if target.role == "tracker" else ErrorReply
            self._read_replies(sock, until, IO_TIMEOUT_S)
        finally:
            sock.close(linger=0)
        if target.role == "peer":
            self._fetch_abuse(target)

    def _fetch_abuse(self, target: Target) -> None:
        """Valid requests for a real file at ranges no peer would ask for:
        off piece boundaries, across them, the short last chunk, odd ids."""
        sock = self._kept(f"fetch {target.label}", zmq.DEALER, target.port)
        layout = Layout.for_size(len(self.contents[target.digest]))
        chunks, piece = layout.chunks, layout.piece_chunks
        rng = self.rng
        asks = [
            (0, rng.randrange(1, chunks - 64), rng.randint(1, 64)),
            (2**63 - 1, piece * rng.randrange(1, layout.pieces) - 3, 7),  # across a boundary
            (7, chunks - 1, 1),  # the short last chunk
            (7, rng.randrange(0, chunks - 3), 3),  # a request id used twice
        ]
        other = rng.choice([d for d in self.contents if d != target.digest])
        asks_other = (rng.randrange(0, chunks_of(len(self.contents[other])) - 5), 5)
        for request_id, first, count in asks:
            self._asked.add((target.digest, first, count))
            request = ChunkRequest(request_id, target.digest, first, count)
            self._send(sock, [encode(request)], target, "zmq abusive")
        # A file it may hold only in part: served right, or refused.
        self._asked.add((other, *asks_other))
        self._send(sock, [encode(ChunkRequest(9, other, *asks_other))], target, "zmq abusive")
        self._send(sock, [encode(Cancel(7))], target, "zmq abusive")

    def _drain_fetchers(self, wait_s: float) -> None:
        for key, sock in self._sockets.items():
            if key.startswith("fetch "):
                self._read_replies(sock, None, wait_s)

    def _check_data(self, reply: ChunkData, payload: memoryview | None) -> None:
        """Data served to a stranger is exactly what it asked for, byte for byte."""
        key = (reply.digest, reply.first_chunk, reply.chunk_count)
        data = self.contents.get(reply.digest)
        if key not in self._asked or data is None or payload is None:
            self.bad_replies.append(f"ChunkData nobody asked for: {reply!r}")
            return
        expected = data[reply.first_chunk * CHUNK:(reply.first_chunk + reply.chunk_count) * CHUNK]
        if bytes(payload) != expected:
            self.bad_replies.append(f"wrong bytes for {reply!r}")

    # --- the event port ----------------------------------------------------------------

    def _events_round(self, target: Target, noise: bytes) -> None:
        """A subscriber with a pile of odd subscriptions, an XSUB sending what
        no subscriber sends, and a DEALER, which a PUB must not talk to."""
        rng = self.rng
        sub = self._kept("sub", zmq.SUB, target.port)
        for _ in range(50):
            sub.setsockopt(zmq.SUBSCRIBE, rng.randbytes(rng.randint(1, 300)))
            target.sent["zmq subscriptions"] += 1
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.setsockopt(zmq.UNSUBSCRIBE, b"never subscribed")
        while sub.poll(0):
            sub.recv_multipart()
            self.events_heard += 1
        xsub = self._kept("xsub", zmq.XSUB, target.port)
        junk_frames = [
            [b"\x01" + rng.randbytes(64)], [b"\x00" + rng.randbytes(64)], [b"\x01"], [b""],
            [b"\x02not a subscription"], [b"\x01a", b"b", b"c"], [pack([Hello.KIND, 1])],
            [b"\x01" + rng.randbytes(100 << 10)],  # beyond the PUB's message size limit
        ]
        for frames in junk_frames:
            self._send(xsub, frames, target, "zmq malformed")
        while xsub.poll(0):
            xsub.recv_multipart()
        dealer = self._kept("dealer to pub", zmq.DEALER, target.port)
        for frames in malformed_bodies(noise, next(iter(self.contents)))[-8:]:
            self._send(dealer, frames, target, "zmq malformed")

    # --- a stranger that joins ---------------------------------------------------------

    def _join_stranger(self) -> None:
        """Hello, then Join offering a real file's name with other content:
        the tracker must refuse the offer and overwrite nothing."""
        tracker = next(t for t in self.targets if t.role == "tracker")
        sock = self._kept("stranger", zmq.DEALER, tracker.port)
        # Where it says it serves chunks: a socket that is never read.
        server = self.ctx.socket(zmq.ROUTER)
        server.setsockopt(zmq.LINGER, 0)
        self._sockets["stranger's chunk port"] = server
        listen_port = server.bind_to_random_port(f"tcp://{LOCALHOST}")
        self._send(sock, [encode(Hello(PROTOCOL_VERSION))], tracker, "zmq abusive")
        if self._read_replies(sock, HelloReply, IO_TIMEOUT_S * 3) is None:
            raise AssertionError("the stranger got no HelloReply")
        name, other_content = self.collision
        join = Join(PROTOCOL_VERSION, listen_port, (meta_of_bytes(name, other_content),), ())
        self._send(sock, [encode(join)], tracker, "zmq abusive")
        welcome = self._read_replies(sock, Welcome, IO_TIMEOUT_S * 3)
        if not isinstance(welcome, Welcome):
            raise AssertionError("the stranger got no Welcome")
        self.stranger_id = welcome.peer_id
        self.stranger_refused = [r.name for r in welcome.refused]

    def _stranger_round(self) -> None:
        """As a member: heartbeats, and reports it cannot back up: chunks and
        completion of unknown files, completion of a real file it never
        fetched, an offer with a hostile name."""
        tracker = next(t for t in self.targets if t.role == "tracker")
        sock = self._sockets["stranger"]
        self._send(sock, [encode(Heartbeat())], tracker, "zmq abusive")
        if self._stranger_strikes < STRANGER_STRIKES_MAX:
            name = HOSTILE_NAMES[self._stranger_strikes % len(HOSTILE_NAMES)]
            real = next(iter(self.contents))
            for frames in (
                [encode(Have((HaveReport(self.rng.randbytes(32), (0, 4)),)))],
                [encode(Complete(self.rng.randbytes(32)))],
                [encode(Complete(real))],
                [pack([Offer.KIND, [meta_wire(name)]])],
            ):
                self._send(sock, frames, tracker, "zmq abusive")
                self._stranger_strikes += 1
        self._read_replies(sock)

    def _stranger_leaves(self) -> None:
        """Leave at once (force): a member holding nothing would otherwise
        hold every real peer back until it expired."""
        tracker = next(t for t in self.targets if t.role == "tracker")
        sock = self._sockets["stranger"]
        self._send(sock, [encode(Goodbye(True))], tracker, "zmq abusive")
        self.stranger_left = self._read_replies(sock, Farewell, IO_TIMEOUT_S * 3) is not None


# --- checks ------------------------------------------------------------------------


def stray_paths(swarm: Swarm, expected: Mapping[str, bytes]) -> list[str]:
    """Everything under the swarm's folder that no process had any business
    creating: only port.txt and the tracker's lock beside it, the captured
    output, the expected files in each Shared/ and folders in each .swarm/
    may be there."""
    assert swarm.tracker is not None
    tracker_dir = swarm.tracker.cwd
    allowed_dirs = {swarm.root, tracker_dir}
    allowed_files = {tracker_dir / n
                     for n in ("port.txt", LOCK_FILE, "stdout.txt", "stderr.txt")}
    state_dirs = []
    for run in swarm.peers:
        cwd = run.proc.cwd
        state_dirs.append(cwd / ".swarm")
        allowed_dirs |= {cwd, run.shared, cwd / ".swarm"}
        allowed_files |= {cwd / "stdout.txt", cwd / "stderr.txt"}
        allowed_files |= {run.shared / name for name in expected}
    stray = []
    for path in swarm.root.rglob("*"):
        if path.is_dir() and (path in allowed_dirs
                              or any(d in path.parents for d in state_dirs)):
            continue
        if path not in allowed_files:
            stray.append(str(path.relative_to(swarm.root)))
    return stray


def traceback_excerpt(text: str) -> str | None:
    at = text.find(TRACEBACK)
    return None if at < 0 else text[max(0, at - 300):at + 2000]


def dropped_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "dropped a bad" in line or "refused" in line]


def acquired_share(swarm: Swarm, needed_chunks: int) -> str:
    """How far the transfer is, from the tracker's ACQUIRED lines: for the
    printed summary only."""
    assert swarm.tracker is not None
    acquired = swarm.tracker.stdout().count(" ACQUIRED: ")
    return f"{100 * acquired / needed_chunks:.0f}%"


# --- the tests ---------------------------------------------------------------------


def test_swarm_survives_hostile_traffic_on_every_port(swarm: Swarm) -> None:
    """Every kind of attack at once, on every port."""
    files = [{f"file{i}.bin": random_bytes(500 + i, size)} for i, size in enumerate(FILE_SIZES)]
    everything = {name: data for f in files for name, data in f.items()}
    swarm.start_tracker()
    for f in files:
        swarm.start_peer(f, env=SLOW_UPLOADS)
    assert swarm.tracker is not None
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    thread: threading.Thread | None = None
    try:
        peers = discover_peers(swarm.port, len(files))
        listing = swarm_json("ls", LOCALHOST, str(swarm.port))
        assert listing is not None, "`swarm ls` failed"
        digests = {f["name"]: bytes.fromhex(f["digest"]) for f in listing["files"]}
        assert sorted(digests) == sorted(everything)
        pub_port = event_port(ctx, swarm.port)
        targets = [
            Target(f"tracker requests :{swarm.port}", swarm.port, "tracker"),
            Target(f"tracker events :{pub_port}", pub_port, "events"),
        ]
        for peer in peers:
            port = endpoint_port(peer["endpoint"])
            held = sorted(peer["complete"])[0]  # the file it brought, most likely
            targets.append(Target(f"peer {peer['peer']} chunks :{port}", port, "peer",
                                  digests[held]))
        collision = ("file0.bin", random_bytes(599, 5000))  # a real name, other content
        attacker = Attacker(ctx, targets, {digests[n]: d for n, d in everything.items()},
                            collision, time.monotonic() + ATTACK_S)
        needed_chunks = (len(files) - 1) * sum(chunks_of(len(d)) for d in everything.values())
        began_at = acquired_share(swarm, needed_chunks)
        thread = threading.Thread(target=attacker.run, name="attacker", daemon=True)
        thread.start()
        thread.join(ATTACK_S + THREAD_GRACE_S)
        assert not thread.is_alive(), "the attacker did not stop in time"
        ended_at = acquired_share(swarm, needed_chunks)
    finally:
        if thread is not None and thread.is_alive():  # every step is bounded: it ends soon
            thread.join(THREAD_GRACE_S)
        ctx.destroy(linger=0)
    # The tools still get answers once the strangers are gone.
    after = swarm_json("status", LOCALHOST, str(swarm.port), "--once")
    print(f"\nHOSTILE attack from {began_at} to {ended_at} of the chunks acquired; "
          f"replies {dict(attacker.replies)}; events heard {attacker.events_heard}")
    for target in targets:
        print(f"HOSTILE {target.label}: {dict(sorted(target.sent.items()))}")
    assert not attacker.errors, "the attack itself failed:\n" + "\n".join(attacker.errors)
    assert after is not None, "the tracker no longer answers `swarm status`"

    codes = swarm.wait_peers(FINISH_S)
    assert codes == [0] * len(files), f"peer exit codes {codes}"
    assert swarm.stop_tracker() == 0
    out = check_swarm(swarm, everything)

    # The stranger that joined with a colliding name: refused, it took nothing
    # and overwrote nothing (check_swarm compared every copy of file0.bin).
    assert attacker.stranger_id is not None
    assert attacker.stranger_refused == [collision[0]]
    assert attacker.stranger_left, "the stranger's forced goodbye was not answered"
    assert out.tracker.connects[attacker.stranger_id] == []
    assert out.tracker.disconnects[attacker.stranger_id] == []
    assert not any(pid == attacker.stranger_id for pid, _ in out.tracker.acquired)
    assert not attacker.bad_replies, "\n".join(attacker.bad_replies[:20])

    stray = stray_paths(swarm, everything)
    assert not stray, f"files no process should have made: {stray}"

    tracker_err = swarm.tracker.stderr()
    assert dropped_lines(tracker_err), "the tracker's stderr names nothing it dropped"
    assert f"peer {attacker.stranger_id}: refused offer" in tracker_err
    peer_errs = {run.proc.name: run.proc.stderr() for run in swarm.peers}
    assert any(dropped_lines(text) for text in peer_errs.values()), (
        "no peer's stderr names anything it dropped")
    for name, text in {"tracker": tracker_err, **peer_errs}.items():
        excerpt = traceback_excerpt(text)
        assert excerpt is None, f"a traceback on {name}'s stderr:\n{excerpt}"


def join_as_stranger(ctx: zmq.Context[zmq.Socket[bytes]], tracker_port: int,
                     listen_port: int) -> tuple[zmq.Socket[bytes], int]:
    """A DEALER that has said Hello and joined offering nothing, and its peer id."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://{LOCALHOST}:{tracker_port}")
    for message, answer in ((Hello(PROTOCOL_VERSION), HelloReply),
                            (Join(PROTOCOL_VERSION, listen_port, (), ()), Welcome)):
        sock.send_multipart(encode_frames(message))
        assert sock.poll(int(IO_TIMEOUT_S * 1000) * 3), f"no answer to {message!r}"
        reply, _ = decode(sock.recv_multipart())
        assert isinstance(reply, answer), f"{reply!r} in answer to {message!r}"
    assert isinstance(reply, Welcome)
    return sock, reply.peer_id


def next_answer(sock: zmq.Socket[bytes], message: Message) -> Message:
    """The tracker's answer to ``message``, past the LeaveStatus notices it
    pushes to a peer whenever rules (a) and (b) start or stop holding."""
    while True:
        assert sock.poll(int(IO_TIMEOUT_S * 1000) * 3), f"no answer to {message!r}"
        reply, _ = decode(sock.recv_multipart())
        if not isinstance(reply, LeaveStatus):
            return reply


def test_claim_of_a_file_never_fetched_leaves_no_trace(swarm: Swarm) -> None:
    data = {"only.bin": random_bytes(601, 100_000)}
    swarm.start_tracker()
    swarm.start_peer(data, quiet_s=3)
    discover_peers(swarm.port, 1)
    listing = swarm_json("ls", LOCALHOST, str(swarm.port))
    assert listing is not None
    digest = bytes.fromhex(listing["files"][0]["digest"])
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        server = ctx.socket(zmq.ROUTER)  # where the stranger says it serves; never read
        server.setsockopt(zmq.LINGER, 0)
        sock, stranger_id = join_as_stranger(
            ctx, swarm.port, server.bind_to_random_port(f"tcp://{LOCALHOST}"))
        for message, answer in ((Complete(digest), ErrorReply), (Goodbye(True), Farewell)):
            sock.send_multipart(encode_frames(message))
            reply = next_answer(sock, message)
            assert isinstance(reply, answer), f"{reply!r} in answer to {message!r}"
        sock.close(linger=0)
        server.close(linger=0)
    finally:
        ctx.destroy(linger=0)
    assert swarm_json("ls", LOCALHOST, str(swarm.port)) is not None, (
        "the tracker no longer answers `swarm ls`")
    assert swarm.wait_peers(30) == [0]
    assert swarm.stop_tracker() == 0
    out = check_swarm(swarm, data)
    assert out.tracker.disconnects[stranger_id] == []
    assert swarm.tracker is not None
    assert f"peer {stranger_id}: refused: complete:" in swarm.tracker.stderr()
    assert traceback_excerpt(swarm.tracker.stderr()) is None


def test_refused_huge_request_does_not_stall_uploads(swarm: Swarm) -> None:
    data = {"only.bin": random_bytes(600, 3 * MIB + 99)}
    swarm.start_tracker()
    # It stays while the stranger asks (S = 8 s), and serves at a limited rate.
    seeder = swarm.start_peer(data, quiet_s=8, env=SLOW_UPLOADS)
    (peer,) = discover_peers(swarm.port, 1)
    listing = swarm_json("ls", LOCALHOST, str(swarm.port))
    assert listing is not None
    digest = bytes.fromhex(listing["files"][0]["digest"])
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(f"tcp://{LOCALHOST}:{endpoint_port(peer['endpoint'])}")
        sock.send_multipart([encode(ChunkRequest(1, digest, 0, 10**6))])
        assert sock.poll(int(IO_TIMEOUT_S * 1000) * 3), "no answer to the huge request"
        reply, _ = decode(sock.recv_multipart())
        assert isinstance(reply, ChunkRefused), f"{reply!r} to a request for 10**6 chunks"
        sock.close(linger=0)
    finally:
        ctx.destroy(linger=0)
    # Only now does anyone want the file: at 1.5 MB/s it takes about 2 s.
    fetcher = swarm.start_peer({})
    codes = swarm.wait_peers(30, [seeder, fetcher])
    assert codes == [0, 0]
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, data)
