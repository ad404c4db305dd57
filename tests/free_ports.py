"""Runs of free TCP ports, for tests of the fixed ports (tracker_port,
peer_port) that take a port and the ones after it."""

from __future__ import annotations

import random
import socket

# Below the range Linux draws ephemeral ports from (32768-60999), so a port
# found free here is not taken the next moment by some test's random port.
LOWEST, HIGHEST = 20_000, 32_000


def free_ports(count: int, host: str = "127.0.0.1", tries: int = 200) -> int:
    """The first of ``count`` consecutive ports nothing on ``host`` uses now."""
    rng = random.Random()
    for _ in range(tries):
        base = rng.randrange(LOWEST, HIGHEST - count)
        if all(_free(host, port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no run of {count} free ports found on {host}")


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
