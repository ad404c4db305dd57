"""The `swarm` command against live swarms: ls, who, status, config, digest,
--events and progress bars."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from swarm.protocol.chunks import chunk_count
from tests.e2e.harness import (
    REPO,
    Swarm,
    parse_shutdown,
    parse_tracker,
    random_bytes,
    wait_for,
)
from tests.e2e.terminal import TerminalRun

MIB = 1 << 20
SLOW = {"SWARM_UPLOAD_LIMIT_BYTES_S": "400000"}


def swarm_cmd(*args: str, env: dict[str, str] | None = None,
              timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "swarm", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout_s, check=False)


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def digest_of(path: Path) -> str:
    result = swarm_cmd("digest", str(path))
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[0]


def test_ls_who_and_status_describe_a_live_swarm(swarm: Swarm) -> None:
    big = {"big.bin": random_bytes(200, 2 * MIB)}
    small = {"small note.txt": b"a few bytes\n"}
    swarm.start_tracker()
    owner = swarm.start_peer(big, quiet_s=60, env=SLOW)
    other = swarm.start_peer(small, quiet_s=60)
    fetcher = swarm.start_peer({}, quiet_s=60)
    port = str(swarm.port)
    wait_for(lambda: (fetcher.shared / "small note.txt").exists(), 30, "the small file")

    listing = as_json(swarm_cmd("ls", "127.0.0.1", port, "--json"))
    files = {f["name"]: f for f in listing["files"]}
    assert set(files) == {"big.bin", "small note.txt"}
    assert files["big.bin"]["size"] == 2 * MIB
    assert files["big.bin"]["chunks"] == chunk_count(2 * MIB)
    assert files["big.bin"]["digest"] == digest_of(owner.shared / "big.bin")
    assert files["small note.txt"]["digest"] == digest_of(other.shared / "small note.txt")
    assert swarm.tracker is not None
    log = parse_tracker(swarm.tracker.stdout())
    owner_id = next(p for p, offers in log.connects.items() if offers == [("big.bin", 4096)])
    assert owner_id in files["big.bin"]["complete_holders"]
    assert len(files["small note.txt"]["complete_holders"]) >= 2

    table = swarm_cmd("ls", "127.0.0.1", port)
    assert table.returncode == 0 and "big.bin" in table.stdout and "DIGEST" in table.stdout

    who = as_json(swarm_cmd("who", "127.0.0.1", port, "big.bin", "--json"))
    holders = {h["peer"]: h for h in who["holders"]}
    assert holders[owner_id]["complete"] is True and holders[owner_id]["fraction"] == 1.0
    by_digest = as_json(swarm_cmd("who", "127.0.0.1", port, who["digest"][:10], "--json"))
    assert by_digest["name"] == "big.bin"
    missing = swarm_cmd("who", "127.0.0.1", port, "no-such-file")
    assert missing.returncode == 1 and "no file named" in missing.stderr

    status = as_json(swarm_cmd("status", "127.0.0.1", port, "--once", "--json"))
    assert len(status["peers"]) == 3
    assert {f["name"] for f in status["files"]} == {"big.bin", "small note.txt"}
    row = next(p for p in status["peers"] if p["peer"] == owner_id)
    assert row["chunks"]["big.bin"] == chunk_count(2 * MIB)
    assert "big.bin" in row["complete"]
    # Rates come from the tracker in the same answer, so even --once has them.
    assert all(type(p[rate]) is int and p[rate] >= 0
               for p in status["peers"] for rate in ("recv_bytes_s", "send_bytes_s"))

    for run in swarm.peers:
        run.proc.signal(signal.SIGTERM)
    assert swarm.wait_peers(20) == [0, 0, 0]
    assert swarm.stop_tracker() == 0


def test_queries_fail_cleanly_without_a_tracker(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])  # closed again: nobody listens there
    result = swarm_cmd("ls", "127.0.0.1", port, "--timeout-s", "0.5")
    assert result.returncode == 1
    assert "no answer from the tracker" in result.stderr


def test_settings_come_from_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "swarm.toml"
    config.write_text("[swarm]\nheartbeat_interval_s = 0.5\nexpiry_misses = 4\n"
                      "tracker_grace_s = 7\nlog_level = \"info\"\n")
    env = {"SWARM_EXPIRY_MISSES": "5", "SWARM_TRACKER_GRACE_S": "8"}
    out = as_json(swarm_cmd("--config", str(config), "config", "--json",
                            "--tracker-grace-s", "9", env=env))
    assert out["heartbeat_interval_s"] == {"value": 0.5, "source": str(config)}
    assert out["expiry_misses"] == {"value": 5, "source": "environment SWARM_EXPIRY_MISSES"}
    assert out["tracker_grace_s"] == {"value": 9.0, "source": "flag --tracker-grace-s"}
    assert out["log_level"]["value"] == "info"
    assert out["scan_interval_s"]["source"] == "default"

    text = swarm_cmd("--config", str(config), "config", env=env)
    assert text.returncode == 0
    assert "expiry_misses" in text.stdout and "environment SWARM_EXPIRY_MISSES" in text.stdout

    bad = swarm_cmd("config", env={"SWARM_EXPIRY_MISSES": "many"})
    assert bad.returncode == 2 and "expiry_misses" in bad.stderr
    unknown = tmp_path / "bad.toml"
    unknown.write_text("[swarm]\nno_such_setting = 1\n")
    assert swarm_cmd("--config", str(unknown), "config").returncode == 2


def test_every_command_has_help_with_examples() -> None:
    for command in ("tracker", "peer", "ls", "who", "status", "config", "digest"):
        result = swarm_cmd(command, "--help")
        assert result.returncode == 0
        assert "examples:" in result.stdout and "exit codes:" in result.stdout


def read_events(path: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for event in events:
        assert isinstance(event["ts"], float) and isinstance(event["event"], str)
    return events


def test_events_files_tell_what_happened(swarm: Swarm) -> None:
    files = [{"a.bin": random_bytes(201, 300_000)}, {"b é.txt": random_bytes(202, 4_000)}]
    swarm.start_tracker(args=["--events", "events.jsonl"])
    runs = [swarm.start_peer(f, args=["--events", "events.jsonl"]) for f in files]
    assert swarm.wait_peers(60) == [0, 0]
    assert swarm.stop_tracker() == 0
    assert swarm.tracker is not None
    log = parse_tracker(swarm.tracker.stdout())
    tracker_events = read_events(swarm.tracker.cwd / "events.jsonl")

    everything = {**files[0], **files[1]}
    for run in runs:
        peer_id, holds = parse_shutdown(run.proc.stdout())
        events = read_events(run.proc.cwd / "events.jsonl")
        kinds = [e["event"] for e in events]
        assert kinds[0] == "joined" and events[0]["peer"] == peer_id
        assert kinds[-1] == "leave"
        assert events[-1]["exit_code"] == 0 and events[-1]["holds"] == holds
        announced = {e["name"] for e in events if e["event"] == "file"}
        assert announced == set(everything)
        (received,) = set(everything) - set(run.initial)
        chunks = sum(e["chunks"] for e in events
                     if e["event"] == "chunks" and e["file"] == received)
        assert chunks == chunk_count(len(everything[received]))
        assert [e["file"] for e in events if e["event"] == "complete"] == [received]

        joins = [e for e in tracker_events if e["event"] == "join" and e["peer"] == peer_id]
        assert [j["offers"] for j in joins] == [[name for name, _ in log.connects[peer_id]]]
        acquired = sum(e["chunks"] for e in tracker_events
                       if e["event"] == "chunks" and e["peer"] == peer_id)
        assert acquired == sum(len(v) for (p, _), v in log.acquired.items() if p == peer_id)
        (leave,) = [e for e in tracker_events if e["event"] == "leave" and e["peer"] == peer_id]
        assert leave["reason"] == "goodbye" and leave["received"] == log.disconnects[peer_id]
    assert {e["name"] for e in tracker_events if e["event"] == "file"} == set(everything)


def run_fetcher_capturing_stderr(swarm: Swarm, on_terminal: bool) -> bytes:
    """A fetching peer whose stderr is a pseudo-terminal or a pipe; what it wrote there."""
    cwd = swarm.root / ("tty-peer" if on_terminal else "pipe-peer")
    (cwd / "Shared").mkdir(parents=True)
    env = {"PYTHONPATH": str(REPO), "SWARM_LOG_LEVEL": "warning"}
    argv = ["sh", str(REPO / "peer.sh"), "127.0.0.1", str(swarm.port), "1"]
    if on_terminal:
        # A terminal of 24 rows and 100 columns, as a person would have.
        peer = TerminalRun(argv, cwd, env, rows=24, columns=100, stdout_too=False)
        assert peer.wait(timeout_s=60) == 0
        return bytes(peer.raw)
    proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0
    return err


def test_progress_bars_on_a_terminal_and_not_on_a_pipe(swarm: Swarm) -> None:
    data = {"watched.bin": random_bytes(203, 6 * MIB)}
    swarm.start_tracker()
    swarm.start_peer(data, quiet_s=30, env={"SWARM_UPLOAD_LIMIT_BYTES_S": "1500000"})
    on_terminal = run_fetcher_capturing_stderr(swarm, on_terminal=True)
    on_pipe = run_fetcher_capturing_stderr(swarm, on_terminal=False)
    assert b"watched.bin" in on_terminal and b"B/s" in on_terminal and b"peer" in on_terminal
    assert b"\r" in on_terminal  # redrawn in place
    assert b"watched.bin" not in on_pipe and b"B/s" not in on_pipe
    time.sleep(0)  # the seeder is stopped by the fixture


def test_version_and_options_after_the_command(tmp_path: Path) -> None:
    version = swarm_cmd("--version")
    assert version.returncode == 0 and version.stdout.startswith("swarm ")
    config = tmp_path / "f.toml"
    config.write_text('[swarm]\nlog_level = "info"\nrequest_window_bytes = "2MiB"\n')
    before = as_json(swarm_cmd("--config", str(config), "config", "--json"))
    after = as_json(swarm_cmd("config", "--json", "--config", str(config)))
    assert before == after
    assert after["log_level"] == {"value": "info", "source": str(config)}
    assert after["request_window_bytes"]["value"] == 2 << 20
    assert "--bind-address" not in swarm_cmd("peer", "--help").stdout
    assert "--state-dir" not in swarm_cmd("tracker", "--help").stdout


def test_errors_name_the_address_tried(swarm: Swarm) -> None:
    import socket

    glued = swarm_cmd("peer", "localhost:40001", "5")
    assert glued.returncode == 2
    assert "swarm peer localhost 40001" in glued.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        swarm.port = s.getsockname()[1]  # closed again: no tracker there
    lonely = swarm.start_peer({}, env={"SWARM_TRACKER_GRACE_S": "1"})
    assert lonely.proc.wait(30) == 1
    assert f"127.0.0.1:{swarm.port}" in lonely.proc.stderr()
    for host, shown in (("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")):
        asked = swarm_cmd("ls", host, str(swarm.port), "--timeout-s", "0.3")
        assert asked.returncode == 1
        assert f"tracker at {shown}:{swarm.port} " in asked.stderr


def test_a_download_limit_with_units_still_delivers_every_byte(swarm: Swarm) -> None:
    content = {"one.bin": random_bytes(203, MIB)}
    limit = {"SWARM_DOWNLOAD_LIMIT_BYTES_S": "256KiB/s"}
    shown = as_json(swarm_cmd("config", "--json", env=limit))["download_limit_bytes_s"]
    assert shown == {"value": 256 << 10, "source": "environment SWARM_DOWNLOAD_LIMIT_BYTES_S"}
    swarm.start_tracker()
    swarm.start_peer(content)
    receiver = swarm.start_peer({}, env=limit)
    assert swarm.wait_peers(60) == [0, 0]
    assert (receiver.shared / "one.bin").read_bytes() == content["one.bin"]
