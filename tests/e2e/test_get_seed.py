"""`swarm get` and `swarm seed` against live swarms: they take an id and
appear in the tracker's blocks like any peer, and no peer waits for them."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from tests.e2e.harness import (
    REPO,
    Proc,
    Swarm,
    brought_chunks,
    check_block_order,
    chunks_of,
    parse_shutdown,
    parse_tracker,
    pieces_stored,
    random_bytes,
    read_entries,
    start,
    wait_for,
)

A = random_bytes(31, 150_000)  # 293 chunks
B = random_bytes(32, 90_000)


def swarm_command(swarm: Swarm, name: str, *args: str) -> Proc:
    """`swarm ARGS...` as a process of the swarm (killed with it), in a folder of its own."""
    proc = start(name, [sys.executable, "-m", "swarm", *args], swarm.root / name,
                 {"PYTHONPATH": str(REPO)})
    swarm._procs.append(proc)
    return proc


def only_new_id(before: set[int], swarm: Swarm) -> int:
    (new,) = set(swarm.connects()) - before
    return new


def test_get_fetches_one_file_and_nobody_waits_for_it(swarm: Swarm) -> None:
    port = swarm.start_tracker()
    holder_a = swarm.start_peer({"a.bin": A}, quiet_s=2.0)
    holder_b = swarm.start_peer({"b.bin": B}, quiet_s=2.0)
    swarm.wait_connects(2)
    before = set(swarm.connects())
    into = swarm.root / "downloads"
    get = swarm_command(swarm, "get", "get", "127.0.0.1", str(port), "a.bin", "--to", str(into))
    assert get.wait(20) == 0, get.stderr()
    # stdout: the path of the file written, and nothing else.
    assert get.stdout() == f"{into / 'a.bin'}\n"
    assert (into / "a.bin").read_bytes() == A
    assert sorted(p.name for p in into.iterdir()) == ["a.bin"]  # no state folder left
    # The peers leave by their own rules, never waiting for the get to take b.bin.
    assert swarm.wait_peers(20) == [0, 0]
    for run in (holder_a, holder_b):
        _, holds = parse_shutdown(run.proc.stdout())
        assert holds == ["a.bin", "b.bin"]
    swarm.stop_tracker()
    log = parse_tracker(swarm.tracker.stdout())  # type: ignore[union-attr]
    check_block_order(log)
    get_id = only_new_id(before, swarm)
    assert log.connects[get_id] == []  # OFFERS 0
    assert sorted(log.acquired[(get_id, "a.bin")]) == list(range(1, chunks_of(len(A)) + 1))
    assert (get_id, "b.bin") not in log.acquired
    assert log.disconnects[get_id] == ["a.bin"]


def test_get_of_an_unknown_name_fails_with_a_message(swarm: Swarm) -> None:
    port = swarm.start_tracker()
    swarm.start_peer({"a.bin": A}, quiet_s=30.0)
    swarm.wait_connects(1)
    into = swarm.root / "downloads"
    get = swarm_command(swarm, "get", "get", "127.0.0.1", str(port), "a.bin", "nothing.bin",
                        "--to", str(into))
    assert get.wait(20) == 1
    assert "no file named 'nothing.bin'" in get.stderr()
    assert get.stdout() == ""
    assert not into.exists()  # nothing fetched: not even a.bin
    assert len(swarm.connects()) == 1  # it never joined


def test_seed_hands_its_file_to_a_peer_and_leaves(swarm: Swarm) -> None:
    port = swarm.start_tracker()
    source = swarm.root / "elsewhere" / "report.pdf"
    source.parent.mkdir()
    source.write_bytes(A)
    # The seed starts first: it waits for someone to take its file.
    seed = swarm_command(swarm, "seed", "seed", "127.0.0.1", str(port), str(source))
    swarm.wait_connects(1)
    peer = swarm.start_peer({}, quiet_s=1.0)
    assert seed.wait(20) == 0, seed.stderr()
    assert swarm.wait_peers(20) == [0]
    assert (peer.shared / "report.pdf").read_bytes() == A
    assert source.read_bytes() == A
    assert seed.stdout() == ""
    swarm.stop_tracker()
    log = parse_tracker(swarm.tracker.stdout())  # type: ignore[union-attr]
    check_block_order(log)
    seed_id = min(log.connects)
    peer_id, holds = parse_shutdown(peer.proc.stdout())
    assert holds == ["report.pdf"]
    assert log.connects[seed_id] == [("report.pdf", chunks_of(len(A)))]
    assert log.disconnects[seed_id] == []  # RECEIVED 0
    assert sorted(log.acquired[(peer_id, "report.pdf")]) == list(range(1, chunks_of(len(A)) + 1))
    assert log.disconnects[peer_id] == ["report.pdf"]
    assert not [p for p in Path(seed.cwd).iterdir() if p.name.startswith(".")]


def test_a_get_killed_half_way_resumes_into_the_same_folder(swarm: Swarm) -> None:
    big = random_bytes(33, 4 << 20)  # four pieces
    port = swarm.start_tracker(args=["--events", "events.jsonl"])
    swarm.start_peer({"big.bin": big}, quiet_s=60.0, env={"SWARM_UPLOAD_LIMIT_BYTES_S": "1200000"})
    swarm.wait_connects(1)
    into = swarm.root / "downloads"
    args = ("get", "127.0.0.1", str(port), "big.bin", "--to", str(into))
    first = swarm_command(swarm, "get1", *args)
    wait_for(lambda: pieces_stored(into) >= 1, 20, "a piece stored by the first get")
    first.kill_group()
    assert not (into / "big.bin").exists()  # placed only when complete
    second = swarm_command(swarm, "get2", *args)
    assert second.wait(20) == 0, second.stderr()
    assert second.stdout() == f"{into / 'big.bin'}\n"
    assert (into / "big.bin").read_bytes() == big
    assert sorted(p.name for p in into.iterdir()) == ["big.bin"]
    log = parse_tracker(swarm.tracker.stdout())  # type: ignore[union-attr]
    second_id = max(log.connects)
    shown = log.acquired[(second_id, "big.bin")]
    # Every chunk once under the new id: what the first get stored it
    # brought (shown at its join), and only what was missing it fetched.
    assert sorted(shown) == list(range(1, chunks_of(len(big)) + 1))
    brought = brought_chunks(read_entries(swarm.root / "tracker" / "events.jsonl"))
    kept = brought.get((second_id, "big.bin"), set())
    assert kept, "what the first get stored is brought back"
    assert len(set(shown) - kept) < chunks_of(len(big))


def test_a_forever_seed_stays_until_a_signal_then_says_goodbye(swarm: Swarm) -> None:
    port = swarm.start_tracker()
    source = swarm.root / "notes.txt"
    source.write_bytes(B)
    seed = swarm_command(swarm, "seed", "seed", "127.0.0.1", str(port), str(source), "--forever")
    swarm.wait_connects(1)
    peer = swarm.start_peer({}, quiet_s=0.5)
    assert swarm.wait_peers(20) == [0]
    assert (peer.shared / "notes.txt").read_bytes() == B
    assert seed.popen.poll() is None  # every peer holds it, and it stays
    seed.signal(signal.SIGTERM)
    assert seed.wait(10) == 0
    assert seed.stdout() == ""
    swarm.stop_tracker()
    log = parse_tracker(swarm.tracker.stdout())  # type: ignore[union-attr]
    seed_id = min(log.connects)
    assert log.disconnects[seed_id] == []  # a goodbye, RECEIVED 0
