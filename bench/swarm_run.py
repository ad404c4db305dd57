"""Times one swarm: N peers, each starting with one distinct random file.

The clock starts when the first peer is launched (the tracker is already up)
and stops when every peer's Shared folder holds every file; a file appears
there only once it is complete and verified (it is linked in whole), and the
copies are compared byte for byte afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Completion is seen this closely: 10 ms for 8 peers, more for more folders
# to list, so the watching never takes a share of the CPU being measured.
POLL_S_PER_8_PEERS = 0.01
TIMEOUT_S = 600.0


@dataclass
class SwarmResult:
    peers: int
    size_bytes: int
    completion_s: float  # first peer launched -> every peer holds every file
    exit_s: float  # first peer launched -> every peer exited
    acquired_lines: int
    peak_rss_kib: list[int]
    peer_cpu_s: list[float]  # user + system time of each peer process
    tracker_cpu_s: float
    peer_complete_s: list[float]  # when each peer held every file, sorted


def _write_files(root: Path, peers: int, size: int, one_file: bool) -> list[str]:
    names = []
    chunk = 1 << 20
    for i in range(1, peers + 1):
        shared = root / f"peer{i}" / "Shared"
        shared.mkdir(parents=True)
        if one_file and i > 1:
            continue
        name = f"file{i}.bin"
        with open(shared / name, "wb") as f:
            left = size
            while left:
                n = min(chunk, left)
                f.write(os.urandom(n))
                left -= n
        names.append(name)
    return names


def _reap(proc: subprocess.Popen[bytes]) -> tuple[bool, float, int]:
    """(exited, CPU seconds, peak RSS KiB) of a child, reaped with wait4 to
    read its usage.  The scripts exec Python, so the child is the peer or the
    tracker itself."""
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    if pid == 0:
        return False, 0.0, 0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return True, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def run_swarm(peers: int, size: int, quiet_s: float = 1.0, keep: bool = False,
              env: dict[str, str] | None = None, one_file: bool = False,
              on_started: Callable[[int, list[int]], None] | None = None) -> SwarmResult:
    """``one_file``: only the first peer starts with a file (a 1 GiB transfer).
    ``on_started(tracker_pid, peer_pids)`` is called once every peer is
    launched (a profiler attaches there)."""
    root = Path(tempfile.mkdtemp(prefix="swarm-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        names = _write_files(root, peers, size, one_file)
        full_env = {**os.environ, **(env or {})}
        tracker, port = _start_tracker(root, full_env)
        procs.append(tracker)
        wanted = set(names)
        shared_dirs = [root / f"peer{i}" / "Shared" for i in range(1, peers + 1)]
        started = time.monotonic()
        for i in range(1, peers + 1):
            # stderr is kept (warnings only, by default): a failed run can be read.
            with open(root / f"peer{i}" / "stderr.txt", "wb") as err:
                procs.append(subprocess.Popen(
                    ["sh", str(REPO / "peer.sh"), "127.0.0.1", port, str(quiet_s)],
                    cwd=root / f"peer{i}", stdout=subprocess.DEVNULL, stderr=err,
                    env=full_env, start_new_session=True))
        peer_procs = procs[1:]
        if on_started is not None:
            on_started(tracker.pid, [p.pid for p in peer_procs])
        rss = [0] * peers
        cpu = [0.0] * peers
        exited = [False] * peers
        peer_done = [0.0] * peers
        pending = list(range(peers))
        completion = None
        while True:
            now = time.monotonic()
            if now - started > TIMEOUT_S:
                raise RuntimeError("swarm did not finish")
            for k, proc in enumerate(peer_procs):
                if not exited[k]:
                    exited[k], cpu[k], rss[k] = _reap(proc)
                    if exited[k] and proc.returncode != 0:
                        raise RuntimeError(f"peer {k + 1} exited with {proc.returncode}")
            if completion is None:
                for k in list(pending):
                    if set(os.listdir(shared_dirs[k])) == wanted:
                        pending.remove(k)
                        peer_done[k] = now - started
                if not pending:
                    completion = now - started
            if completion is not None and all(exited):
                break
            time.sleep(POLL_S_PER_8_PEERS * max(1, peers / 8))
        exit_s = time.monotonic() - started
        bad = [p.returncode for p in peer_procs if p.returncode != 0]
        if bad:
            raise RuntimeError(f"peers exited with {bad}")
        _verify(shared_dirs, names)
        tracker_cpu = _stop(tracker)
        lines = _count_acquired(root / "tracker" / "stdout.txt")
        return SwarmResult(peers, size, completion, exit_s, lines, rss, cpu, tracker_cpu,
                           sorted(peer_done))
    except RuntimeError as exc:
        keep = True
        raise RuntimeError(f"{exc} (its folders are kept in {root})") from None
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


@dataclass
class CrowdResult:
    gets: int
    size_bytes: int
    completion_s: float  # the gets launched -> every get holds the file
    acquired_lines: int
    get_cpu_s: list[float]
    seed_cpu_s: float
    tracker_cpu_s: float
    get_complete_s: list[float]  # when each get held the file, sorted


def _swarm_command(*args: str) -> list[str]:
    python = REPO / ".venv" / "bin" / "python"
    return [str(python) if python.exists() else sys.executable, "-m", "swarm", *args]


def run_crowd(gets: int, size: int, keep: bool = False,
              env: dict[str, str] | None = None) -> CrowdResult:
    """A flash crowd: one `swarm seed` of one file, and once the tracker has
    it, ``gets`` `swarm get`s of it launched at once.  The clock runs from
    that launch until every get's folder holds the file."""
    root = Path(tempfile.mkdtemp(prefix="swarm-crowd-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        (root / "seed").mkdir()
        path = root / "seed" / "artifact.bin"
        with open(path, "wb") as f:
            left = size
            while left:
                n = min(1 << 20, left)
                f.write(os.urandom(n))
                left -= n
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        tracker, port = _start_tracker(root, full_env)
        procs.append(tracker)
        with open(root / "seed" / "stderr.txt", "wb") as err:
            seed = subprocess.Popen(
                _swarm_command("seed", "127.0.0.1", port, str(path), "--forever",
                               "--progress", "never"),
                cwd=root / "seed", stdout=subprocess.DEVNULL, stderr=err, env=full_env,
                start_new_session=True)
        procs.append(seed)
        tracker_out = root / "tracker" / "stdout.txt"
        deadline = time.monotonic() + 30
        while b"CONNECT: OFFERS 1" not in tracker_out.read_bytes():
            if time.monotonic() > deadline:
                raise RuntimeError("the seed did not join")
            time.sleep(0.01)
        folders = [root / f"get{i}" for i in range(1, gets + 1)]
        for folder in folders:
            folder.mkdir()
        started = time.monotonic()
        getters = []
        for folder in folders:
            with open(folder / "stderr.txt", "wb") as err:
                getters.append(subprocess.Popen(
                    _swarm_command("get", "127.0.0.1", port, "artifact.bin", "--to",
                                   str(folder), "--progress", "never"),
                    cwd=folder, stdout=subprocess.DEVNULL, stderr=err, env=full_env,
                    start_new_session=True))
        procs.extend(getters)
        done = [0.0] * gets
        cpu = [0.0] * gets
        exited = [False] * gets
        completion = None
        while completion is None or not all(exited):
            now = time.monotonic()
            if now - started > TIMEOUT_S:
                raise RuntimeError("the crowd did not finish")
            for k, proc in enumerate(getters):
                if not exited[k]:
                    exited[k], cpu[k], _ = _reap(proc)
                    if exited[k] and proc.returncode != 0:
                        raise RuntimeError(f"get {k + 1} exited with {proc.returncode}")
                if not done[k]:
                    target = folders[k] / "artifact.bin"
                    if target.exists() and target.stat().st_size == size:
                        done[k] = now - started
            if completion is None and all(done):
                completion = now - started
            time.sleep(POLL_S_PER_8_PEERS * max(1, gets / 8))
        original = _digest(path)
        for folder in folders:
            if _digest(folder / "artifact.bin") != original:
                raise RuntimeError(f"{folder}/artifact.bin differs from the original")
        seed_cpu = _stop(seed)
        tracker_cpu = _stop(tracker)
        return CrowdResult(gets, size, completion, _count_acquired(tracker_out), cpu, seed_cpu,
                           tracker_cpu, sorted(done))
    except RuntimeError as exc:
        keep = True
        raise RuntimeError(f"{exc} (its folders are kept in {root})") from None
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _start_tracker(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    (root / "tracker").mkdir()
    with open(root / "tracker" / "stdout.txt", "wb") as tracker_out, \
            open(root / "tracker" / "stderr.txt", "wb") as tracker_err:
        tracker = subprocess.Popen(["sh", str(REPO / "tracker.sh")], cwd=root / "tracker",
                                   stdout=tracker_out, stderr=tracker_err,
                                   env=env, start_new_session=True)
    port_file = root / "tracker" / "port.txt"
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if time.monotonic() > deadline:
            os.killpg(tracker.pid, signal.SIGKILL)
            raise RuntimeError("tracker did not start")
        time.sleep(0.01)
    return tracker, port_file.read_text().strip()


def _stop(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM, then its CPU seconds once it has exited."""
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    done, cpu, _ = _reap(proc)
    while not done and time.monotonic() < deadline:
        time.sleep(0.01)
        done, cpu, _ = _reap(proc)
    return cpu


def _count_acquired(path: Path) -> int:
    # Streamed: this process stays small, and the peers it starts inherit
    # its size in the peak RSS that wait4 reports.
    count = 0
    with open(path, "rb") as f:
        for line in f:
            count += line.startswith(b"PEER ") and b" ACQUIRED: " in line
    return count


def _digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.digest()


def _verify(shared_dirs: list[Path], names: list[str]) -> None:
    """Every copy equals the original (peer i's file i), byte for byte."""
    for i, name in enumerate(names):
        original = _digest(shared_dirs[i] / name)
        for shared in shared_dirs:
            if _digest(shared / name) != original:
                raise RuntimeError(f"{shared}/{name} differs from the original")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peers", type=int, default=8)
    parser.add_argument("--size-mib", type=float, default=4)
    parser.add_argument("--quiet-s", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    size = int(args.size_mib * (1 << 20))
    for _ in range(args.runs):
        r = run_swarm(args.peers, size, args.quiet_s)
        print(f"{r.peers} peers x {r.size_bytes / (1 << 20):g} MiB: complete in "
              f"{r.completion_s:.2f} s, all exited in {r.exit_s:.2f} s, "
              f"{r.acquired_lines} ACQUIRED lines, peak RSS per peer "
              f"{max(r.peak_rss_kib) / 1024:.0f} MiB, CPU: peers {sum(r.peer_cpu_s):.2f} s "
              f"(max {max(r.peer_cpu_s):.2f}), tracker {r.tracker_cpu_s:.2f} s; peers done at "
              f"{' '.join(f'{t:.2f}' for t in r.peer_complete_s)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
