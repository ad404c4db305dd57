"""`swarm status` against a live swarm: both directions' rates per peer, a time
left per file, and the swarm's totals, in the JSON and in the table."""

from __future__ import annotations

import signal
import sys
from typing import Any

from tests.e2e.harness import REPO, Swarm, random_bytes, shared_contents, wait_for
from tests.e2e.terminal import TerminalRun
from tests.e2e.test_cli import as_json, swarm_cmd

MIB = 1 << 20
SLOW = {"SWARM_UPLOAD_LIMIT_BYTES_S": "400000"}  # the first copy takes ~5 s to leave


def status_of(port: str) -> dict[str, Any]:
    status: dict[str, Any] = as_json(swarm_cmd("status", "127.0.0.1", port, "--once", "--json"))
    return status


def test_status_shows_both_directions_times_left_and_totals(swarm: Swarm) -> None:
    files = {"a.bin": random_bytes(300, 2 * MIB), "note.txt": b"a short note\n"}
    size = sum(len(data) for data in files.values())
    swarm.start_tracker()
    swarm.start_peer(files, quiet_s=60, env=SLOW)
    fetchers = [swarm.start_peer({}, quiet_s=60) for _ in range(2)]
    port = str(swarm.port)

    # While the bytes flow: some peer sends, some receives, and a.bin has a
    # time left in seconds.
    seen: dict[str, bool] = {"send": False, "recv": False, "eta": False}

    def watch_transfer() -> bool:
        status = status_of(port)
        for peer in status["peers"]:
            assert type(peer["send_bytes_s"]) is int and peer["send_bytes_s"] >= 0
            assert type(peer["recv_bytes_s"]) is int and peer["recv_bytes_s"] >= 0
            seen["send"] |= peer["send_bytes_s"] > 0
            seen["recv"] |= peer["recv_bytes_s"] > 0
        big = next((f for f in status["files"] if f["name"] == "a.bin"), None)
        if big is not None and big["remaining_bytes"] > 0:
            seen["eta"] |= isinstance(big["eta_s"], float) and big["eta_s"] > 0
        return all(seen.values())

    wait_for(watch_transfer, 30, "rates both ways and a time left mid-transfer", poll_s=0.2)

    wait_for(lambda: all((f.shared / "a.bin").exists() and (f.shared / "note.txt").exists()
                         for f in fetchers), 30, "both fetchers to hold both files")
    # Every byte received was sent by someone; the senders' counts come with
    # their next heartbeats (more than moved if a piece was fetched twice).
    wait_for(lambda: sum(p["sent_bytes"] for p in status_of(port)["peers"]) >= 2 * size, 10,
             "the senders' counts to reach the tracker")
    status = status_of(port)
    totals = status["totals"]
    assert totals["moved_bytes"] == 2 * size  # each fetcher received each file once
    assert sum(p["received_bytes"] for p in status["peers"]) == 2 * size
    assert totals["remaining_bytes"] == 0 and totals["eta_s"] == 0
    assert (totals["peers"], totals["files"]) == (3, 2)
    assert all(f["eta_s"] == 0 and f["lacking"] == [] for f in status["files"])
    assert totals["recv_bytes_s"] == sum(p["recv_bytes_s"] for p in status["peers"])

    table = swarm_cmd("status", "127.0.0.1", port, "--once")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[-1].startswith("total: moved 4.0 MiB, receiving ")
    assert lines[-1].endswith(" left, ETA done")
    assert "RECV" in lines[1] and "SEND" in lines[1]
    assert "MiB" in table.stdout and "B/s" in table.stdout
    for unit in (" kB", " MB", "MB/s", "kB/s"):
        assert unit not in table.stdout

    for run in swarm.peers:
        run.proc.signal(signal.SIGTERM)
    assert swarm.wait_peers(20) == [0, 0, 0]
    assert swarm.stop_tracker() == 0


def test_the_live_table_fits_a_short_terminal(swarm: Swarm) -> None:
    rows, columns = 16, 80  # room for 4 peer rows and 4 file rows
    swarm.start_tracker()
    files = {f"file{i}.txt": f"file number {i}\n".encode() for i in range(5)}
    for name, data in files.items():
        swarm.start_peer({name: data}, quiet_s=60)
    wait_for(lambda: all(shared_contents(run.shared) == files for run in swarm.peers),
             30, "every peer to hold every file")

    table = TerminalRun([sys.executable, "-m", "swarm", "status", "127.0.0.1", str(swarm.port),
                         "--interval-s", "0.2"], REPO, rows=rows, columns=columns)
    try:  # a few redraws in place, then Ctrl-C
        wait_for(lambda: table.count(b"\x1b[2J") >= 3, 20, "three redraws of the table")
        table.signal(signal.SIGINT)
    finally:
        code = table.wait(timeout_s=10)
    assert code == 0
    lines = table.lines()
    # The top of the table is still on the screen: nothing scrolled away.
    assert lines[0] == f"5 peer(s), 5 file(s), event {lines[0].split()[-1]}"
    assert lines[1].split() == ["PEER", "ENDPOINT", "FILES", "HELD", "RECV", "SEND"]
    assert "\u2026 2 more peers (--json lists all)" in lines
    assert "\u2026 2 more files (--json lists all)" in lines
    assert sum(line.startswith("total: moved ") for line in lines) == 1
    assert any(line.endswith("ETA done") for line in lines)

    for run in swarm.peers:
        run.proc.signal(signal.SIGTERM)
    assert swarm.wait_peers(20) == [0] * len(files)
    assert swarm.stop_tracker() == 0
