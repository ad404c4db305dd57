"""Across hosts: the tracker and the peers in network namespaces of their own,
joined by a bridge, with bandwidth limits (tc tbf) and, where the kernel has
netem, delay and loss; and a peer behind NAT.  Skipped, with the reason, where
the machine does not allow namespaces."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.harness import Swarm, check_swarm, random_bytes
from tests.e2e.netns import NetnsUnavailable, Topology, why_unavailable

MIB = 1 << 20
RATE_MBIT = 80  # each host's uplink
DELAY_MS = 5
LOSS_PERCENT = 0.5


@pytest.fixture
def topology() -> Iterator[Topology]:
    reason = why_unavailable()
    if reason is not None:
        pytest.skip(f"network namespace tests skipped: {reason}")
    net = Topology.create()
    try:
        yield net
    finally:
        net.destroy()


def say(net: Topology, text: str) -> None:
    notes = "; ".join(net.notes) or "netem delay and loss in use"
    print(f"\n{text} [{notes}]")


def test_peers_on_separate_hosts_behind_limited_links(swarm: Swarm, topology: Topology) -> None:
    tracker_ns, tracker_ip = topology.add_host("tr", 1, RATE_MBIT, DELAY_MS, LOSS_PERCENT)
    hosts = [topology.add_host(f"h{i}", 10 + i, RATE_MBIT, DELAY_MS, LOSS_PERCENT)
             for i in range(1, 4)]
    files = [{f"from-host-{i}.bin": random_bytes(400 + i, 2 * MIB + i)} for i in range(1, 4)]
    swarm.start_tracker(netns=tracker_ns)
    started = time.monotonic()
    for (ns, _ip), f in zip(hosts, files, strict=True):
        swarm.start_peer(f, quiet_s=2, netns=ns, tracker_host=tracker_ip)
    assert swarm.wait_peers(180) == [0, 0, 0]
    elapsed = time.monotonic() - started
    assert swarm.stop_tracker() == 0
    out = check_swarm(swarm, {k: v for f in files for k, v in f.items()})
    assert swarm.tracker is not None
    # Each peer is announced at its own host's address, the one the tracker saw.
    for _ns, ip in hosts:
        assert f"joined from tcp://{ip}:" in swarm.tracker.stderr()
    say(topology, f"FIGURES 3 hosts x 2 MiB over {RATE_MBIT} Mbit/s links: all exited "
        f"{elapsed:.2f} s after the first start; peers {sorted(out.peer_ids.values())}")


def test_a_swarm_over_ipv6(swarm: Swarm, topology: Topology) -> None:
    """The tracker on ::1 and peers told to find it there (a host of its
    own, so ::1 is the test's): every socket a peer opens to the tracker
    must take IPv6, or the peer never hears from it."""
    host = topology.add_loopback_host("v6")
    files = [{"one.bin": random_bytes(420, MIB + 3)}, {"two.bin": random_bytes(421, 300_000)}]
    swarm.start_tracker(netns=host, env={"SWARM_BIND_ADDRESS": "::1"})
    for f in files:
        swarm.start_peer(f, quiet_s=2, netns=host, tracker_host="::1")
    assert swarm.wait_peers(60) == [0, 0]
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, {k: v for f in files for k, v in f.items()})
    assert swarm.tracker is not None
    assert "joined from tcp://[::1]:" in swarm.tracker.stderr()


def test_a_peer_behind_nat_gets_every_file_and_gives_its_own(swarm: Swarm,
                                                              topology: Topology) -> None:
    tracker_ns, tracker_ip = topology.add_host("tr", 1, RATE_MBIT)
    public = [topology.add_host(f"h{i}", 10 + i, RATE_MBIT) for i in (1, 2)]
    try:
        hidden_ns, _hidden_ip = topology.add_hidden_host("nat", 254, RATE_MBIT)
    except NetnsUnavailable as exc:
        pytest.skip(f"NAT test skipped: {exc}")
    files = [{"public-1.bin": random_bytes(410, 1 * MIB)},
             {"public-2.bin": random_bytes(411, 700_000)},
             {"hidden.bin": random_bytes(412, 1 * MIB + 7)}]
    swarm.start_tracker(netns=tracker_ns)
    started = time.monotonic()
    runs = [swarm.start_peer(f, quiet_s=3, netns=ns, tracker_host=tracker_ip)
            for (ns, _), f in zip(public, files[:2], strict=True)]
    hidden = swarm.start_peer(files[2], quiet_s=3, netns=hidden_ns, tracker_host=tracker_ip)
    assert swarm.wait_peers(180) == [0, 0, 0]
    elapsed = time.monotonic() - started
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, {k: v for f in files for k, v in f.items()})
    # The public peers could not connect to the hidden one and had the
    # connection reversed; the hidden peer connected out to serve them.
    assert any("reverse the connection" in run.proc.stderr() for run in runs)
    assert "connecting out to serve it" in hidden.proc.stderr()
    assert swarm.tracker is not None
    assert "asking peer" in swarm.tracker.stderr()
    # The tracker saw the hidden peer at its router's address, not its own.
    assert "joined from tcp://10.77.0.254:" in swarm.tracker.stderr()
    say(topology, f"FIGURES NAT: a hidden peer and two public ones, all files everywhere "
        f"{elapsed:.2f} s after the first start")
