"""What serving the dashboard costs the tracker: a tracker with a few peers,
its dashboard polled as a page polls it, then hammered by many concurrent
clients asking for /api/status -- a new connection per request, then (where
the server keeps connections alive) one connection per client.

For each phase: the requests served per second and their answer times; the
CPU of the tracker's loop (its main thread) and of its other threads (the
dashboard's, ZeroMQ's), in percent of one core, and the latter per request
(the load generator shares the machine, so requests per second say as much
about it as about the server); and how long the tracker's
loop takes to answer a question over its request port (`swarm ls`'s), asked
every 50 ms by a separate process, so the load generator's own interpreter
does not slow the asking down.

    python -m bench.dashboard_load [--clients 32] [--seconds 10] [--peers 4]

Run it on an otherwise idle machine: the load generator, the tracker and
its peers share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
URL_RE = re.compile(r"dashboard at http://127\.0\.0\.1:(\d+)/ ")
START_TIMEOUT_S = 20.0
READ_TIMEOUT_S = 10.0
PROBE_EVERY_S = 0.05
PEER_FILE_BYTES = 200_000
PAGE_POLL_S = 1.0  # the page asks for the status this often
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    name: str
    seconds: float
    answers_s: list[float] = field(default_factory=list)
    failures: int = 0
    loop_cpu_s: float = 0.0
    other_cpu_s: float = 0.0
    probe_s: list[float] = field(default_factory=list)

    def row(self) -> dict[str, float | str | int]:
        def pct(values: list[float], q: float) -> float:
            if not values:
                return float("nan")
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

        return {"phase": self.name,
                "requests_s": round(len(self.answers_s) / self.seconds, 1),
                "failures": self.failures,
                "answer_ms_p50": round(pct(self.answers_s, 0.5), 2),
                "answer_ms_p99": round(pct(self.answers_s, 0.99), 2),
                "loop_cpu_pct": round(100 * self.loop_cpu_s / self.seconds, 1),
                "other_threads_cpu_pct": round(100 * self.other_cpu_s / self.seconds, 1),
                # What the server spends on one answer, however fast the clients ask.
                "other_threads_cpu_us_per_request": round(
                    1e6 * self.other_cpu_s / max(1, len(self.answers_s))),
                "tracker_answer_ms_p50": round(pct(self.probe_s, 0.5), 2),
                "tracker_answer_ms_p99": round(pct(self.probe_s, 0.99), 2)}


def thread_cpu_s(pid: int) -> tuple[float, float]:
    """(main thread, every other thread) CPU seconds of process ``pid``."""
    main = others = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
        if int(task.name) == pid:
            main += seconds
        else:
            others += seconds
    return main, others


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the server keeps the connection) of one response
    with a Content-Length body, read whole."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {name.lower(): value.strip() for name, _, value in
               (line.partition(":") for line in lines[1:] if line)}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


def request(port: int, keep_alive: bool) -> bytes:
    connection = "keep-alive" if keep_alive else "close"
    return (f"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Connection: {connection}\r\n\r\n").encode()


async def client(port: int, phase: Phase, until: float, keep_alive: bool,
                 pause_s: float = 0.0) -> None:
    loop = asyncio.get_running_loop()
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while loop.time() < until:
        started = loop.time()
        try:
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = connection
            writer.write(request(port, keep_alive))
            status, kept = await asyncio.wait_for(read_response(reader), READ_TIMEOUT_S)
            if status == 200:
                phase.answers_s.append(loop.time() - started)
            else:
                phase.failures += 1
            if not (keep_alive and kept):
                writer.close()
                connection = None
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            phase.failures += 1
            if connection is not None:
                connection[1].close()
            connection = None
        if pause_s:
            await asyncio.sleep(pause_s)
    if connection is not None:
        connection[1].close()


async def drive(port: int, phase: Phase, clients: int, keep_alive: bool,
                pause_s: float) -> None:
    until = asyncio.get_running_loop().time() + phase.seconds
    await asyncio.gather(*(client(port, phase, until, keep_alive, pause_s)
                           for _ in range(clients)))


def run_phase(tracker_pid: int, tracker_port: int, http_port: int, phase: Phase,
              clients: int, keep_alive: bool, pause_s: float = 0.0) -> Phase:
    probe = subprocess.Popen([sys.executable, "-m", "bench.dashboard_load", "--probe",
                              str(tracker_port), str(phase.seconds)],
                             cwd=REPO, stdout=subprocess.PIPE, text=True)
    main_before, others_before = thread_cpu_s(tracker_pid)
    asyncio.run(drive(http_port, phase, clients, keep_alive, pause_s))
    main_after, others_after = thread_cpu_s(tracker_pid)
    out, _ = probe.communicate(timeout=phase.seconds + 30)
    phase.probe_s = json.loads(out)
    phase.loop_cpu_s = main_after - main_before
    phase.other_cpu_s = others_after - others_before
    return phase


def probe(tracker_port: int, seconds: float) -> None:
    """Ask the tracker for its listing every PROBE_EVERY_S; print the answer
    times (a JSON list of seconds)."""
    from swarm.tools.client import TrackerClient

    times: list[float] = []
    until = time.monotonic() + seconds
    with TrackerClient("127.0.0.1", tracker_port, timeout_s=READ_TIMEOUT_S) as tracker:
        while time.monotonic() < until:
            started = time.perf_counter()
            tracker.listing()
            times.append(time.perf_counter() - started)
            time.sleep(PROBE_EVERY_S)
    sys.stdout.write(json.dumps(times))


def wait_for_line(path: Path, pattern: re.Pattern[str]) -> re.Match[str]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = pattern.search(path.read_text()) if path.exists() else None
        if found:
            return found
        time.sleep(0.1)
    raise SystemExit(f"not seen in {path} within {START_TIMEOUT_S} s: {pattern.pattern}")


def start_swarm(root: Path, peers: int) -> tuple[list[subprocess.Popen[bytes]], int, int]:
    """A tracker with --http and ``peers`` peers (each with two files, which
    they exchange); returns the processes, the tracker's port, the HTTP port."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SWARM_LOG_LEVEL": "info"}
    tracker_dir = root / "tracker"
    tracker_dir.mkdir()
    stderr_path = tracker_dir / "stderr.txt"
    with open(stderr_path, "wb") as stderr:
        tracker = subprocess.Popen([sys.executable, "-m", "swarm", "tracker", "--http",
                                    "127.0.0.1:0"], cwd=tracker_dir, env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr,
                                   start_new_session=True)
    http_port = int(wait_for_line(stderr_path, URL_RE).group(1))
    tracker_port = int(wait_for_line(tracker_dir / "port.txt", re.compile(r"\d+")).group(0))
    procs = [tracker]
    for i in range(peers):
        shared = root / f"peer{i}" / "Shared"
        shared.mkdir(parents=True)
        for j in range(2):
            (shared / f"file{i}-{j}.bin").write_bytes(os.urandom(PEER_FILE_BYTES))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "swarm", "peer", "127.0.0.1", str(tracker_port), "3600"],
            cwd=shared.parent, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True))
    return procs, tracker_port, http_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--peers", type=int, default=4)
    parser.add_argument("--probe", nargs=2, metavar=("PORT", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(int(args.probe[0]), float(args.probe[1]))
        return
    root = Path(tempfile.mkdtemp(prefix="swarm-dashboard-load-"))
    procs, tracker_port, http_port = start_swarm(root, args.peers)
    try:
        time.sleep(5.0)  # the peers join and exchange their files
        tracker_pid = procs[0].pid
        rows = []
        for name, clients, keep_alive, pause_s in (
                ("page polling", 1, False, PAGE_POLL_S),
                (f"{args.clients} clients, a connection per request", args.clients, False, 0.0),
                (f"{args.clients} clients, kept alive", args.clients, True, 0.0)):
            phase = run_phase(tracker_pid, tracker_port, http_port,
                              Phase(name, args.seconds), clients, keep_alive, pause_s)
            rows.append(phase.row())
            print(json.dumps(rows[-1]), flush=True)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
