"""Where the time goes: py-spy attached to the tracker and to one peer of an
8 x 32 MiB swarm, and the functions that took most of it.

    python -m bench.profile [--peers 8] [--size-mib 32] [--top 15]

py-spy samples from outside the process (no instrumentation, no slowdown
to speak of); --native adds the C frames (hashing, zmq, system calls).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.swarm_run import run_swarm

RATE_HZ = 250


def _short(frame: str) -> str:
    """'func (path/to/file.py:12)' -> 'func (file.py)'."""
    if " (" not in frame:
        return frame
    function, _, where = frame.partition(" (")
    return f"{function} ({where.split(':')[0].rsplit('/', 1)[-1]})"


def aggregate(raw: Path, top: int) -> list[tuple[str, float, float]]:
    """(function, self %, total %) from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        samples += count
        frames = [_short(frame) for frame in stack.split(";")[1:]]  # [0] is the thread
        if not frames:
            continue
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return []
    return [(name, 100 * n / samples, 100 * total[name] / samples)
            for name, n in own.most_common(top)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peers", type=int, default=8)
    parser.add_argument("--size-mib", type=float, default=32)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--native", action="store_true")
    parser.add_argument("--gil", action="store_true",
                        help="only samples holding the GIL: Python at work, not waiting")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = Path(tempfile.mkdtemp(prefix="swarm-profile-"))
    spies: list[subprocess.Popen[bytes]] = []

    def attach(tracker_pid: int, peer_pids: list[int]) -> None:
        time.sleep(0.05)  # let the scripts exec into Python
        for name, pid in (("tracker", tracker_pid), ("peer", peer_pids[0])):
            command = [py_spy, "record", "--pid", str(pid), "--rate", str(RATE_HZ),
                       "--format", "raw", "-o", str(out / f"{name}.txt")]
            # Native frames need the process stopped for each sample; without
            # them py-spy reads the Python stack while it runs.
            command.append("--native" if args.native else "--nonblocking")
            if args.gil:
                command.append("--gil")
            spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))

    result = run_swarm(args.peers, int(args.size_mib * (1 << 20)), on_started=attach)
    for spy in spies:
        spy.wait(timeout=60)
    print(f"{args.peers} peers x {args.size_mib:g} MiB: complete in {result.completion_s:.2f} s "
          f"(under the profiler)")
    for name in ("peer", "tracker"):
        print(f"\n{name}: self %  total %  function")
        for function, own, total in aggregate(out / f"{name}.txt", args.top):
            print(f"  {own:6.1f}  {total:6.1f}  {function}")
    shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
