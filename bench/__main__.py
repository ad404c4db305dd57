"""`make bench`: swarm against libtorrent and against the floor, in one run.

For each workload (peers x file size, every peer starting with one distinct
random file and ending with all of them, verified byte for byte), runs of
swarm, libtorrent and the floor (bench/floor.py: only the work any design
with one process per peer must do) alternate, and the medians are compared;
so does the floor's chain on ZeroMQ (bench/floor_zmq.py), which shows what
ZeroMQ itself costs, since swarm moves its bytes over it, and (for the
workloads of the first table) the floor hashing each peer's own file in the
clock, as any peer must before it offers a file others verify: the plain
floor takes its digests from before the clock.
Then the flash crowds (one `swarm seed`, N `swarm get` launched at once,
beside the floor's one source and N receivers); the tracker's ACQUIRED lines
per second, each peer's peak RSS, and the peak RSS of a peer moving a 1 GiB
file; the scaling table (N = 8 ... 128 peers x 1 MiB, seconds per GiB
moved, libtorrent up to 64 peers); and the steadiness runs (five 64 x 1 MiB
swarms and five 32-get crowds in a row: the slowest against the fastest).
Prints the tables and writes bench/results/results.json, completion.png and
scaling.png.

    python -m bench [--runs N] [--quick] [--scale] [--no-libtorrent] [--skip-gib]
                    [--skip-crowd] [--skip-steady]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.floor import run_floor
from bench.swarm_run import SwarmResult, run_crowd, run_swarm

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1 << 20
GIB = 1 << 30
WORKLOADS = [(8, 4 * MIB), (8, 32 * MIB), (2, 200 * MIB)]
QUICK_WORKLOADS = [(8, 4 * MIB), (8, 32 * MIB)]
CROWDS = [8, 32]  # gets launched at once
CROWD_SIZE = 32 * MIB
SCALE_PEERS = [8, 16, 32, 64, 128]
SCALE_SIZE = 1 * MIB
LT_SCALE_MAX_PEERS = 64  # beyond, one libtorrent run takes many minutes
STEADY_RUNS = 5


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class Row:
    peers: int
    size_bytes: int
    swarm_s: list[float]
    libtorrent_s: list[float]
    floor_s: list[float]
    lines_per_s: float
    peak_rss_mib: float
    peer_cpu_s: float
    tracker_cpu_s: float
    floor_cpu_s: float
    # The floor's chain on ZeroMQ (bench/floor_zmq.py): what ZeroMQ itself costs.
    zmq_floor_s: list[float] = field(default_factory=list)
    # The floor hashing each peer's own file in the clock (bench/floor.py
    # --hash-own), as a peer must before it offers it.
    hashing_floor_s: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.peers} x {self.size_bytes // MIB} MiB"

    @property
    def gib_moved(self) -> float:
        """Every peer receives the files of the N - 1 others."""
        return self.peers * (self.peers - 1) * self.size_bytes / GIB

    def s_per_gib(self, runs: list[float]) -> float | None:
        median = _median(runs)
        return None if median is None else median / self.gib_moved

    @property
    def ratio(self) -> float | None:
        """swarm / libtorrent, medians."""
        if not self.libtorrent_s:
            return None
        return statistics.median(self.swarm_s) / statistics.median(self.libtorrent_s)

    @property
    def floor_ratio(self) -> float | None:
        """swarm / the floor, medians."""
        if not self.floor_s:
            return None
        return statistics.median(self.swarm_s) / statistics.median(self.floor_s)

    @property
    def zmq_floor_ratio(self) -> float | None:
        """swarm / the floor on ZeroMQ, medians."""
        if not self.zmq_floor_s:
            return None
        return statistics.median(self.swarm_s) / statistics.median(self.zmq_floor_s)

    @property
    def hashing_floor_ratio(self) -> float | None:
        """swarm / the floor hashing its own files, medians."""
        if not self.hashing_floor_s:
            return None
        return statistics.median(self.swarm_s) / statistics.median(self.hashing_floor_s)

    def figures(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio, "floor_ratio": self.floor_ratio,
                               "zmq_floor_ratio": self.zmq_floor_ratio,
                               "hashing_floor_ratio": self.hashing_floor_ratio,
                               "gib_moved": self.gib_moved,
                               "swarm_s_per_gib": self.s_per_gib(self.swarm_s),
                               "libtorrent_s_per_gib": self.s_per_gib(self.libtorrent_s),
                               "floor_s_per_gib": self.s_per_gib(self.floor_s)}


@dataclass
class CrowdRow:
    gets: int
    size_bytes: int
    swarm_s: list[float]
    floor_s: list[float]
    get_cpu_s: float
    seed_cpu_s: float
    tracker_cpu_s: float
    get_complete_s: list[list[float]] = field(default_factory=list)
    zmq_floor_s: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"seed + {self.gets} gets x {self.size_bytes // MIB} MiB"

    @property
    def floor_ratio(self) -> float:
        return statistics.median(self.swarm_s) / statistics.median(self.floor_s)

    @property
    def zmq_floor_ratio(self) -> float:
        return statistics.median(self.swarm_s) / statistics.median(self.zmq_floor_s)


def sync_disks() -> None:
    """Flush dirty pages first, so no run pays for the previous one's writes."""
    subprocess.run(["sync"], check=False)


def run_libtorrent(peers: int, size: int) -> float:
    # In a process of its own: libtorrent's threads and memory stay out of ours.
    out = subprocess.run(
        [sys.executable, "-m", "bench.lt_run", "--peers", str(peers),
         "--size-mib", str(size / MIB), "--runs", "1"],
        check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    return float(out.split("complete in ")[1].split(" s")[0])


def _rotated(engines: list[str], i: int) -> list[str]:
    """Who goes first turns with each run, so no engine always meets another's
    leftovers (dirty pages, a warm or cold page allocator)."""
    k = i % len(engines)
    return engines[k:] + engines[:k]


def bench_workload(peers: int, size: int, runs: int, lt_runs: int,
                   with_zmq_floor: bool = True, with_hashing_floor: bool = False) -> Row:
    """``runs`` of swarm and of each floor, alternating, and libtorrent in the
    first ``lt_runs`` of them (0: not at all).  A median of five holds where
    one of three moves with the machine's speed; libtorrent, minutes a run at
    64 peers and no goal's measure, is run fewer times."""
    swarm_runs: list[SwarmResult] = []
    lt_times: list[float] = []
    floor_runs: list[float] = []
    floor_cpu: list[float] = []
    zmq_floor_runs: list[float] = []
    hashing_floor_runs: list[float] = []
    ours = ["swarm", "floor"]
    if with_zmq_floor:
        ours.append("zmq floor")
    if with_hashing_floor:
        ours.append("hashing floor")
    for i in range(runs):
        figures = []
        engines = ["swarm", "libtorrent", *ours[1:]] if i < lt_runs else ours
        for engine in _rotated(engines, i):
            sync_disks()
            if engine == "swarm":
                swarm_runs.append(run_swarm(peers, size))
                figures.append(f"swarm {swarm_runs[-1].completion_s:6.2f} s")
            elif engine == "libtorrent":
                lt_times.append(run_libtorrent(peers, size))
                figures.append(f"libtorrent {lt_times[-1]:6.2f} s")
            elif engine == "zmq floor":
                zmq_floor_runs.append(run_floor(peers, size, transport="zmq").completion_s)
                figures.append(f"zmq floor {zmq_floor_runs[-1]:6.2f} s")
            elif engine == "hashing floor":
                hashing_floor_runs.append(run_floor(peers, size, hash_own=True).completion_s)
                figures.append(f"hashing floor {hashing_floor_runs[-1]:6.2f} s")
            else:
                floor = run_floor(peers, size)
                floor_runs.append(floor.completion_s)
                floor_cpu.append(sum(floor.peer_cpu_s) + floor.lines_cpu_s)
                figures.append(f"floor {floor.completion_s:6.2f} s")
        print(f"  run {i + 1}: " + "   ".join(figures), flush=True)
    best = sorted(swarm_runs, key=lambda r: r.completion_s)[len(swarm_runs) // 2]
    return Row(
        peers=peers,
        size_bytes=size,
        swarm_s=[r.completion_s for r in swarm_runs],
        libtorrent_s=lt_times,
        floor_s=floor_runs,
        lines_per_s=best.acquired_lines / best.completion_s,
        peak_rss_mib=max(max(r.peak_rss_kib) for r in swarm_runs) / 1024,
        peer_cpu_s=statistics.median(sum(r.peer_cpu_s) for r in swarm_runs),
        tracker_cpu_s=statistics.median(r.tracker_cpu_s for r in swarm_runs),
        floor_cpu_s=statistics.median(floor_cpu),
        zmq_floor_s=zmq_floor_runs,
        hashing_floor_s=hashing_floor_runs,
    )


def bench_crowd(gets: int, size: int, runs: int) -> CrowdRow:
    """One seed and ``gets`` gets at once, beside the floor's one source and
    ``gets`` receivers."""
    swarm_s: list[float] = []
    floor_s: list[float] = []
    zmq_floor_s: list[float] = []
    cpu: list[tuple[float, float, float]] = []
    complete: list[list[float]] = []
    for i in range(runs):
        figures = []
        for engine in _rotated(["swarm", "floor", "zmq floor"], i):
            sync_disks()
            if engine == "swarm":
                crowd = run_crowd(gets, size)
                swarm_s.append(crowd.completion_s)
                cpu.append((sum(crowd.get_cpu_s), crowd.seed_cpu_s, crowd.tracker_cpu_s))
                complete.append(crowd.get_complete_s)
                figures.append(f"swarm {crowd.completion_s:6.2f} s")
            elif engine == "zmq floor":
                zmq_floor_s.append(
                    run_floor(gets + 1, size, crowd=True, transport="zmq").completion_s)
                figures.append(f"zmq floor {zmq_floor_s[-1]:6.2f} s")
            else:
                floor_s.append(run_floor(gets + 1, size, crowd=True).completion_s)
                figures.append(f"floor {floor_s[-1]:6.2f} s")
        print(f"  run {i + 1}: " + "   ".join(figures), flush=True)
    return CrowdRow(gets, size, swarm_s, floor_s,
                    statistics.median(c[0] for c in cpu), statistics.median(c[1] for c in cpu),
                    statistics.median(c[2] for c in cpu), complete, zmq_floor_s)


def bench_steady(runs: int) -> dict[str, list[float]]:
    """Five 64 x 1 MiB swarms and five 32-get crowds in a row: is a run's time
    a property of swarm, or of its luck?"""
    times: dict[str, list[float]] = {"64 x 1 MiB": [], "seed + 32 gets x 32 MiB": []}
    for _ in range(runs):
        sync_disks()
        times["64 x 1 MiB"].append(run_swarm(64, SCALE_SIZE).completion_s)
        sync_disks()
        times["seed + 32 gets x 32 MiB"].append(run_crowd(32, CROWD_SIZE).completion_s)
        print("  " + "   ".join(f"{k} {v[-1]:6.2f} s" for k, v in times.items()), flush=True)
    return times


def gib_rss() -> tuple[float, float]:
    """A seeder and a downloader moving one 1 GiB file: (seconds, peak RSS MiB)."""
    sync_disks()
    result = run_swarm(2, 1024 * MIB, one_file=True)
    return result.completion_s, max(result.peak_rss_kib) / 1024


def render_throughput() -> float:
    """ACQUIRED lines per second the tracker renders and writes, alone."""
    from swarm.io.common.stdout import StdoutWriter
    from swarm.protocol.display import Acquired

    blocks = [Acquired(1, "file.bin", 65536, [(i * 512, (i + 1) * 512)]) for i in range(128)]
    with open("/dev/null", "wb") as sink:
        writer = StdoutWriter(sink)
        started = time.perf_counter()
        for _ in range(10):
            writer.write(blocks)
        elapsed = time.perf_counter() - started
    return 10 * 65536 / elapsed


def _cell(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(rows: list[Row]) -> None:
    print()
    head = (f"{'workload':<14}{'swarm s':>9}{'floor s':>9}{'/floor':>8}{'zmq floor s':>13}"
            f"{'/zmq':>6}{'hashing floor s':>17}{'/hashing':>10}{'libtorrent s':>14}"
            f"{'/lt':>6}{'lines/s':>12}{'peak RSS MiB':>14}{'CPU peers/tracker/floor s':>27}")
    print(head)
    print("-" * len(head))
    for row in rows:
        cpu = f"{row.peer_cpu_s:.1f}/{row.tracker_cpu_s:.1f}/{row.floor_cpu_s:.1f}"
        print(f"{row.label:<14}{_cell(_median(row.swarm_s)):>9}{_cell(_median(row.floor_s)):>9}"
              f"{_cell(row.floor_ratio):>8}{_cell(_median(row.zmq_floor_s)):>13}"
              f"{_cell(row.zmq_floor_ratio):>6}{_cell(_median(row.hashing_floor_s)):>17}"
              f"{_cell(row.hashing_floor_ratio):>10}{_cell(_median(row.libtorrent_s)):>14}"
              f"{_cell(row.ratio):>6}{row.lines_per_s:>12,.0f}{row.peak_rss_mib:>14.0f}{cpu:>27}")


def print_crowd_table(rows: list[CrowdRow]) -> None:
    print()
    head = (f"{'flash crowd':<26}{'swarm s':>9}{'floor s':>9}{'/floor':>8}{'zmq floor s':>13}"
            f"{'/zmq':>6}{'spread':>8}{'CPU gets/seed/tracker s':>25}")
    print(head)
    print("-" * len(head))
    for row in rows:
        spread = max(row.swarm_s) / min(row.swarm_s)
        cpu = f"{row.get_cpu_s:.1f}/{row.seed_cpu_s:.1f}/{row.tracker_cpu_s:.1f}"
        print(f"{row.label:<26}{statistics.median(row.swarm_s):>9.2f}"
              f"{statistics.median(row.floor_s):>9.2f}{row.floor_ratio:>8.2f}"
              f"{statistics.median(row.zmq_floor_s):>13.2f}{row.zmq_floor_ratio:>6.2f}"
              f"{spread:>8.2f}"
              f"{cpu:>25}")


def print_scaling_table(rows: list[Row]) -> None:
    print()
    head = (f"{'workload':<14}{'GiB moved':>10}{'swarm s':>9}{'s/GiB':>7}{'floor s':>9}"
            f"{'/floor':>8}{'libtorrent s':>14}{'/lt':>6}{'peak RSS MiB':>14}"
            f"{'CPU peers/tracker/floor s':>27}")
    print(head)
    print("-" * len(head))
    for row in rows:
        cpu = f"{row.peer_cpu_s:.1f}/{row.tracker_cpu_s:.1f}/{row.floor_cpu_s:.1f}"
        print(f"{row.label:<14}{row.gib_moved:>10.2f}{statistics.median(row.swarm_s):>9.2f}"
              f"{_cell(row.s_per_gib(row.swarm_s)):>7}{_cell(_median(row.floor_s)):>9}"
              f"{_cell(row.floor_ratio):>8}{_cell(_median(row.libtorrent_s)):>14}"
              f"{_cell(row.ratio):>6}{row.peak_rss_mib:>14.0f}{cpu:>27}")


def _log_log_chart() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    return fig, ax


def _save_chart(fig: Any, ax: Any, xlabel: str, ylabel: str, title: str, path: Path) -> None:
    """Log axes labelled in plain numbers, a grid, a legend; written as PNG."""
    import matplotlib.ticker

    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


ENGINES = (("swarm", "o", "swarm_s"), ("libtorrent 2.1", "s", "libtorrent_s"),
           ("the floor", "^", "floor_s"), ("the floor on ZeroMQ", "v", "zmq_floor_s"))


def chart(rows: list[Row], path: Path) -> None:
    # Markers only: the workloads differ in peer count too, so a line between
    # them would suggest a trend that is not there.
    fig, ax = _log_log_chart()
    for label, marker, attribute in ENGINES:
        shown = [r for r in rows if getattr(r, attribute)]
        if shown:
            ax.plot([r.size_bytes / MIB for r in shown],
                    [statistics.median(getattr(r, attribute)) for r in shown], marker,
                    markersize=8, label=label)
    for r in rows:
        ax.annotate(f"{r.peers} peers", (r.size_bytes / MIB, statistics.median(r.swarm_s)),
                    textcoords="offset points", xytext=(5, 5), fontsize=8)
    _save_chart(fig, ax, "file size per peer (MiB)", "completion time (s), median",
                "Every peer holds every file: swarm, libtorrent and the floor", path)


def scaling_chart(rows: list[Row], path: Path) -> None:
    """Seconds per GiB moved against the number of peers: swarm, libtorrent
    and the floor."""
    fig, ax = _log_log_chart()
    for label, marker, attribute in ENGINES:
        shown = [r for r in rows if getattr(r, attribute)]
        if shown:
            ax.plot([r.peers for r in shown], [r.s_per_gib(getattr(r, attribute)) for r in shown],
                    f"{marker}-", label=label)
    ax.set_xticks([r.peers for r in rows])
    _save_chart(fig, ax, "peers (each starts with one 1 MiB file, ends with all)",
                "seconds per GiB moved, median",
                "Cost per byte as the swarm widens, 127.0.0.1, 2 cores", path)


def bench_scaling(runs: int, lt_runs: int) -> list[Row]:
    rows = []
    for peers in SCALE_PEERS:
        print(f"{peers} peers x 1 MiB:", flush=True)
        # The floor on ZeroMQ is in the workloads' and the crowds' tables.
        rows.append(bench_workload(peers, SCALE_SIZE, runs,
                                   lt_runs if peers <= LT_SCALE_MAX_PEERS else 0,
                                   with_zmq_floor=False))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5,
                        help="runs per workload of swarm and of each floor")
    parser.add_argument("--lt-runs", type=int, default=3,
                        help="runs per workload of libtorrent (at most --runs)")
    parser.add_argument("--quick", action="store_true", help="only 8 x 4 MiB and 8 x 32 MiB")
    parser.add_argument("--scale", action="store_true",
                        help="only the scaling table (8 to 128 peers x 1 MiB)")
    parser.add_argument("--no-libtorrent", action="store_true")
    parser.add_argument("--skip-gib", action="store_true", help="skip the 1 GiB RSS run")
    parser.add_argument("--skip-crowd", action="store_true", help="skip the flash crowds")
    parser.add_argument("--skip-steady", action="store_true", help="skip the steadiness runs")
    args = parser.parse_args(argv)
    lt_runs = 0 if args.no_libtorrent else min(args.lt_runs, args.runs)
    RESULTS.mkdir(exist_ok=True)
    print("warm-up (not counted): 8 peers x 4 MiB on each engine", flush=True)
    bench_workload(8, 4 * MIB, 1, min(lt_runs, 1))
    # A partial run (--quick, --scale) updates its own part of the results.
    results_file = RESULTS / "results.json"
    results: dict[str, object] = (json.loads(results_file.read_text())
                                  if results_file.exists() else {})
    rows: list[Row] = []
    scaling: list[Row] = []
    if not args.scale:
        for peers, size in QUICK_WORKLOADS if args.quick else WORKLOADS:
            print(f"{peers} peers x {size // MIB} MiB:", flush=True)
            rows.append(bench_workload(peers, size, args.runs, lt_runs,
                                       with_hashing_floor=True))
        print_table(rows)
        lines_per_s = render_throughput()
        print(f"\ntracker rendering alone: {lines_per_s:,.0f} ACQUIRED lines/s "
              "(one batch at a time)")
        results |= {"rows": [r.figures() for r in rows], "render_lines_per_s": lines_per_s}
        if not args.skip_crowd and not args.quick:
            crowds = []
            for gets in CROWDS:
                print(f"flash crowd: one seed, {gets} gets x {CROWD_SIZE // MIB} MiB:", flush=True)
                crowds.append(bench_crowd(gets, CROWD_SIZE, args.runs))
            print_crowd_table(crowds)
            results["crowds"] = [asdict(c) | {"floor_ratio": c.floor_ratio} for c in crowds]
        if not args.skip_gib and not args.quick:
            seconds, rss = gib_rss()
            results["gib"] = {"seconds": seconds, "peak_rss_mib": rss}
            print(f"\n1 GiB file, seeder to downloader: {seconds:.2f} s, peak RSS per peer "
                  f"{rss:.0f} MiB (goal: under 64 MiB)")
    if not args.quick:
        scaling = bench_scaling(args.runs, lt_runs)
        print_scaling_table(scaling)
        results["scaling"] = [r.figures() for r in scaling]
    if not args.quick and not args.scale and not args.skip_steady:
        print(f"\nsteadiness: {STEADY_RUNS} runs of each in a row", flush=True)
        steady = bench_steady(STEADY_RUNS)
        for name, times in steady.items():
            print(f"  {name}: {' '.join(f'{t:.2f}' for t in times)} s; slowest / fastest "
                  f"{max(times) / min(times):.2f} (goal: 1.3 at most)")
        results["steady"] = steady
    # The charts last: a process started after matplotlib is loaded here would
    # report this process's size as its own peak RSS (wait4 counts the memory
    # a child had before it exec'd).
    if rows:
        chart(rows, RESULTS / "completion.png")
        print(f"wrote {RESULTS / 'completion.png'}")
    if scaling:
        scaling_chart(scaling, RESULTS / "scaling.png")
        print(f"wrote {RESULTS / 'scaling.png'}")
    results_file.write_text(json.dumps(results, indent=2))
    print(f"wrote {results_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
