"""Misbehaving peers for end-to-end tests: real processes that speak the
protocol, but serve wrong bytes (``corrupt``) or answer late (``slow``).

    python -m tests.e2e.doubles corrupt|slow HOST PORT FILE [--delay-s D]

The double joins the swarm offering FILE, heartbeats like a peer, and serves
requests from other peers.  Each answer is logged to ``served.log`` in the
working directory: ``<monotonic time> <first chunk> good|bad``.
"""

from __future__ import annotations

import argparse
import heapq
import signal
import sys
import time
from pathlib import Path

import zmq

from swarm.protocol.codec import decode, encode_frames
from swarm.protocol.messages import PROTOCOL_VERSION, Heartbeat, Hello, HelloReply, Join
from swarm.protocol.meta import meta_of_bytes
from swarm.protocol.peer_messages import ChunkData, ChunkRequest

HEARTBEAT_S = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("corrupt", "slow"))
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("file", type=Path)
    parser.add_argument("--delay-s", type=float, default=5.0)
    parser.add_argument("--corrupt-every", type=int, default=1,
                        help="corrupt one answer in this many (1: all)")
    args = parser.parse_args(argv)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    content = args.file.read_bytes()
    meta = meta_of_bytes(args.file.name, content)
    ctx = zmq.Context()
    tracker = ctx.socket(zmq.DEALER)
    tracker.connect(f"tcp://{args.host}:{args.port}")
    server = ctx.socket(zmq.ROUTER)
    listen_port = server.bind_to_random_port("tcp://127.0.0.1")
    tracker.send_multipart(encode_frames(Hello(PROTOCOL_VERSION)))
    reply, _ = decode(tracker.recv_multipart())
    assert isinstance(reply, HelloReply)
    tracker.send_multipart(encode_frames(Join(PROTOCOL_VERSION, listen_port, (meta,), ())))
    log = open("served.log", "a", buffering=1)  # noqa: SIM115 - open for the whole run
    poller = zmq.Poller()
    poller.register(tracker, zmq.POLLIN)
    poller.register(server, zmq.POLLIN)
    delayed: list[tuple[float, int, bytes, ChunkRequest]] = []
    answered = 0
    next_beat = time.monotonic()
    while not stop:
        now = time.monotonic()
        if now >= next_beat:
            tracker.send_multipart(encode_frames(Heartbeat()))
            next_beat = now + HEARTBEAT_S
        wait_s = min(next_beat, delayed[0][0] if delayed else next_beat) - now
        for sock, _ in poller.poll(max(0, int(wait_s * 1000)) + 1):
            frames = sock.recv_multipart()
            if sock is tracker:
                continue  # replies and events are of no interest to a double
            route, *body = frames
            request, _ = decode(body)
            if isinstance(request, ChunkRequest):
                due = now + (args.delay_s if args.mode == "slow" else 0.0)
                heapq.heappush(delayed, (due, answered, route, request))
                answered += 1
        now = time.monotonic()
        while delayed and delayed[0][0] <= now:
            _, number, route, request = heapq.heappop(delayed)
            offset, length = meta.layout.chunk_byte_range(
                request.first_chunk, request.first_chunk + request.chunk_count)
            data = content[offset : offset + length]
            bad = args.mode == "corrupt" and number % args.corrupt_every == 0
            if bad:
                data = bytes(b ^ 0xFF for b in data)
            answer = ChunkData(request.request_id, request.digest, request.first_chunk,
                               request.chunk_count)
            server.send_multipart([route, *encode_frames(answer, data)])
            log.write(f"{now:.3f} {request.first_chunk} {'bad' if bad else 'good'}\n")
    ctx.destroy(linger=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
