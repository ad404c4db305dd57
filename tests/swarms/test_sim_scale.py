"""What one peer costs as the swarm widens, planned past this machine.

The simulation (real codec, fake clock) runs swarms of 100, 300 and 1,000
peers, all starting at once, four of them holding one small file each.  Per
peer, what it receives -- messages and bytes -- must stay the same whatever
the width: nothing a peer hears grows with the number of peers (holder
answers are bounded, it follows only the file topic, the tracker tells it
when it may leave).  The tracker handles requests in proportion to the
peers, and no more: its requests per peer stay flat too.

One thing does grow, and the test shows it rather than hides it: a file's
first holder, when every peer wants the file at the same moment, receives a
request from each of them (a flash crowd; nobody else holds it yet).  The
figures are printed for the docs (docs/performance.md).
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass

import pytest

from tests.swarms.sim import Simulation

WIDTHS = (100, 300, 1000)
FILES = 4
FILE_BYTES = 3_000
FLAT = 1.5  # per-peer figures at the widest swarm, over those at the narrowest


@dataclass
class Cost:
    peers: int
    messages: float  # mean messages received per peer
    messages_max: int  # the most any peer that started empty received
    seeder_messages: float  # mean received by the peers that started with a file
    kib: float  # mean KiB received per peer (file data included)
    tracker_per_peer: float  # requests the tracker handled, per peer
    sim_s: float  # simulated seconds until every peer had left

    def line(self) -> str:
        return (f"{self.peers:>6} peers: {self.messages:6.1f} messages/peer (max "
                f"{self.messages_max}; first holders {self.seeder_messages:.0f}), "
                f"{self.kib:6.1f} KiB/peer, tracker "
                f"{self.tracker_per_peer:5.1f} requests/peer, done at {self.sim_s:4.1f} s")


def run_swarm(peers: int) -> Cost:
    rng = random.Random(peers)
    files = {f"f{i}.bin": rng.randbytes(FILE_BYTES) for i in range(FILES)}
    sim = Simulation(seed=peers)
    for index in range(peers):
        owned = {f"f{index}.bin": files[f"f{index}.bin"]} if index < FILES else {}
        sim.add_peer(owned, quiet_s=1.0)
    sim.run(sim.all_done, limit_s=120)
    for peer in sim.peers:
        assert peer.state is not None and peer.state.exit_code == 0
        assert peer.store.shared == files, f"peer {peer.index} holds every file, byte for byte"
    counts = [sim.received[p.index] for p in sim.peers]
    return Cost(peers, statistics.mean(counts), max(counts[FILES:]),
                statistics.mean(counts[:FILES]),
                statistics.mean(sim.received_bytes[p.index] for p in sim.peers) / 1024,
                sim.tracker_handled / peers, sim.now_s)


@pytest.fixture(scope="module")
def costs() -> list[Cost]:
    found = [run_swarm(n) for n in WIDTHS]
    print("\nFIGURES per-peer cost as the swarm widens (simulated):")
    for cost in found:
        print("  " + cost.line())
    return found


def test_what_each_peer_receives_stays_flat_as_the_swarm_widens(costs: list[Cost]) -> None:
    narrow, wide = costs[0], costs[-1]
    assert wide.messages <= FLAT * narrow.messages, [c.line() for c in costs]
    assert wide.kib <= FLAT * narrow.kib, [c.line() for c in costs]
    # No peer that started empty pays for the width (an early holder named to everyone).
    assert wide.messages_max <= FLAT * narrow.messages_max, [c.line() for c in costs]


def test_a_first_holder_in_a_flash_crowd_hears_from_every_peer(costs: list[Cost]) -> None:
    for cost in costs:
        assert cost.peers - FILES < cost.seeder_messages <= cost.peers + 4 * cost.messages


def test_the_tracker_handles_a_flat_number_of_requests_per_peer(costs: list[Cost]) -> None:
    narrow, wide = costs[0], costs[-1]
    assert wide.tracker_per_peer <= FLAT * narrow.tracker_per_peer, [c.line() for c in costs]
