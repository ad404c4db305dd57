"""The floor: only the work that any swarm of one process per peer must do.

Beside swarm and libtorrent, ``make bench`` runs this program on the same
files with the same clock, so "how close to the physical limit" is a
measurement, not an estimate added up from parts.  What it does, and
nothing more:

- one Python process per peer that imports pyzmq and msgpack (as every
  swarm peer must: the interpreter's start and those imports are part of
  the floor), and one more process, the tracker's stand-in, that writes
  every ACQUIRED line the contract demands (one per 512-byte chunk per copy
  made, in the contract's format) to a file;
- each peer receives every file it lacks over loopback TCP, writes it into
  a fresh file in a hidden folder, hashes it with sha256 as it arrives
  (one pass, no second read), and renames it into ``./Shared`` when whole;
- the bytes travel a chain: each peer forwards what it receives to the
  next one, except back to the file's origin (a ring for "every peer starts
  with one file", a line for "one source, many receivers").  Every byte is
  sent once per copy made, over two connections per process; a peer's own
  file goes out with ``os.sendfile``, and reads are 256 KiB.

No tracker protocol, no verification of pieces against a hash list, no
choice of sources, no retries, no resume, nothing for a person: a design
that did less would not meet the contract.

    python -m bench.floor --peers 8 --size-mib 4 [--crowd] [--runs N]
                          [--transport tcp|zmq] [--hash-own]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK_BYTES = 512
READ_BYTES = 256 << 10
FRAME = struct.Struct("<IQI")  # origin, offset, length of the bytes that follow
NOTICE = struct.Struct("<IIII")  # receiver, origin, first chunk, end chunk
MAX_QUEUED_BYTES = 8 << 20  # forwarding backlog before a peer stops reading
OWN_FRAME_BYTES = 1 << 20  # a peer's own file goes out in frames this big
TIMEOUT_S = 600.0
POLL_S = 0.01


def file_name(origin: int) -> str:
    return f"file{origin}.bin"


# --- a peer ------------------------------------------------------------------------------


class FloorPeer:
    """One peer of the chain: receives from ``prev``, writes and hashes,
    forwards to ``next``; sends its own file first if it has one."""

    def __init__(self, spec: dict[str, Any], folder: Path) -> None:
        self.me = int(spec["index"])
        self.size = int(spec["size"])
        self.expect = {int(o): bytes.fromhex(d) for o, d in spec["expect"].items()}
        self.forward_to_next = {int(o) for o in spec["forward"]}
        self.hash_own = bool(spec.get("hash_own"))
        self.folder = folder
        self.shared = folder / "Shared"
        self.partial_dir = folder / ".floor"
        self.partial_dir.mkdir(exist_ok=True)
        self.fds: dict[int, int] = {}
        self.hashes: dict[int, hashlib._Hash] = {}
        self.received: dict[int, int] = {}
        # Forwarded frames waiting (header, body), and what of the frame
        # going out now is still to send.
        self.queue: deque[tuple[memoryview, memoryview]] = deque()
        self.queued_bytes = 0
        self.out_mem: deque[memoryview] = deque()
        self.own_left = 0  # bytes of the peer's own file not yet sent
        self.own_offset = 0
        self.own_body_left = 0  # of the own frame going out now
        self.own_fd = -1
        self.done_files = 0
        # The frame being read: its origin, where its next byte goes, bytes left.
        self.frame_origin = 0
        self.frame_offset = 0
        self.frame_left = 0
        self.head = b""  # a header cut by a read

    def run(self, listen: socket.socket, next_port: int | None, lines_path: str) -> None:
        notices = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        notices.connect(lines_path)
        nxt = None
        if next_port is not None:
            nxt = socket.create_connection(("127.0.0.1", next_port))
            nxt.setblocking(False)
        self.open_own()
        prev = None
        if self.expect:
            prev, _ = listen.accept()
            prev.setblocking(False)
        listen.close()
        sel = selectors.DefaultSelector()
        # Everything the previous peer sends is meant for this one, so it
        # reads until it holds every file it expects (no end-of-stream
        # handshake, which a ring could never finish).
        while self.done_files < len(self.expect) or self._sending(nxt):
            if nxt is not None:
                self._watch(sel, nxt, selectors.EVENT_WRITE if self._sending(nxt) else 0, "next")
            if prev is not None:
                reading = (self.done_files < len(self.expect)
                           and self.queued_bytes <= MAX_QUEUED_BYTES)
                self._watch(sel, prev, selectors.EVENT_READ if reading else 0, "prev")
            for key, _ in sel.select():
                if key.data == "next":
                    self._send(nxt)  # type: ignore[arg-type]
                else:
                    data = prev.recv(READ_BYTES)  # type: ignore[union-attr]
                    if not data:
                        raise SystemExit(f"peer {self.me}: the previous peer went early")
                    self._take(memoryview(data), notices)
        for sock in (nxt, prev, notices):
            if sock is not None:
                sock.close()

    def open_own(self) -> None:
        """The peer's own file, if it has one, ready to send; with
        ``hash_own``, hashed first in 1 MiB reads, as a peer must before it
        can offer a file others will verify (the floor's own check takes
        the digest from before the clock)."""
        own = self.shared / file_name(self.me)
        if not own.exists():
            return
        self.own_fd = os.open(own, os.O_RDONLY)
        self.own_left = self.size
        if self.hash_own:
            digest = hashlib.sha256()
            offset = 0
            while offset < self.size:
                block = os.pread(self.own_fd, OWN_FRAME_BYTES, offset)
                digest.update(block)
                offset += len(block)

    @staticmethod
    def _watch(sel: selectors.BaseSelector, sock: socket.socket, events: int,
               tag: str) -> None:
        try:
            key = sel.get_key(sock)
        except KeyError:
            if events:
                sel.register(sock, events, tag)
            return
        if not events:
            sel.unregister(sock)
        elif key.events != events:
            sel.modify(sock, events, tag)

    def _sending(self, nxt: socket.socket | None) -> bool:
        return nxt is not None and bool(self.out_mem or self.own_body_left or self.queue
                                        or self.own_left)

    def _send(self, nxt: socket.socket) -> None:
        """Frames go out whole, one after another: between two frames a
        forwarded one goes first (it holds memory), else the next frame of
        the peer's own file (sent from the page cache with sendfile)."""
        try:
            while True:
                if self.out_mem:
                    head = self.out_mem[0]
                    sent = nxt.send(head)
                    if sent < len(head):
                        self.out_mem[0] = head[sent:]
                        return
                    self.out_mem.popleft()
                elif self.own_body_left:
                    sent = os.sendfile(nxt.fileno(), self.own_fd, self.own_offset,
                                       self.own_body_left)
                    self.own_offset += sent
                    self.own_body_left -= sent
                    self.own_left -= sent
                elif self.queue:
                    header, body = self.queue.popleft()
                    self.queued_bytes -= len(body)
                    self.out_mem.extend((header, body))
                elif self.own_left:
                    length = min(self.own_left, OWN_FRAME_BYTES)
                    self.out_mem.append(memoryview(FRAME.pack(self.me, self.own_offset, length)))
                    self.own_body_left = length
                else:
                    return
        except BlockingIOError:
            return

    def _take(self, data: memoryview, notices: socket.socket) -> None:
        """Parse frames out of what arrived, without copying it: a frame's
        bytes may span reads, and a header may too."""
        at = 0
        out: list[bytes] = []
        while at < len(data):
            if self.frame_left == 0:
                need = FRAME.size - len(self.head)
                self.head += data[at:at + need]
                at += min(need, len(data) - at)
                if len(self.head) < FRAME.size:
                    break
                self.frame_origin, self.frame_offset, self.frame_left = FRAME.unpack(self.head)
                self.head = b""
                continue
            body = data[at:at + self.frame_left]
            self._payload(self.frame_origin, self.frame_offset, body, out)
            at += len(body)
            self.frame_offset += len(body)
            self.frame_left -= len(body)
        if out:
            notices.sendall(b"".join(out))

    def _payload(self, origin: int, offset: int, body: memoryview, out: list[bytes]) -> None:
        self.store(origin, offset, body, out)
        if origin in self.forward_to_next:
            self.queue.append((memoryview(FRAME.pack(origin, offset, len(body))), body))
            self.queued_bytes += len(body)

    def store(self, origin: int, offset: int, body: memoryview, out: list[bytes]) -> None:
        """Bytes of ``origin``'s file at ``offset``: written, hashed, the
        ACQUIRED notice added to ``out``, and the file renamed into Shared
        when whole."""
        fd = self.fds.get(origin)
        if fd is None:
            fd = os.open(self.partial_dir / file_name(origin),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            self.fds[origin] = fd
            self.hashes[origin] = hashlib.sha256()
            self.received[origin] = 0
        os.pwrite(fd, body, offset)
        self.hashes[origin].update(body)
        before = self.received[origin]
        after = before + len(body)
        self.received[origin] = after
        first = before // CHUNK_BYTES
        end = -(-after // CHUNK_BYTES) if after == self.size else after // CHUNK_BYTES
        if end > first:
            out.append(NOTICE.pack(self.me, origin, first, end))
        if after == self.size:
            os.close(fd)
            if self.hashes[origin].digest() != self.expect[origin]:
                raise SystemExit(f"peer {self.me}: {file_name(origin)} arrived damaged")
            os.rename(self.partial_dir / file_name(origin), self.shared / file_name(origin))
            self.done_files += 1


def peer_main(spec_path: str) -> int:
    import msgpack  # noqa: F401  - every swarm peer pays these imports
    import zmq  # noqa: F401

    spec = json.loads(Path(spec_path).read_text())
    folder = Path(spec["folder"])
    if spec["transport"] == "zmq":
        from bench.floor_zmq import run_zmq_peer

        run_zmq_peer(spec, folder)
        return 0
    listen = socket.socket()
    listen.bind(("127.0.0.1", 0))
    listen.listen(1)
    publish_port(folder, listen.getsockname()[1])
    FloorPeer(spec, folder).run(listen, next_peer_port(spec), spec["lines"])
    return 0


def publish_port(folder: Path, port: int) -> None:
    """Where this peer listens, for the peer before it in the chain."""
    (folder / "port.tmp").write_text(str(port))
    os.rename(folder / "port.tmp", folder / "port")


def next_peer_port(spec: dict[str, Any]) -> int | None:
    """Where the next peer of the chain listens, once it says so (None: this
    peer is the last of a line)."""
    if spec["next"] is None:
        return None
    next_file = Path(spec["next"]) / "port"
    deadline = time.monotonic() + 60
    while not next_file.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the next peer never started")
        time.sleep(0.002)
    return int(next_file.read_text())


# --- the tracker's stand-in: every ACQUIRED line ---------------------------------------------


def lines_main(spec_path: str) -> int:
    import msgpack  # noqa: F401
    import zmq  # noqa: F401

    spec = json.loads(Path(spec_path).read_text())
    peers = int(spec["peers"])
    size = int(spec["size"])
    chunks = -(-size // CHUNK_BYTES)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(spec["lines"])
    server.listen(peers)
    Path(spec["lines"] + ".ready").touch()
    # Each line is "PEER <N> ACQUIRED: CHUNK <X>/<C> <NAME>\n": the part after
    # the peer is made once per file, and a range of lines is one join.
    tails: dict[int, list[bytes]] = {}
    prefixes: dict[int, bytes] = {}
    sel = selectors.DefaultSelector()
    conns = 0
    # Flushed 256 KiB at a time, as swarm writes (swarm/io/common/write_blocks.py).
    with open(spec["out"], "wb", buffering=256 << 10) as out:
        while conns < peers:
            conn, _ = server.accept()
            conn.setblocking(False)
            sel.register(conn, selectors.EVENT_READ, b"")
            conns += 1
        open_conns = peers
        while open_conns:
            for key, _ in sel.select():
                peer_conn = key.fileobj
                assert isinstance(peer_conn, socket.socket)
                data = peer_conn.recv(1 << 16)
                if not data:
                    sel.unregister(peer_conn)
                    peer_conn.close()
                    open_conns -= 1
                    continue
                data = key.data + data
                whole = len(data) - len(data) % NOTICE.size
                for peer, origin, first, end in NOTICE.iter_unpack(data[:whole]):
                    lines = tails.get(origin)
                    if lines is None:
                        name = file_name(origin).encode()
                        lines = [b"CHUNK %d/%d %s\n" % (x, chunks, name)
                                 for x in range(1, chunks + 1)]
                        tails[origin] = lines
                    prefix = prefixes.get(peer)
                    if prefix is None:
                        prefix = prefixes[peer] = b"PEER %d ACQUIRED: " % peer
                    out.write(prefix + prefix.join(lines[first:end]))
                sel.modify(peer_conn, selectors.EVENT_READ, data[whole:])
    return 0


# --- a run ----------------------------------------------------------------------------------


@dataclass
class FloorResult:
    peers: int
    size_bytes: int
    completion_s: float
    acquired_lines: int
    peer_cpu_s: list[float]
    lines_cpu_s: float


def run_floor(peers: int, size: int, crowd: bool = False, transport: str = "tcp",
              hash_own: bool = False) -> FloorResult:
    """Every peer starts with one file (a ring), or with ``crowd`` the first
    peer alone has one and the others each take it (a line).  ``transport``:
    "tcp", raw sockets; "zmq", the same chain on ZeroMQ (bench/floor_zmq.py).
    ``hash_own``: each peer hashes its own file before it sends it."""
    from bench.swarm_run import _digest, _reap, _write_files

    root = Path(tempfile.mkdtemp(prefix="swarm-floor-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        names = _write_files(root, peers, size, one_file=crowd)
        # Streamed: this process stays small, or the peers it starts would
        # inherit its size in the peak RSS that wait4 reports for them.
        digests = {i: _digest(root / f"peer{i}" / "Shared" / file_name(i)).hex()
                   for i in range(1, len(names) + 1)}
        lines_sock = str(root / "lines.sock")
        lines_spec = root / "lines.json"
        lines_spec.write_text(json.dumps({"peers": peers, "size": size, "lines": lines_sock,
                                          "out": str(root / "stdout.txt")}))
        here = Path(__file__).resolve().parent.parent
        procs.append(subprocess.Popen([sys.executable, "-m", "bench.floor", "lines",
                                       str(lines_spec)], cwd=here, start_new_session=True))
        for i in range(1, peers + 1):
            folder = root / f"peer{i}"
            if crowd:
                nxt = i + 1 if i < peers else None
                expect = {} if i == 1 else {1: digests[1]}
                forward = [1] if nxt is not None and i > 1 else []
            else:
                nxt = i % peers + 1
                expect = {o: digests[o] for o in digests if o != i}
                forward = [o for o in digests if o != i and o != nxt]
            spec = {"index": i, "size": size, "expect": expect, "forward": forward,
                    "folder": str(folder), "lines": lines_sock, "transport": transport,
                    "hash_own": hash_own,
                    "next": str(root / f"peer{nxt}") if nxt is not None else None}
            (folder / "spec.json").write_text(json.dumps(spec))
        _wait_for(Path(lines_sock + ".ready"), "the line writer")

        def launch(i: int) -> None:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "bench.floor", "peer",
                 str(root / f"peer{i}" / "spec.json")],
                cwd=here, start_new_session=True))

        receivers = range(1, peers + 1)
        if crowd:
            # As with swarm's crowd, the source is up before the clock starts.
            launch(1)
            _wait_for(root / "peer1" / "port", "the source")
            receivers = range(2, peers + 1)
        started = time.monotonic()
        for i in receivers:
            launch(i)
        wanted = set(names)
        shared_dirs = [root / f"peer{i}" / "Shared" for i in range(1, peers + 1)]
        pending = list(range(1 if crowd else 0, peers))
        completion = None
        cpu = [0.0] * (peers + 1)
        exited = [False] * (peers + 1)
        while completion is None or not all(exited):
            now = time.monotonic()
            if now - started > TIMEOUT_S:
                raise RuntimeError("the floor did not finish")
            for k, proc in enumerate(procs):
                if not exited[k]:
                    exited[k], cpu[k], _ = _reap(proc)
                    if exited[k] and proc.returncode != 0:
                        raise RuntimeError(f"floor process {k} exited with {proc.returncode}")
            if completion is None:
                for k in list(pending):
                    if set(os.listdir(shared_dirs[k])) == wanted and all(
                            (shared_dirs[k] / n).stat().st_size == size for n in wanted):
                        pending.remove(k)
                if not pending:
                    completion = now - started
            time.sleep(POLL_S * max(1, peers / 8))
        copies = (peers - 1) * (1 if crowd else peers)
        with open(root / "stdout.txt", "rb") as out:
            lines = sum(1 for _ in out)
        expected = copies * -(-size // CHUNK_BYTES)
        if lines != expected:
            raise RuntimeError(f"{lines} ACQUIRED lines, expected {expected}")
        return FloorResult(peers, size, completion, lines, cpu[1:], cpu[0])
    except RuntimeError as exc:
        raise RuntimeError(f"{exc} (its folders are kept in {root})") from None
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if not any(p.returncode for p in procs):
            import shutil

            shutil.rmtree(root, ignore_errors=True)


def _wait_for(path: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.002)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["peer"]:
        return peer_main(argv[1])
    if argv[:1] == ["lines"]:
        return lines_main(argv[1])
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peers", type=int, default=8)
    parser.add_argument("--size-mib", type=float, default=4)
    parser.add_argument("--crowd", action="store_true",
                        help="one source, the other peers each take its file")
    parser.add_argument("--transport", choices=("tcp", "zmq"), default="tcp",
                        help="raw sockets (the floor), or ZeroMQ (what it costs)")
    parser.add_argument("--hash-own", action="store_true",
                        help="each peer hashes its own file, in the clock, before sending it")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    size = int(args.size_mib * (1 << 20))
    for _ in range(args.runs):
        r = run_floor(args.peers, size, args.crowd, args.transport, args.hash_own)
        print(f"floor ({args.transport}), {r.peers} peers x {r.size_bytes / (1 << 20):g} MiB"
              f"{' (crowd)' if args.crowd else ''}: complete in {r.completion_s:.2f} s, "
              f"{r.acquired_lines} ACQUIRED lines, CPU: peers {sum(r.peer_cpu_s):.2f} s, "
              f"lines {r.lines_cpu_s:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
