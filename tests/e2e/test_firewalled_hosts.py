"""The recipe of docs/operations/firewalled-hosts.md, run as the page writes
it: four hosts made of network namespaces on one bridge -- the tracker's
and three peers' --, on each the page's nftables rules, which drop every
inbound TCP port but the ones the swarm was told to use; the swarm key; the
dashboard asked from a peer's host; the tracker killed with SIGKILL
mid-transfer and started again with the same command.  Every file at every
peer byte for byte; each tracker's stdout, and each peer's, held to the
contract.  The page owns the commands: this test takes its blocks (marked
``<!-- recipe: NAME -->``) and changes nothing in them but the tracker's
address, 10.0.0.1 on the page.

Skipped, with the reason, where namespaces or nftables cannot be made.
The figures are printed; run with -s."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    REPO,
    TEST_ENV,
    PeerRun,
    Proc,
    Swarm,
    check_restarted_swarm,
    make_files,
    parse_tracker,
    pieces_stored,
    random_bytes,
    wait_for,
)
from tests.e2e.netns import Topology, in_namespace, run, why_unavailable

RECIPE = REPO / "docs" / "operations" / "firewalled-hosts.md"
BLOCK_RE = re.compile(r"<!-- recipe: ([a-z-]+) -->\n```sh\n(.*?)```\n", re.DOTALL)
BLOCKS = {"key", "tracker-firewall", "tracker", "peer-firewall", "peer", "dashboard"}
PAGE_TRACKER = re.compile(r"\b10\.0\.0\.1\b")  # the tracker's address on the page
TRACKER_PORT, DASHBOARD_PORT = 40001, 8080  # the page's
CLOSED_PORT = 40010  # a port the page's rules do not open
MIB = 1 << 20
RATE_MBIT = 8  # each host's uplink: the transfer takes seconds, so the tracker dies mid-way
DOWN_S = 1.0  # how long the tracker stays dead: within tracker_grace_s (5 s in the tests)
COMMAND_TIMEOUT_S = 30


def recipe(tracker_ip: str) -> dict[str, str]:
    """The page's command blocks, by name, with the tracker's address of
    these hosts in place of the page's."""
    blocks = {name: PAGE_TRACKER.sub(tracker_ip, text)
              for name, text in BLOCK_RE.findall(RECIPE.read_text(encoding="utf-8"))}
    assert set(blocks) == BLOCKS, f"the page's recipe blocks are {sorted(blocks)}"
    return blocks


@pytest.fixture
def topology() -> Iterator[Topology]:
    reason = why_unavailable()
    if reason is None and shutil.which("nft") is None:
        reason = "nftables (the nft command) is not installed"
    if reason is not None:
        pytest.skip(f"firewalled hosts test skipped: {reason}")
    net = Topology.create()
    try:
        probe = run("ip", "netns", "exec", net.switch, "sh", "-c",
                    "nft add table inet swarmprobe && nft delete table inet swarmprobe",
                    check=False)
        if probe.returncode != 0:
            pytest.skip(f"firewalled hosts test skipped: nftables cannot be used here: "
                        f"{probe.stderr.strip()}")
        yield net
    finally:
        net.destroy()


def swarm_command(folder: Path) -> dict[str, str]:
    """An environment whose ``swarm`` is this checkout's, as the page's
    ``swarm`` is the installed command."""
    folder.mkdir()
    shim = folder / "swarm"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}${{PYTHONPATH:+:$PYTHONPATH}}" '
                    f'exec "{sys.executable}" -m swarm "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return {"PATH": f"{folder}:{os.environ['PATH']}"}


def run_block(ns: str, block: str, cwd: Path, env: dict[str, str]) -> str:
    """A block that ends by itself, in host ``ns``; its stdout."""
    result = subprocess.run(in_namespace(ns, ["sh", "-ec", block]), cwd=cwd,
                            env={**os.environ, **TEST_ENV, **env}, capture_output=True,
                            text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    assert result.returncode == 0, f"{block}\nexit {result.returncode}: {result.stderr}"
    return result.stdout


def main_process(proc: Proc) -> int:
    """The pid of what a block's shell runs last (swarm's own process)."""
    children = Path(f"/proc/{proc.popen.pid}/task/{proc.popen.pid}/children")
    found: list[int] = []

    def started() -> bool:
        found[:] = [int(pid) for pid in children.read_text().split()]
        return bool(found)

    wait_for(started, 10, f"{proc.name}'s command to start")
    return found[0]


def reaches(ns: str, host: str, port: int) -> bool:
    """Can host ``ns`` open a TCP connection to ``host``:``port`` (2 s)?"""
    probe = ("import socket, sys\n"
             f"try: socket.create_connection(({host!r}, {port}), timeout=2)\n"
             "except OSError: sys.exit(1)\n")
    return subprocess.run(in_namespace(ns, [sys.executable, "-c", probe]), timeout=10,
                          check=False).returncode == 0


def test_firewalled_hosts(swarm: Swarm, topology: Topology, tmp_path: Path) -> None:
    tracker_ns, tracker_ip = topology.add_host("tr", 1, RATE_MBIT)
    hosts = [topology.add_host(f"h{i}", 10 + i, RATE_MBIT) for i in (1, 2, 3)]
    blocks = recipe(tracker_ip)
    env = swarm_command(tmp_path / "bin")
    # Nine and seven 1 MiB pieces: both fetchers are still mid-way when the tracker dies.
    files = [{"alpha.bin": random_bytes(2501, 8 * MIB + 3)},
             {"beta.bin": random_bytes(2502, 6 * MIB + 1)}, {}]
    expected = {k: v for f in files for k, v in f.items()}

    # The tracker's host: the key, the firewall, the tracker.
    tracker_dir = swarm.root / "tracker"
    tracker_dir.mkdir(parents=True)
    run_block(tracker_ns, blocks["key"], tracker_dir, env)
    run_block(tracker_ns, blocks["tracker-firewall"], tracker_dir, env)
    tracker = swarm.launch("tracker", in_namespace(tracker_ns, ["sh", "-ec", blocks["tracker"]]),
                           tracker_dir, env)
    swarm.tracker = tracker
    swarm.trackers.append(tracker)
    wait_for(lambda: "tracker listening on" in tracker.stderr(), 20, "the tracker to listen")
    assert (tracker_dir / "port.txt").read_text().strip() == str(TRACKER_PORT)

    # The peers' hosts: the key (copied), the firewall, a peer each.
    for index, ((ns, _ip), offered) in enumerate(zip(hosts, files, strict=True), 1):
        folder = swarm.root / f"peer{index}"
        make_files(folder / "Shared", offered)
        shutil.copy(tracker_dir / "swarm.key", folder / "swarm.key")
        run_block(ns, blocks["peer-firewall"], folder, env)
        proc = swarm.launch(folder.name, in_namespace(ns, ["sh", "-ec", blocks["peer"]]),
                            folder, env)
        swarm.peers.append(PeerRun(proc, dict(offered)))
    swarm.wait_connects(3)

    # Only the page's ports come through: a port it does not open is dropped.
    listener = swarm.launch("listener", in_namespace(tracker_ns, [
        sys.executable, "-c", "import socket, time\n"
        f"s = socket.create_server(('0.0.0.0', {CLOSED_PORT})); time.sleep(60)"]),
        swarm.root / "listener")
    wait_for(lambda: reaches(tracker_ns, "127.0.0.1", CLOSED_PORT), 10, "the listener")
    first_peer_ns = hosts[0][0]
    assert not reaches(first_peer_ns, tracker_ip, CLOSED_PORT), "the firewall let it through"
    assert reaches(first_peer_ns, tracker_ip, TRACKER_PORT)
    listener.kill_group()

    # The dashboard, from a peer's host, through the firewall, with the key's token.
    status = json.loads(run_block(hosts[2][0], blocks["dashboard"], swarm.root / "peer3", env))
    assert status["totals"]["peers"] == 3

    # The tracker killed mid-transfer, and started again with the same command.
    fetchers = [swarm.peers[0], swarm.peers[2]]  # beta's and nobody's: both lack something
    wait_for(lambda: all(pieces_stored(run.proc.cwd) >= 2 for run in fetchers), 60,
             "the transfer to be under way", poll_s=0.01)
    os.kill(main_process(tracker), signal.SIGKILL)
    tracker.wait(10)
    assert not any(pieces_stored(run.proc.cwd) == 0 for run in fetchers)
    time.sleep(DOWN_S)
    assert all(run.proc.popen.poll() is None for run in swarm.peers), "a peer left meanwhile"
    back_at = time.monotonic()
    again = swarm.launch("tracker", in_namespace(tracker_ns, ["sh", "-ec", blocks["tracker"]]),
                         tracker_dir, env, streams=".2")
    swarm.tracker = again
    swarm.trackers.append(again)

    def rejoined() -> bool:
        try:
            return len(parse_tracker(again.stdout()).connects) == 3
        except AssertionError:  # a block half-written
            return False

    wait_for(rejoined, 20, "every peer to join the tracker started again", poll_s=0.01)
    rejoined_s = time.monotonic() - back_at
    assert swarm.wait_peers(120) == [0, 0, 0]
    done_s = time.monotonic() - back_at
    os.kill(main_process(again), signal.SIGTERM)
    assert again.wait(15) == 0
    check_restarted_swarm(swarm, expected)
    for run_ in swarm.peers:
        assert "Traceback" not in run_.proc.stderr()
    print(f"\nFIGURES firewalled hosts: 3 peers joined the tracker started again "
          f"{rejoined_s:.2f} s after it started; every peer left {done_s:.2f} s after "
          f"(S = 10 s) [{'; '.join(topology.notes) or 'tbf links'}]")
