"""A swarm with a key: its members complete; without the key, nobody can
join, subscribe, or fetch a single byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import zmq
from zmq.utils.monitor import recv_monitor_message

from swarm.io.common.curve import keys_from, make_client, new_swarm_key
from swarm.protocol.codec import decode, encode_frames
from swarm.protocol.messages import PROTOCOL_VERSION, Hello, HelloReply
from swarm.protocol.peer_messages import ChunkRequest
from tests.e2e.harness import REPO, Swarm, check_swarm, random_bytes, wait_for

MIB = 1 << 20
NO_ANSWER_WAIT_MS = 1500  # long enough for any answer on loopback
HANDSHAKE_WAIT_MS = 10_000  # a handshake on loopback takes milliseconds
HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                    | zmq.EVENT_HANDSHAKE_FAILED_AUTH)


def swarm_cmd(*args: str, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SWARM_KEY"}
    env["PYTHONPATH"] = str(REPO)
    if key is not None:
        env["SWARM_KEY"] = key
    return subprocess.run([sys.executable, "-m", "swarm", *args], capture_output=True,
                          text=True, env=env, timeout=30, check=False)


def socket_as(ctx: zmq.Context[zmq.Socket[bytes]], kind: int, key: str | None) -> zmq.Socket[bytes]:
    """A socket of an outsider: with no key, or with the key of another swarm."""
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    keys = keys_from(key) if key else None
    if keys is not None:
        make_client(sock, keys)
    return sock


def answered(sock: zmq.Socket[bytes]) -> bool:
    return bool(sock.poll(NO_ANSWER_WAIT_MS))


def handshake(sock: zmq.Socket[bytes], endpoint: str) -> int:
    """Connect, and wait for the outcome of the first handshake with the
    other side: a zmq.EVENT_HANDSHAKE_* event from the socket's monitor."""
    monitor = sock.get_monitor_socket(HANDSHAKE_FAILED | zmq.EVENT_HANDSHAKE_SUCCEEDED)
    try:
        sock.connect(endpoint)
        assert monitor.poll(HANDSHAKE_WAIT_MS), f"no handshake with {endpoint}"
        return recv_monitor_message(monitor)["event"]
    finally:
        sock.disable_monitor()
        monitor.close()


def test_only_key_holders_get_in(swarm: Swarm) -> None:
    key = new_swarm_key()
    swarm.env["SWARM_KEY"] = key
    files = [{"one.bin": random_bytes(300, 1 * MIB)}, {"two.bin": random_bytes(301, 300_000)}]
    port = str(swarm.start_tracker())
    for f in files:
        swarm.start_peer(f, quiet_s=60)
    late = swarm.start_peer({}, quiet_s=60)
    wait_for(lambda: {p.name for p in late.shared.iterdir()} == {"one.bin", "two.bin"}, 60,
             "the members to share their files")

    # Members can look at the swarm...
    status = json.loads(swarm_cmd("status", "127.0.0.1", port, "--once", "--json", key=key)
                        .stdout)
    endpoints = [p["endpoint"] for p in status["peers"]]
    assert len(endpoints) == 3
    listing = json.loads(swarm_cmd("ls", "127.0.0.1", port, "--json", key=key).stdout)
    digest = bytes.fromhex(listing["files"][0]["digest"])
    with zmq.Context() as ctx:
        member = socket_as(ctx, zmq.DEALER, key)
        member.connect(f"tcp://127.0.0.1:{port}")
        member.send_multipart(encode_frames(Hello(PROTOCOL_VERSION)))
        assert answered(member)
        reply, _ = decode(member.recv_multipart())
        assert isinstance(reply, HelloReply)
        pub_port = reply.pub_port
        member.close()

        # ...outsiders, with no key or another swarm's, cannot.
        news_files: dict[str, bytes] = {}
        for outsider_key in (None, new_swarm_key()):
            result = swarm_cmd("ls", "127.0.0.1", port, "--timeout-s", "1", key=outsider_key)
            assert result.returncode == 1 and "no answer" in result.stderr

            joiner = socket_as(ctx, zmq.DEALER, outsider_key)
            joiner.connect(f"tcp://127.0.0.1:{port}")
            joiner.send_multipart(encode_frames(Hello(PROTOCOL_VERSION)))
            assert not answered(joiner), "an outsider was answered by the tracker"

            # The outsider's subscription reaches the PUB socket and is turned
            # away there, before the news it must not hear is made.
            listener = socket_as(ctx, zmq.SUB, outsider_key)
            listener.setsockopt(zmq.SUBSCRIBE, b"")
            outcome = handshake(listener, f"tcp://127.0.0.1:{pub_port}")
            assert outcome & HANDSHAKE_FAILED, "an outsider's subscription was let in"
            name = f"news-{len(swarm.peers)}.txt"
            news_files[name] = f"fresh news {name}\n".encode()
            swarm.start_peer({name: news_files[name]}, quiet_s=60)
            swarm.wait_connects(len(swarm.peers))  # it joined: its file is news
            assert not answered(listener), "an outsider received the swarm's events"

            for endpoint in endpoints:
                fetcher = socket_as(ctx, zmq.DEALER, outsider_key)
                fetcher.connect(endpoint)
                fetcher.send_multipart(encode_frames(ChunkRequest(1, digest, 0, 128)))
                assert not answered(fetcher), f"an outsider got an answer from {endpoint}"
                fetcher.close()
            joiner.close()
            listener.close()

    everything = {**files[0], **files[1], **news_files}
    wait_for(lambda: {p.name for p in late.shared.iterdir()} == set(everything), 60,
             "the news to reach every member")
    for run in swarm.peers:
        run.proc.signal(signal.SIGTERM)
    assert swarm.wait_peers(20) == [0] * len(swarm.peers)
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, everything, peers=[late])
