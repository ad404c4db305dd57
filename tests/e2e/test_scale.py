"""Many peers on one machine: 64 peers, each with a file of its own."""

from __future__ import annotations

import time

from tests.e2e.harness import Swarm, check_swarm, random_bytes

PEERS = 64
SIZE = 256 * 1024


def test_sixty_four_peers(swarm: Swarm) -> None:
    files = [{f"p{i:02d}.bin": random_bytes(500 + i, SIZE)} for i in range(PEERS)]
    swarm.start_tracker()
    started = time.monotonic()
    for f in files:
        swarm.start_peer(f, quiet_s=2)
    codes = swarm.wait_peers(400)
    elapsed = time.monotonic() - started
    assert codes == [0] * PEERS
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, {k: v for f in files for k, v in f.items()})
    print(f"\nFIGURES {PEERS} peers x {SIZE // 1024} KiB: all exited {elapsed:.1f} s after "
          "the first start")
