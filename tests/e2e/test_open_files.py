"""The open-file limit: raised where the system allows, and said plainly when
it runs out (each connection to the tracker takes one of its descriptors)."""

from __future__ import annotations

import resource

import pytest
import zmq

from tests.e2e.harness import Swarm, check_swarm, random_bytes, wait_for

INFO = {"SWARM_LOG_LEVEL": "info"}


def test_the_soft_limit_is_raised_to_the_hard_one(swarm: Swarm) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard open-file limit here is {hard}: nothing to raise to")
    raised_to = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    swarm.start_tracker(ulimit="-S -n 256", env=INFO)
    assert swarm.tracker is not None
    tracker = swarm.tracker
    wait_for(lambda: "room for about" in tracker.stderr(), 10, "the start-up line")
    assert f"open-file limit raised from 256 to {raised_to}" in tracker.stderr()
    assert f"open-file limit {raised_to}: room for about {(raised_to - 32) // 2} peers" \
        in tracker.stderr()
    assert swarm.stop_tracker() == 0


def test_a_tracker_out_of_descriptors_says_so_and_serves_again_when_they_return(
        swarm: Swarm) -> None:
    swarm.start_tracker(ulimit="-n 48", env=INFO)  # soft and hard: nothing to raise
    assert swarm.tracker is not None
    tracker = swarm.tracker
    ctx = zmq.Context()
    crowd = []
    try:
        for _ in range(40):  # more connections than 48 descriptors hold
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(f"tcp://127.0.0.1:{swarm.port}")
            crowd.append(sock)
        wait_for(lambda: "too many open files" in tracker.stderr(), 10, "the error")
    finally:
        for sock in crowd:
            sock.close()
        ctx.term()
    errors = [line for line in tracker.stderr().splitlines() if " ERROR " in line]
    # Said once with what to do (libzmq retries each refused connection at
    # once: those retries are not each a line).
    assert len(errors) == 1, errors
    assert ("cannot accept a connection on the request port: too many open files (limit 48: "
            "room for about 8 peers). Raise the limit (`ulimit -n`, or LimitNOFILE= for a "
            "service) and restart") in errors[0]
    # The crowd gone, a real peer joins, and the swarm runs as ever.
    files = {"a.bin": random_bytes(71, 3000)}
    swarm.start_peer(files)
    assert swarm.wait_peers(30) == [0]
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, files)
