"""Hole punching on real network stacks: a public tracker and peers each
behind a NAT router of its own (network namespaces, nftables or iptables
masquerade), so no peer can be reached from outside.  The tracker tells two
peers that cannot reach each other to connect to each other at once (TCP
simultaneous open); it relays no data.  Skipped, with the reason, where the
machine does not allow namespaces."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.e2e.harness import PeerRun, Swarm, check_swarm, random_bytes
from tests.e2e.netns import NetnsUnavailable, Topology, why_unavailable

RATE_MBIT = 80
PUNCHED = re.compile(r"hole punched: connected to peer \d+")


@pytest.fixture
def topology() -> Iterator[Topology]:
    reason = why_unavailable()
    if reason is not None:
        pytest.skip(f"hole punching tests skipped: {reason}")
    net = Topology.create()
    try:
        yield net
    finally:
        net.destroy()


def hidden(net: Topology, name: str, router_index: int,
           random_ports: bool = False) -> str:
    try:
        ns, _ = net.add_hidden_host(name, router_index, RATE_MBIT, random_ports=random_ports,
                                    drop_unsolicited=True)
    except NetnsUnavailable as exc:
        pytest.skip(f"hole punching tests skipped: {exc}")
    return ns


def punches(run: PeerRun) -> int:
    return len(PUNCHED.findall(run.proc.stderr()))


def test_three_peers_each_behind_its_own_nat_share_everything(swarm: Swarm,
                                                               topology: Topology) -> None:
    tracker_ns, tracker_ip = topology.add_host("tr", 1, RATE_MBIT)
    nats = [hidden(topology, f"n{i}", 200 + i) for i in range(1, 4)]
    files = [{f"behind-nat-{i}.bin": random_bytes(500 + i, 300_000 + 77 * i)}
             for i in range(1, 4)]
    swarm.start_tracker(netns=tracker_ns)
    started = time.monotonic()
    runs = [swarm.start_peer(f, quiet_s=2, netns=ns, tracker_host=tracker_ip)
            for ns, f in zip(nats, files, strict=True)]
    assert swarm.wait_peers(50) == [0, 0, 0]
    elapsed = time.monotonic() - started
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, {k: v for f in files for k, v in f.items()})
    assert swarm.tracker is not None
    tracker_err = swarm.tracker.stderr()
    for i in range(1, 4):  # each seen at its own router, never at its private address
        assert f"joined from tcp://10.77.0.{200 + i}:" in tracker_err
    assert "both behind NAT; telling both to punch" in tracker_err
    ends = sum(punches(run) for run in runs)
    # Every pair met over a punched link (each side logs its own end of it).
    assert all(punches(run) >= 2 for run in runs), [run.proc.stderr() for run in runs]
    asked = tracker_err.count("telling both to punch")
    print(f"\nFIGURES hole punching: 3 peers each behind its own NAT, all exited "
          f"{elapsed:.2f} s after the first start; {asked} punch(es) ordered, {ends // 2} "
          f"succeeded ({ends} link ends came up) [{'; '.join(topology.notes)}]")


def test_a_peer_behind_a_symmetric_nat_is_reached_through_a_public_peer(
        swarm: Swarm, topology: Topology) -> None:
    """A NAT that draws a new public port for every connection (nftables
    ``fully-random``) defeats punching: its peer says so once, and its files
    and the other hidden peer's still cross, through the public peer, which
    can reach both (directly, or by their connecting out to it)."""
    tracker_ns, tracker_ip = topology.add_host("tr", 1, RATE_MBIT)
    public_ns, _ = topology.add_host("pub", 11, RATE_MBIT)
    steady_ns = hidden(topology, "ns", 201)
    random_ns = hidden(topology, "nr", 202, random_ports=True)
    files = [{"public.bin": random_bytes(601, 200_000)},
             {"steady-nat.bin": random_bytes(602, 250_001)},
             {"symmetric-nat.bin": random_bytes(603, 230_003)}]
    swarm.start_tracker(netns=tracker_ns)
    started = time.monotonic()
    runs = [swarm.start_peer(f, quiet_s=2, netns=ns, tracker_host=tracker_ip)
            for ns, f in zip((public_ns, steady_ns, random_ns), files, strict=True)]
    assert swarm.wait_peers(50) == [0, 0, 0]
    elapsed = time.monotonic() - started
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, {k: v for f in files for k, v in f.items()})
    symmetric_err = runs[2].proc.stderr()
    assert symmetric_err.count("(symmetric NAT): hole punching cannot work") == 1
    assert swarm.tracker is not None
    tracker_err = swarm.tracker.stderr()
    # Only the steady NAT's peer offered to punch; nobody was told to.
    assert "can punch from public port" in tracker_err
    assert "telling both to punch" not in tracker_err
    assert all(punches(run) == 0 for run in runs)
    print(f"\nFIGURES symmetric NAT: a public peer, one behind a steady NAT and one behind "
          f"fully-random, all files everywhere {elapsed:.2f} s after the first start "
          f"[{'; '.join(topology.notes)}]")


def test_with_a_swarm_key_two_peers_behind_nat_punch_a_curve_link(swarm: Swarm,
                                                                   topology: Topology) -> None:
    """CurveZMQ needs a server side, and both sides of a punched link
    connect: the lower id is the link's CURVE server (a connecting socket
    set up as one), and the handshake goes through."""
    tracker_ns, tracker_ip = topology.add_host("tr", 1, RATE_MBIT)
    nats = [hidden(topology, f"k{i}", 210 + i) for i in (1, 2)]
    files = [{f"keyed-{i}.bin": random_bytes(700 + i, 200_000 + 3 * i)} for i in (1, 2)]
    swarm.env["SWARM_KEY"] = "5a" * 32
    swarm.start_tracker(netns=tracker_ns)
    started = time.monotonic()
    runs = [swarm.start_peer(f, quiet_s=2, netns=ns, tracker_host=tracker_ip)
            for ns, f in zip(nats, files, strict=True)]
    assert swarm.wait_peers(50) == [0, 0]
    elapsed = time.monotonic() - started
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, {k: v for f in files for k, v in f.items()})
    assert all(punches(run) == 1 for run in runs), [run.proc.stderr() for run in runs]
    print(f"\nFIGURES hole punching with a swarm key: 2 peers behind NAT, all exited "
          f"{elapsed:.2f} s after the first start")
