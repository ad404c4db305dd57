"""A tracker that comes back: killed (SIGKILL) mid-transfer and started again
on its port (tracker_port) in its folder, with and without a swarm key.
Every running peer notices within a few heartbeats, joins the new tracker
with what it holds -- whole files as its offers, partial ones as the chunks
it brings -- and the swarm completes without any peer being restarted.

Each tracker's stdout is held to the contract on its own, for what it saw.
The figures (how long the swarm takes to go on) are printed; run with -s.
"""

from __future__ import annotations

import signal
import time

import pytest

from swarm.io.common.curve import new_swarm_key
from tests.e2e.harness import (
    Swarm,
    brought_chunks,
    check_restarted_swarm,
    pieces_stored,
    random_bytes,
    read_entries,
    wait_for,
)
from tests.free_ports import free_ports

MIB = 1 << 20
# Slow sources, so the transfer is under way for seconds when the tracker dies.
SLOW = {"SWARM_UPLOAD_LIMIT_BYTES_S": "1500000"}
DOWN_S = 1.5  # how long the tracker stays dead: shorter than tracker_grace_s (5 s here)


@pytest.mark.parametrize("keyed", [False, True], ids=["open", "keyed"])
def test_the_swarm_completes_when_the_tracker_comes_back(swarm: Swarm, keyed: bool) -> None:
    if keyed:
        swarm.env["SWARM_KEY"] = new_swarm_key()
    port = free_ports(4)
    big = {"big.bin": random_bytes(2301, 6 * MIB + 5)}
    other = {"other.bin": random_bytes(2302, 1 * MIB + 7)}
    expected = {**big, **other}
    swarm.start_tracker(args=["--port", str(port), "--events", "events.1.jsonl"])
    swarm.start_peer(big, quiet_s=2, env=SLOW)
    swarm.start_peer(other, quiet_s=2, env=SLOW)
    fetchers = [swarm.start_peer({}, quiet_s=2) for _ in range(2)]
    swarm.wait_connects(4)
    wait_for(lambda: all(pieces_stored(f.proc.cwd) >= 2 for f in fetchers), 60,
             "the fetchers to store pieces", poll_s=0.01)
    first = swarm.tracker
    assert first is not None
    dead_port_file = (first.cwd / "port.txt").stat().st_ino
    first.signal(signal.SIGKILL)
    assert first.wait(5) == -signal.SIGKILL
    time.sleep(DOWN_S)
    assert all(run.proc.popen.poll() is None for run in swarm.peers), "a peer left meanwhile"
    back_at = time.time()
    second = swarm.restart_tracker(args=["--port", str(port), "--events", "events.2.jsonl"])
    assert swarm.port == port  # the dead tracker's port.txt replaced, with the same port
    assert (second.cwd / "port.txt").stat().st_ino != dead_port_file
    assert (second.cwd / ".port.txt.lock").read_text().strip() == str(second.popen.pid)
    assert swarm.wait_peers(120) == [0] * 4
    done_at = time.time()
    assert swarm.stop_tracker() == 0
    entries = read_entries(second.cwd / "events.2.jsonl")
    check_restarted_swarm(swarm, expected, brought_chunks(entries))
    joins = [e["ts"] for e in entries if e["event"] == "join"]
    fetched = [e["ts"] for e in entries if e["event"] == "chunks" and not e["brought"]]
    assert len(joins) == 4, "every peer joined the new tracker once"
    assert fetched, "chunks were fetched after the tracker came back"
    print(f"\nFIGURES tracker back ({'keyed' if keyed else 'open'}): all 4 peers joined it "
          f"{max(joins) - back_at:.2f} s after its start; first fetched ACQUIRED "
          f"{min(fetched) - back_at:.2f} s after; swarm complete (every peer left) "
          f"{done_at - back_at:.2f} s after")
