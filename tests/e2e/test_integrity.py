"""End-to-end integrity and faults: killed seeders, corrupting and slow
peers, resume after SIGKILL, lost events, a lost tracker.

Figures (recovery time, chunks fetched twice) are printed, never asserted;
run with ``-s`` to see them.
"""

from __future__ import annotations

import re
import signal
import time

import pytest

from swarm.protocol.chunks import Layout
from tests.e2e.harness import (
    TEST_ENV,
    PeerRun,
    Swarm,
    brought_chunks,
    check_swarm,
    chunks_of,
    parse_shutdown,
    parse_tracker,
    pieces_stored,
    random_bytes,
    read_entries,
    shared_contents,
    wait_for,
)

MIB = 1 << 20
SLOW_SEED = {"SWARM_UPLOAD_LIMIT_BYTES_S": "1000000"}
SUMMARY_RE = re.compile(r"summary: peer (\d+) received (\d+) pieces \((\d+) chunks\); "
                        r"fetched twice (\d+) chunks; bad pieces (\d+); timeouts (\d+); "
                        r"end-game duplicates (\d+); banned (.*)")


def summary(run: PeerRun) -> dict[str, str]:
    m = SUMMARY_RE.search(run.proc.stderr())
    assert m is not None, f"no summary on {run.proc.name}'s stderr"
    keys = ("peer", "pieces", "chunks", "twice", "bad", "timeouts", "duplicates", "banned")
    return dict(zip(keys, m.groups(), strict=True))


def pieces_saved(run: PeerRun, complete_pieces: int = 0) -> int:
    """Pieces a peer has stored: in its partial files, or all of them once
    the file is complete (the state is removed then)."""
    if complete_pieces and any(run.shared.iterdir()):
        return complete_pieces
    return pieces_stored(run.proc.cwd)


def all_hold(runs: list[PeerRun], names: set[str]) -> bool:
    return all(names <= {p.name for p in run.shared.iterdir()} for run in runs)


@pytest.mark.parametrize("moment", [0.1, 0.5, 0.9])
def test_sigkill_seeder_at_several_moments(swarm: Swarm, moment: float) -> None:
    data = {"big.bin": random_bytes(90, 4 * MIB)}
    pieces = Layout.for_size(4 * MIB).pieces
    swarm.start_tracker()
    doomed = swarm.start_peer(data, env=SLOW_SEED)
    survivor = swarm.start_peer(data, env=SLOW_SEED)
    fetchers = [swarm.start_peer({}), swarm.start_peer({})]
    wait_for(lambda: sum(pieces_saved(f, pieces) for f in fetchers) >= 2 * moment * pieces,
             60, f"fetchers to hold {moment:.0%}", poll_s=0.01)
    doomed.proc.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: all_hold(fetchers, {"big.bin"}), 60, "the survivors to finish")
    recovered_s = time.monotonic() - killed_at
    assert swarm.wait_peers(60, [survivor, *fetchers]) == [0, 0, 0]
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, data, peers=[survivor, *fetchers])
    twice = sum(int(summary(f)["twice"]) for f in fetchers)
    print(f"\nFIGURES seeder killed at {moment:.0%}: survivors complete {recovered_s:.2f} s "
          f"after the kill; chunks fetched twice: {twice}")


def test_corrupting_peer_is_caught_and_banned(swarm: Swarm) -> None:
    data = {"x.bin": random_bytes(91, 8 * MIB)}  # 8 pieces: enough lies to be banned for
    swarm.start_tracker()
    # A slow seeder: the fetchers ask the double for most pieces, again and again.
    seeder = swarm.start_peer(data, env={"SWARM_UPLOAD_LIMIT_BYTES_S": "2000000"})
    double = swarm.start_double("corrupt", "liar", data)
    swarm.wait_connects(2)  # the seeder and the double
    fetchers = [swarm.start_peer({}), swarm.start_peer({})]
    assert swarm.wait_peers(60, [seeder, *fetchers]) == [0, 0, 0]
    for fetcher in fetchers:
        assert shared_contents(fetcher.shared) == data  # no wrong byte anywhere
        assert not list((fetcher.proc.cwd / ".swarm").rglob("*.part"))
    bad_answers = sum(1 for line in (double.cwd / "served.log").read_text().splitlines()
                      if line.endswith(" bad"))
    assert bad_answers > 0, "the double was asked and lied"
    assert swarm.tracker is not None
    log = parse_tracker(swarm.tracker.stdout())
    seeder_id, _ = parse_shutdown(seeder.proc.stdout())
    (double_id,) = [p for p, offers in log.connects.items() if offers and p != seeder_id]
    assert log.connects[double_id] == [("x.bin", chunks_of(8 * MIB))]
    caught = [f for f in fetchers if int(summary(f)["bad"]) > 0]
    assert caught, "somebody received bad data and caught it"
    for fetcher in caught:
        assert f"peer {double_id} sent bad data" in fetcher.proc.stderr()
    banned = [f for f in fetchers if f"peer {double_id} banned" in f.proc.stderr()]
    assert banned, "the double was banned"
    assert f"reports peer {double_id}" in swarm.tracker.stderr()
    twice = sum(int(summary(f)["twice"]) for f in fetchers)
    print(f"\nFIGURES corrupt double: {bad_answers} bad answers, "
          f"{sum(int(summary(f)['bad']) for f in fetchers)} bad pieces caught, "
          f"banned by {len(banned)} of 2 fetchers; chunks fetched twice: {twice}")


def test_restart_after_sigkill_fetches_only_the_rest(swarm: Swarm) -> None:
    data = {"big.bin": random_bytes(92, 4 * MIB)}
    total_chunks = chunks_of(4 * MIB)
    pieces = Layout.for_size(4 * MIB).pieces
    swarm.start_tracker(args=["--events", "events.jsonl"])
    seeder = swarm.start_peer(data, env=SLOW_SEED, quiet_s=3)
    fetcher = swarm.start_peer({})
    wait_for(lambda: pieces_saved(fetcher) >= pieces // 2, 60, "half the file", poll_s=0.01)
    fetcher.proc.signal(signal.SIGKILL)
    assert fetcher.proc.wait(5) == -signal.SIGKILL
    assert list((fetcher.proc.cwd / ".swarm").rglob("*.part")), "partial data survives"
    assert not (fetcher.shared / "big.bin").exists()
    killed_at = time.monotonic()
    again = swarm.restart_peer(fetcher)
    assert swarm.wait_peers(60, [seeder, again]) == [0, 0]
    assert swarm.stop_tracker() == 0
    out = check_swarm(swarm, data, peers=[seeder, again])
    new_id = out.peer_ids[again.proc.name]
    brought = brought_chunks(read_entries(swarm.root / "tracker" / "events.jsonl"))
    kept = brought.get((new_id, "big.bin"), set())
    assert len(kept) >= total_chunks // 2, "what it kept is shown under its new id"
    fetched = len(set(out.tracker.acquired[(new_id, "big.bin")]) - kept)
    assert fetched < 0.6 * total_chunks, f"fetched {fetched} of {total_chunks} chunks again"
    assert out.tracker.connects[new_id] == []  # a partial file is not an offer
    print(f"\nFIGURES resume: restarted peer fetched {fetched} of {total_chunks} chunks; "
          f"complete {time.monotonic() - killed_at:.2f} s after the kill")


def test_lost_events_are_repaired_by_resync(swarm: Swarm) -> None:
    files = [{f"f{i}.bin": random_bytes(93 + i, 30_000)} for i in range(3)]
    # The later peers' files are announced as file events 2 and 3: both lost,
    # and no later event shows the gap, so only a heartbeat's answer can.
    swarm.start_tracker(lose_events=(2, 3))
    first = swarm.start_peer(files[0], quiet_s=2)
    swarm.wait_connects(1)  # the first peer
    for f in files[1:]:
        swarm.start_peer(f, quiet_s=2)
    assert swarm.wait_peers(60) == [0, 0, 0]
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, {k: v for f in files for k, v in f.items()})
    assert swarm.tracker is not None
    assert "event 2 not published" in swarm.tracker.stderr()
    assert "asking for a snapshot" in first.proc.stderr()


def test_sigkill_tracker_peers_exit_1_with_their_block(swarm: Swarm) -> None:
    grace_s = float(TEST_ENV["SWARM_TRACKER_GRACE_S"])
    data = {"big.bin": random_bytes(97, 16 * MIB)}
    swarm.start_tracker()
    # 8 s for the whole file: still partial when the peers give up
    seeder = swarm.start_peer(data, quiet_s=300, env={"SWARM_UPLOAD_LIMIT_BYTES_S": "2000000"})
    fetcher = swarm.start_peer({}, quiet_s=300)
    wait_for(lambda: pieces_saved(fetcher) >= 4, 60, "the transfer to start", poll_s=0.01)
    assert swarm.tracker is not None
    swarm.tracker.signal(signal.SIGKILL)
    margin_s = 5.0
    codes = swarm.wait_peers(grace_s + margin_s)
    assert codes == [1, 1]
    for run, holds in ((seeder, ["big.bin"]), (fetcher, [])):
        peer_id, names = parse_shutdown(run.proc.stdout())
        assert peer_id >= 1 and names == holds
        assert "no word from the tracker" in run.proc.stderr()
    assert list((fetcher.proc.cwd / ".swarm").rglob("*.part")), "partial state stays on disk"


def test_slow_peer_does_not_hold_the_swarm_back(swarm: Swarm) -> None:
    data = {"x.bin": random_bytes(98, 4 * MIB)}
    delay_s = 120.0  # longer than this test may run: any answer would come too late
    swarm.start_tracker()
    swarm.start_peer(data, env={"SWARM_UPLOAD_LIMIT_BYTES_S": "2000000"})
    double = swarm.start_double("slow", "sloth", data, ["--delay-s", str(delay_s)])
    wait_for(lambda: swarm.tracker is not None and swarm.tracker.stdout().count("CONNECT") >= 2,
             20, "the double to join")
    started = time.monotonic()
    fetchers = [swarm.start_peer({}), swarm.start_peer({})]
    assert swarm.wait_peers(90, fetchers) == [0, 0]
    elapsed = time.monotonic() - started
    for fetcher in fetchers:
        assert shared_contents(fetcher.shared) == data
    served = (double.cwd / "served.log")
    assert not served.exists() or served.read_text() == "", "nothing came from the slow peer"
    timeouts = sum(int(summary(f)["timeouts"]) for f in fetchers)
    duplicates = sum(int(summary(f)["duplicates"]) for f in fetchers)
    assert timeouts + duplicates > 0, "the slow peer was asked, and the swarm moved on"
    twice = sum(int(summary(f)["twice"]) for f in fetchers)
    print(f"\nFIGURES slow double: fetchers complete in {elapsed:.2f} s; requests timed out "
          f"{timeouts}, end-game duplicates {duplicates}, chunks fetched twice {twice}")


def test_lost_file_releases_waiters_and_partial_data_waits_for_a_holder(swarm: Swarm) -> None:
    data = {"only.bin": random_bytes(99, 4 * MIB)}
    pieces = Layout.for_size(4 * MIB).pieces
    swarm.start_tracker(args=["--events", "events.jsonl"])
    holder = swarm.start_peer(data, env=SLOW_SEED)
    fetcher = swarm.start_peer({}, quiet_s=1)
    wait_for(lambda: pieces_saved(fetcher) >= pieces // 4, 60, "a quarter of the file",
             poll_s=0.01)
    holder.proc.signal(signal.SIGKILL)
    # The only holder is gone: once it expires the file is lost, and the
    # fetcher no longer waits for it.
    assert fetcher.proc.wait(30) == 0
    peer_id, holds = parse_shutdown(fetcher.proc.stdout())
    assert holds == []
    assert swarm.tracker is not None
    assert "'only.bin' is lost" in swarm.tracker.stderr()
    kept = pieces_saved(fetcher)
    assert kept >= pieces // 4, "the partial data stays for a holder to return"
    # The holder comes back; the fetcher, started again, fetches only the rest.
    swarm.restart_peer(holder)
    again = swarm.restart_peer(fetcher)
    assert swarm.wait_peers(60, [swarm.peers[-2], again]) == [0, 0]
    assert shared_contents(again.shared) == data
    log = parse_tracker(swarm.tracker.stdout())
    new_id, _ = parse_shutdown(again.proc.stdout())
    piece_chunks = Layout.for_size(4 * MIB).piece_chunks
    brought = brought_chunks(read_entries(swarm.root / "tracker" / "events.jsonl"))
    shown = log.acquired[(new_id, "only.bin")]
    assert sorted(shown) == list(range(1, chunks_of(4 * MIB) + 1))
    fetched = set(shown) - brought[(new_id, "only.bin")]
    assert len(fetched) <= chunks_of(4 * MIB) - kept * piece_chunks
    assert log.disconnects[peer_id] == []
