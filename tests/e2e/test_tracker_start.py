"""End-to-end: a tracker says where it listens, and one folder has one
tracker (a second is refused with exit code 2; a dead one's port.txt is
replaced)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess

from swarm.io.tracker.port_file import read_port
from tests.e2e.harness import TEST_ENV, TRACKER_SH, Proc, Swarm, start, wait_for

LISTENING_RE = re.compile(
    r"tracker listening on tcp://\*:(\d+) \(requests\), events on tcp://\*:(\d+); "
    r"port written to (.+)")


def listening_line(proc: Proc) -> re.Match[str] | None:
    for line in proc.stderr().splitlines():
        if m := LISTENING_RE.fullmatch(line):
            return m
    return None


def test_a_second_tracker_in_the_same_folder_is_refused_until_the_first_dies(
        swarm: Swarm) -> None:
    port = swarm.start_tracker()
    first = swarm.tracker
    assert first is not None
    folder = first.cwd
    wait_for(lambda: listening_line(first), 10, "the tracker's listening line")
    m = listening_line(first)
    assert m is not None
    assert int(m[1]) == port
    assert int(m[2]) != port
    assert m[3] == str(folder / "port.txt")

    second = subprocess.run(["sh", str(TRACKER_SH)], cwd=folder, capture_output=True,
                            timeout=20, env={**os.environ, **TEST_ENV})
    assert second.returncode == 2
    assert second.stdout == b""
    error = second.stderr.decode()
    assert "already running" in error
    assert str(folder) in error
    assert f"pid {first.popen.pid}" in error
    assert f"port {port} in port.txt" in error
    assert read_port(folder) == port, "port.txt still names the live tracker"
    assert first.popen.poll() is None, "the first tracker keeps running"

    first.signal(signal.SIGKILL)
    first.wait(10)
    # Its port.txt stays behind; the next tracker replaces it.  The default
    # log level shows the listening line.
    third = start("tracker-again", ["sh", str(TRACKER_SH)], folder,
                  {"SWARM_LOG_LEVEL": "warning"})
    try:
        wait_for(lambda: read_port(folder) not in (None, port), 20, "a new port in port.txt")
        wait_for(lambda: listening_line(third), 10, "the new tracker's listening line")
        m = listening_line(third)
        assert m is not None
        assert int(m[1]) == read_port(folder)
        third.signal(signal.SIGTERM)
        assert third.wait(10) == 0
        assert third.stdout() == ""
    finally:
        third.kill_group()


def test_a_tracker_that_cannot_have_its_dashboard_leaves_no_port_file(swarm: Swarm) -> None:
    """`--http` at an address in use: the tracker says so and exits 1, and
    no port.txt names a tracker that is not there."""
    folder = swarm.root / "tracker"
    folder.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = subprocess.run(["sh", str(TRACKER_SH), "--http", address], cwd=folder,
                                capture_output=True, timeout=20,
                                env={**os.environ, **TEST_ENV})
    assert result.returncode == 1
    assert result.stdout == b""
    assert f"the dashboard cannot listen at {address}" in result.stderr.decode()
    assert not (folder / "port.txt").exists()
