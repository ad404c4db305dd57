"""`make demo`: a real swarm -- a tracker and four peers as separate processes
in a temporary folder -- on generated files, then a check of every copy.

Run with ``python -m swarm.tools.demo [--peers N] [--size-mib M] [--keep]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from swarm.config import PROJECT_DIR
from swarm.tools.client import TrackerClient, TrackerQueryError
from swarm.tools.report import status_table
from swarm.tracker.listing_json import status_json

TRACKER_SH = PROJECT_DIR / "tracker.sh"
PEER_SH = PROJECT_DIR / "peer.sh"
START_TIMEOUT_S = 20.0
RUN_TIMEOUT_S = 300.0


def say(text: str = "") -> None:
    print(text, flush=True)


def make_files(root: Path, peers: int, size_mib: float, seed: int) -> dict[str, bytes]:
    """Each peer gets one file of its own; one peer gets a small extra and an
    empty file, and the last peer starts with nothing."""
    rng = random.Random(seed)
    originals: dict[str, bytes] = {}
    for i in range(1, peers + 1):
        shared = root / f"peer{i}" / "Shared"
        shared.mkdir(parents=True)
        if i == peers and peers > 1:
            continue  # starts empty: everything it ends with comes from the swarm
        size = int(size_mib * (1 << 20)) + rng.randrange(1, 512)
        name = f"data-{i}.bin"
        originals[name] = rng.randbytes(size)
        (shared / name).write_bytes(originals[name])
    first = root / "peer1" / "Shared"
    originals["notes – café.txt"] = b"a name with spaces and letters beyond ASCII\n"
    (first / "notes – café.txt").write_bytes(originals["notes – café.txt"])
    originals["empty.txt"] = b""
    (first / "empty.txt").write_bytes(b"")
    return originals


def show_tracker_output(path: Path) -> None:
    """The tracker's stdout: its blocks as they are, ACQUIRED lines counted
    (there are thousands), with a few shown for their form."""
    counts: dict[int, int] = {}
    shown = 0
    with open(path, encoding="utf-8") as out:
        for line in out:
            line = line.rstrip("\n")
            if " ACQUIRED: CHUNK " in line:
                peer = int(line.split()[1])
                counts[peer] = counts.get(peer, 0) + 1
                if shown < 3:
                    say(f"  tracker | {line}")
                    shown += 1
                elif shown == 3:
                    say("  tracker | ...")
                    shown += 1
                continue
            say(f"  tracker | {line}")
    per_peer = ", ".join(f"peer {k}: {v:,}" for k, v in sorted(counts.items()))
    say(f"  tracker | ({sum(counts.values()):,} ACQUIRED lines in all -- {per_peer})")


class LiveStatus:
    """`swarm status`, inside the demo: redrawn in place on a terminal, a
    line of progress now and then otherwise."""

    def __init__(self, port: str, files: int) -> None:
        self.client = TrackerClient("127.0.0.1", int(port), timeout_s=2.0)
        self.files = files
        self.tty = sys.stdout.isatty()
        self.drawn_lines = 0
        self.next_s = 0.0

    def refresh(self, elapsed_s: float) -> None:
        now = time.monotonic()
        if now < self.next_s:
            return
        self.next_s = now + (0.3 if self.tty else 1.0)
        try:
            status = status_json(self.client.listing())
        except TrackerQueryError:
            return
        if self.tty:
            text = f"  t = {elapsed_s:4.1f} s\n" + status_table(status)
            if self.drawn_lines:
                sys.stdout.write(f"\x1b[{self.drawn_lines}F\x1b[J")  # back up, clear below
            sys.stdout.write(text)
            sys.stdout.flush()
            self.drawn_lines = text.count("\n")
        else:
            done = " ".join(f"peer{p['peer']}:{len(p['complete'])}/{self.files}"
                            for p in status["peers"])
            say(f"  {elapsed_s:5.1f} s  files complete per peer -- {done}")

    def close(self) -> None:
        self.client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peers", type=int, default=4)
    parser.add_argument("--size-mib", type=float, default=3.0)
    parser.add_argument("--quiet-s", type=float, default=2.0, help="the peers' S")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--upload-limit", type=int, default=4_000_000, metavar="BYTES_S",
                        help="each peer's upload limit, so the swarm is slow enough to "
                             "watch (0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--http", default="127.0.0.1:0", metavar="[ADDR:]PORT",
                        help="the tracker's dashboard (default: a free port on 127.0.0.1; "
                             "empty: none)")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="swarm-demo-"))
    say(f"swarm demo: a tracker and {args.peers} peers in {root}")
    originals = make_files(root, args.peers, args.size_mib, args.seed)
    total = sum(len(d) for d in originals.values())
    say(f"  {len(originals)} files, {total / (1 << 20):.1f} MiB to spread; each peer "
        f"leaves {args.quiet_s:g} s after the last new file once everyone has everything\n")
    env = {**os.environ, "SWARM_UPLOAD_LIMIT_BYTES_S": str(args.upload_limit)}

    procs: list[subprocess.Popen[bytes]] = []
    live: LiveStatus | None = None
    try:
        (root / "tracker").mkdir()
        tracker = start_tracker(root / "tracker", args.http)
        procs.append(tracker)
        port = wait_for_tracker(root / "tracker", tracker, bool(args.http))
        if port is None:
            return 1

        started = time.monotonic()
        peers = []
        for i in range(1, args.peers + 1):
            cwd = root / f"peer{i}"
            with open(cwd / "stdout.txt", "wb") as out, open(cwd / "stderr.txt", "wb") as err:
                peers.append(subprocess.Popen(
                    ["sh", str(PEER_SH), "127.0.0.1", port, str(args.quiet_s)], cwd=cwd,
                    stdout=out, stderr=err, env=env, start_new_session=True))
        procs.extend(peers)

        live = LiveStatus(port, len(originals))
        while any(p.poll() is None for p in peers):
            elapsed = time.monotonic() - started
            if elapsed > RUN_TIMEOUT_S:
                say("the swarm did not finish in time")
                return 1
            live.refresh(elapsed)
            time.sleep(0.05)
        elapsed = time.monotonic() - started

        say("\nWhat the peers printed (stdout):")
        for i, proc in enumerate(peers, 1):
            for line in (root / f"peer{i}" / "stdout.txt").read_text("utf-8").splitlines():
                say(f"  peer{i}   | {line}")
            say(f"  peer{i}   | (exit code {proc.returncode})")

        tracker.send_signal(signal.SIGTERM)
        tracker.wait(timeout=10)
        say(f"\nWhat the tracker printed (stdout; exit code {tracker.returncode}):")
        show_tracker_output(root / "tracker" / "stdout.txt")
        return summary(root, args.peers, originals, peers, elapsed)
    finally:
        if live is not None:
            live.close()
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def start_tracker(folder: Path, http: str) -> subprocess.Popen[bytes]:
    with open(folder / "stdout.txt", "wb") as out, open(folder / "stderr.txt", "wb") as err:
        return subprocess.Popen(["sh", str(TRACKER_SH), *(["--http", http] if http else [])],
                                cwd=folder, stdout=out, stderr=err, start_new_session=True)


def wait_for_tracker(folder: Path, tracker: subprocess.Popen[bytes], http: bool) -> str | None:
    """The tracker's port once it is up (and its dashboard, when asked for)."""
    port_file, stderr = folder / "port.txt", folder / "stderr.txt"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not port_file.exists() or (http and dashboard_url(stderr) is None):
        if time.monotonic() > deadline or tracker.poll() is not None:
            say("the tracker did not start:\n" + stderr.read_text("utf-8", "replace"))
            return None
        time.sleep(0.02)
    port = port_file.read_text().strip()
    say(f"  tracker listening on port {port} (port.txt)")
    if http:
        say(f"  dashboard at {dashboard_url(stderr)} while the swarm runs")
    say("  peers starting:\n")
    return port


def dashboard_url(tracker_stderr: Path) -> str | None:
    """The URL the tracker says its dashboard is at, once it has said so."""
    for line in tracker_stderr.read_text("utf-8", "replace").splitlines():
        if line.startswith("dashboard at "):
            return line.split()[2]
    return None


def summary(root: Path, peers: int, originals: dict[str, bytes],
            procs: list[subprocess.Popen[bytes]], elapsed_s: float) -> int:
    """Check every copy by digest and print a table: a row per file."""
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in originals.items()}
    width = max(len(n) for n in originals) + 2
    say("\nVerification (sha256 of every copy against the original):")
    say(f"  {'file':<{width}}{'size':>12}  " + " ".join(f"peer{i}" for i in range(1, peers + 1)))
    good = 0
    for name in sorted(originals):
        marks = []
        for i in range(1, peers + 1):
            path = root / f"peer{i}" / "Shared" / name
            ok = path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digests[name]
            good += ok
            marks.append(f"{'ok' if ok else 'BAD':>5}")
        say(f"  {name:<{width}}{len(originals[name]):>12}  " + " ".join(marks))
    copies = len(originals) * peers
    exits_ok = all(p.returncode == 0 for p in procs)
    say(f"\n{good}/{copies} copies verified, peers exited "
        f"{'0' if exits_ok else 'with errors'}, {elapsed_s:.1f} s from first peer start "
        "to last peer exit")
    return 0 if good == copies and exits_ok else 1


if __name__ == "__main__":
    sys.exit(main())
