"""End-to-end: real tracker.sh and peer.sh processes, every stdout line and
every byte of every Shared folder checked against the contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.harness import (
    REPO,
    PeerRun,
    Swarm,
    check_swarm,
    make_files,
    parse_shutdown,
    parse_tracker,
    random_bytes,
    shared_contents,
    start,
    wait_for,
)

FINISH_S = 60.0  # bound on any swarm of these tests finishing


def finish(swarm: Swarm, timeout_s: float = FINISH_S) -> None:
    codes = swarm.wait_peers(timeout_s)
    assert codes == [0] * len(codes), f"peer exit codes {codes}"
    assert swarm.stop_tracker() == 0


def test_two_peers_exchange_odd_sizes_and_names(swarm: Swarm) -> None:
    one = {"exactly 512.bin": random_bytes(1, 512), "empty": b""}
    two = {"513 bytes.bin": random_bytes(2, 513), "naïve café – 日本.txt": random_bytes(3, 7000)}
    swarm.start_tracker()
    swarm.start_peer(one)
    swarm.start_peer(two)
    finish(swarm)
    check_swarm(swarm, {**one, **two})


def test_four_peers_one_with_empty_shared(swarm: Swarm) -> None:
    files = [
        {"a.bin": random_bytes(10, 300_000)},
        {"b.bin": random_bytes(11, 1)},
        {},
        {"c d.bin": random_bytes(12, 65_537), "zero": b""},
    ]
    swarm.start_tracker()
    for f in files:
        swarm.start_peer(f)
    finish(swarm)
    everything = {k: v for f in files for k, v in f.items()}
    check_swarm(swarm, everything)


def test_eight_peers(swarm: Swarm) -> None:
    files = [{f"file{i}.bin": random_bytes(100 + i, 256 * 1024 + i)} for i in range(8)]
    swarm.start_tracker()
    for f in files:
        swarm.start_peer(f)
    finish(swarm)
    check_swarm(swarm, {k: v for f in files for k, v in f.items()})


def test_late_peer_file_reaches_everyone(swarm: Swarm) -> None:
    early = [{"early1.bin": random_bytes(20, 40_000)}, {"early2.bin": random_bytes(21, 50_000)}]
    late = {"late.bin": random_bytes(22, 60_000)}
    quiet_s = 4.0
    swarm.start_tracker()
    for f in early:
        swarm.start_peer(f, quiet_s=quiet_s, args=["--events", "events.jsonl"])
    swarm.wait_connects(2)  # the late peer joins once both early ones have
    swarm.start_peer(late, quiet_s=1.0)
    finish(swarm)
    check_swarm(swarm, {**early[0], **early[1], **late})
    # The late file was news: by their own clocks, the early peers stayed S
    # seconds after they heard of it (rule (c)).
    for run in swarm.peers[:2]:
        events = [json.loads(line) for line in
                  (run.proc.cwd / "events.jsonl").read_text().splitlines()]
        (heard,) = [e["ts"] for e in events if e["event"] == "file" and e["name"] == "late.bin"]
        (left,) = [e["ts"] for e in events if e["event"] == "leave"]
        assert left - heard >= quiet_s


def test_two_sources_of_one_file(swarm: Swarm) -> None:
    shared = {"common.bin": random_bytes(30, 2_000_000)}
    swarm.start_tracker()
    swarm.start_peer(shared)
    swarm.start_peer(shared)
    swarm.start_peer({})
    finish(swarm)
    out = check_swarm(swarm, shared)
    first, second = out.peer_ids["peer1"], out.peer_ids["peer2"]
    assert out.tracker.connects[first] == out.tracker.connects[second]


def test_hidden_files_and_subfolders_are_ignored(swarm: Swarm) -> None:
    visible = {"visible.txt": b"hello swarm\n"}
    ignored = {".hidden": b"secret", "sub/inner.txt": b"nested", ".dir/x": b"x"}
    swarm.start_tracker()
    owner = swarm.start_peer(visible, extra=ignored)
    other = swarm.start_peer({})
    finish(swarm)
    check_swarm(swarm, visible)
    for rel, data in ignored.items():
        assert (owner.shared / rel).read_bytes() == data
        assert not (other.shared / rel).exists()


def test_same_name_different_content_is_refused(swarm: Swarm) -> None:
    first = {"same.txt": b"the first content\n"}
    second = {"same.txt": b"other content, same name\n"}
    extra = {"extra.bin": random_bytes(40, 5000)}
    swarm.start_tracker()
    p1 = swarm.start_peer(first, quiet_s=2.0)
    # p1's offer is the earlier one: the tracker has taken it before p2 starts.
    assert list(swarm.wait_connects(1).values()) == [[("same.txt", 1)]]
    p2 = swarm.start_peer({**second, **extra}, quiet_s=2.0)
    p3 = swarm.start_peer({}, quiet_s=2.0)
    finish(swarm)
    assert shared_contents(p1.shared) == {**first, **extra}
    assert shared_contents(p2.shared) == {**second, **extra}  # nothing overwritten
    assert shared_contents(p3.shared) == {**first, **extra}
    assert "same.txt" in p2.proc.stderr() and "refused" in p2.proc.stderr()
    assert swarm.tracker is not None
    assert "refused" in swarm.tracker.stderr()
    log = parse_tracker(swarm.tracker.stdout())
    id2, holds2 = parse_shutdown(p2.proc.stdout())
    assert log.connects[id2] == [("extra.bin", 10)]  # the refused offer is not listed
    assert holds2 == ["extra.bin", "same.txt"]
    id3, holds3 = parse_shutdown(p3.proc.stdout())
    assert holds3 == ["extra.bin", "same.txt"]
    assert log.disconnects[id3] == ["extra.bin", "same.txt"]


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_signal_makes_a_peer_leave_at_once(swarm: Swarm, signame: str) -> None:
    import signal as sig

    data = {"x.bin": random_bytes(50, 10_000)}
    swarm.start_tracker()
    seeder = swarm.start_peer(data, quiet_s=300)
    waiting = swarm.start_peer({}, quiet_s=300)
    assert swarm.tracker is not None
    tracker = swarm.tracker

    wait_for(waiting.shared.joinpath("x.bin").exists, 30, "the file to reach the waiting peer")
    assert "DISCONNECT" not in tracker.stdout(), "a peer left before it was signalled"
    for run in (seeder, waiting):
        run.proc.signal(getattr(sig, signame))
    # "At once": well within their S of 300 s, bounded by the wait itself.
    assert swarm.wait_peers(10) == [0, 0]
    assert swarm.stop_tracker() == 0
    check_swarm(swarm, data)


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_tracker_stops_on_signal(swarm: Swarm, signame: str) -> None:
    import signal as sig

    swarm.start_tracker()
    assert swarm.tracker is not None
    swarm.tracker.signal(getattr(sig, signame))
    assert swarm.tracker.wait(5) == 0  # "within a few seconds": the wait is the bound
    assert swarm.tracker.stdout() == ""


def test_file_copied_into_shared_while_running_is_offered(swarm: Swarm) -> None:
    first = {"start.bin": random_bytes(70, 20_000)}
    later = {"copied later.bin": random_bytes(71, 150_000)}
    swarm.start_tracker()
    owner = swarm.start_peer(first, quiet_s=5.0)
    other = swarm.start_peer({}, quiet_s=5.0)
    wait_for(lambda: (other.shared / "start.bin").exists(), 30, "the first file to spread")
    # Written in two steps, as a slow copy would: it is offered once it stops
    # changing.  The second step waits until the owner has looked at Shared
    # with the file half-written: a hidden file made after the first step is
    # named on its stderr by that look (hidden files are never shared).
    target = owner.shared / "copied later.bin"
    data = later["copied later.bin"]
    target.write_bytes(data[:50_000])
    (owner.shared / ".half written").write_bytes(b"")
    wait_for(lambda: "not sharing '.half written'" in owner.proc.stderr(), 20,
             "the owner to look at Shared while the file is half-written")
    with open(target, "ab") as f:
        f.write(data[50_000:])
    finish(swarm)
    # The later file was not in the CONNECT offers; it was received by the other peer.
    out = check_swarm(swarm, {**first, **later},
                      received_override={"peer1": set(), "peer2": {*first, *later}})
    assert out.tracker.connects[out.peer_ids["peer1"]] == [("start.bin", 40)]


def test_scripts_run_from_a_copy_of_the_project_and_by_path(swarm: Swarm, tmp_path: Path) -> None:
    """Each peer runs inside its own full copy of the project, as a script
    run from elsewhere would: the code and .venv next to the script are used."""
    copies = []
    for i in (1, 2):
        copy = tmp_path / f"copy{i}"
        shutil.copytree(REPO, copy, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "__pycache__", ".*_cache",
                                                      "Shared", ".swarm", "port.txt"))
        copies.append(copy)
    files = [{"one.bin": random_bytes(80, 3000)}, {"two.bin": random_bytes(81, 4000)}]
    swarm.start_tracker()
    runs = []
    for copy, f in zip(copies, files, strict=True):
        make_files(copy / "Shared", f)
        proc = start(copy.name, ["sh", "peer.sh", "127.0.0.1", str(swarm.port), "1"], copy)
        swarm._procs.append(proc)
        runs.append(PeerRun(proc, f))
    swarm.peers.extend(runs)
    finish(swarm)
    check_swarm(swarm, {**files[0], **files[1]})


def test_same_bytes_under_two_names_are_two_files(swarm: Swarm) -> None:
    same = random_bytes(90, 70_000)
    one = {"copy A.bin": same, "empty-1": b""}
    two = {"copy B.bin": same, "empty-2": b""}
    swarm.start_tracker()
    swarm.start_peer(one)
    swarm.start_peer(two)
    swarm.start_peer({})
    finish(swarm)
    check_swarm(swarm, {**one, **two})
