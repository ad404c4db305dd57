"""End-to-end faults: peers killed with SIGKILL mid-transfer."""

from __future__ import annotations

import signal

from tests.e2e.harness import (
    ContractError,
    Swarm,
    check_swarm,
    parse_tracker,
    pieces_stored,
    random_bytes,
    wait_for,
)

SLOW = {"SWARM_UPLOAD_LIMIT_BYTES_S": "1000000"}  # a transfer of a few MiB takes seconds


def acquired_by_others(swarm: Swarm, brought: set[str]) -> int:
    """ACQUIRED lines so far (the tracker's stdout is written whole blocks)."""
    assert swarm.tracker is not None
    text = swarm.tracker.stdout()
    return sum(1 for line in text.splitlines() if " ACQUIRED: " in line
               and line.rsplit(" ", 1)[-1] not in brought)


def has_acquired(tracker_stdout: str, peer_id: int, name: str) -> bool:
    try:
        return (peer_id, name) in parse_tracker(tracker_stdout).acquired
    except ContractError:  # a block half-written
        return False


def test_sigkill_a_seeder_that_is_not_the_only_holder(swarm: Swarm) -> None:
    data = {"big.bin": random_bytes(60, 4 * 1024 * 1024)}
    swarm.start_tracker()
    doomed = swarm.start_peer(data, env=SLOW)
    survivor = swarm.start_peer(data, env=SLOW)
    fetchers = [swarm.start_peer({}), swarm.start_peer({})]
    assert swarm.tracker is not None
    tracker = swarm.tracker
    # Every peer in, the doomed seeder among them, and the transfer under way.
    wait_for(lambda: tracker.stdout().count(" CONNECT: ") == 4
             and acquired_by_others(swarm, set()) > 100, 30, "transfer to start")
    doomed.proc.signal(signal.SIGKILL)
    codes = swarm.wait_peers(90, [survivor, *fetchers])
    assert codes == [0, 0, 0]
    assert doomed.proc.wait(1) == -signal.SIGKILL
    assert swarm.stop_tracker() == 0
    out = check_swarm(swarm, data, peers=[survivor, *fetchers])
    log = parse_tracker(swarm.tracker.stdout()) if swarm.tracker else out.tracker
    doomed_ids = set(log.connects) - set(out.peer_ids.values())
    assert len(doomed_ids) == 1
    (doomed_id,) = doomed_ids
    assert log.disconnects[doomed_id] == []  # expired: a DISCONNECT block all the same
    assert swarm.tracker is not None
    assert f"peer {doomed_id} expired" in swarm.tracker.stderr()


def test_sigkill_a_downloader_mid_transfer(swarm: Swarm) -> None:
    data = {"big.bin": random_bytes(61, 12 * 1024 * 1024)}  # 12 pieces
    swarm.start_tracker()
    seeder = swarm.start_peer(data, env=SLOW)
    doomed = swarm.start_peer({})
    joined = swarm.wait_connects(2)
    (doomed_id,) = [peer_id for peer_id, offers in joined.items() if not offers]
    other = swarm.start_peer({})
    assert swarm.tracker is not None
    tracker = swarm.tracker
    # Pieces written, and some of them reported: the tracker has printed them.
    wait_for(lambda: pieces_stored(doomed.proc.cwd) >= 4
             and has_acquired(tracker.stdout(), doomed_id, "big.bin"),
             30, "the doomed peer to store and report pieces")
    doomed.proc.signal(signal.SIGKILL)
    codes = swarm.wait_peers(90, [seeder, other])
    assert codes == [0, 0]
    assert swarm.stop_tracker() == 0
    out = check_swarm(swarm, data, peers=[seeder, other])
    assert set(out.tracker.connects) - set(out.peer_ids.values()) == {doomed_id}
    assert out.tracker.disconnects[doomed_id] == []
    assert out.tracker.acquired.get((doomed_id, "big.bin")), "it had acquired some chunks"
