"""`make bench`: swarm against libtorrent on the same machine, in one run.

For each workload (peers x file size, every peer starting with one distinct
random file and ending with all of them, verified byte for byte), runs of
swarm and of libtorrent alternate, and the medians are compared.  Also: the
tracker's ACQUIRED lines per second, each peer's peak RSS, and the peak RSS
of a peer moving a 1 GiB file.  Then the scaling table: N = 8 ... 128 peers
x 1 MiB, with seconds per GiB moved (every peer receives the N - 1 files it
lacks), swarm beside libtorrent up to 64 peers.  Prints the tables and writes
bench/results/results.json, completion.png and scaling.png.

    python -m bench [--runs N] [--quick] [--scale] [--no-libtorrent] [--skip-gib]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.swarm_run import SwarmResult, run_swarm

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1 << 20
GIB = 1 << 30
WORKLOADS = [(8, 4 * MIB), (8, 32 * MIB), (2, 256 * MIB)]
QUICK_WORKLOADS = [(8, 4 * MIB), (8, 32 * MIB)]
SCALE_PEERS = [8, 16, 32, 64, 128]
SCALE_SIZE = 1 * MIB
LT_SCALE_MAX_PEERS = 64  # beyond, one libtorrent run takes many minutes


@dataclass
class Row:
    peers: int
    size_bytes: int
    swarm_s: list[float]
    libtorrent_s: list[float]
    lines_per_s: float
    peak_rss_mib: float
    peer_cpu_s: float
    tracker_cpu_s: float

    @property
    def label(self) -> str:
        return f"{self.peers} x {self.size_bytes // MIB} MiB"

    @property
    def gib_moved(self) -> float:
        """Every peer receives the files of the N - 1 others."""
        return self.peers * (self.peers - 1) * self.size_bytes / GIB

    @property
    def swarm_s_per_gib(self) -> float:
        return statistics.median(self.swarm_s) / self.gib_moved

    @property
    def libtorrent_s_per_gib(self) -> float | None:
        if not self.libtorrent_s:
            return None
        return statistics.median(self.libtorrent_s) / self.gib_moved

    @property
    def ratio(self) -> float | None:
        if not self.libtorrent_s:
            return None
        return statistics.median(self.swarm_s) / statistics.median(self.libtorrent_s)


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


def bench_workload(peers: int, size: int, runs: int, with_lt: bool) -> Row:
    swarm_runs: list[SwarmResult] = []
    lt_runs: list[float] = []
    for i in range(runs):
        # Who goes first alternates, so neither always meets the other's
        # leftovers (dirty pages, a warm or cold page allocator).
        order = ["swarm", "libtorrent"] if i % 2 == 0 else ["libtorrent", "swarm"]
        figures = []
        for engine in order:
            if engine == "libtorrent" and not with_lt:
                continue
            sync_disks()
            if engine == "swarm":
                swarm_runs.append(run_swarm(peers, size))
                figures.append(f"swarm {swarm_runs[-1].completion_s:6.2f} s")
            else:
                lt_runs.append(run_libtorrent(peers, size))
                figures.append(f"libtorrent {lt_runs[-1]:6.2f} s")
        print(f"  run {i + 1}: " + "   ".join(figures), flush=True)
    best = sorted(swarm_runs, key=lambda r: r.completion_s)[len(swarm_runs) // 2]
    return Row(
        peers=peers,
        size_bytes=size,
        swarm_s=[r.completion_s for r in swarm_runs],
        libtorrent_s=lt_runs,
        lines_per_s=best.acquired_lines / best.completion_s,
        peak_rss_mib=max(max(r.peak_rss_kib) for r in swarm_runs) / 1024,
        peer_cpu_s=statistics.median(sum(r.peer_cpu_s) for r in swarm_runs),
        tracker_cpu_s=statistics.median(r.tracker_cpu_s for r in swarm_runs),
    )


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


def print_scaling_table(rows: list[Row]) -> None:
    print()
    head = (f"{'workload':<14}{'GiB moved':>10}{'swarm s':>9}{'s/GiB':>7}"
            f"{'libtorrent s':>14}{'s/GiB':>7}{'ratio':>7}{'peak RSS MiB':>14}"
            f"{'CPU peers/tracker s':>21}")
    print(head)
    print("-" * len(head))
    for row in rows:
        lt = f"{statistics.median(row.libtorrent_s):.2f}" if row.libtorrent_s else "-"
        lt_per_gib = row.libtorrent_s_per_gib
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        cpu = f"{row.peer_cpu_s:.1f}/{row.tracker_cpu_s:.1f}"
        print(f"{row.label:<14}{row.gib_moved:>10.2f}{statistics.median(row.swarm_s):>9.2f}"
              f"{row.swarm_s_per_gib:>7.2f}{lt:>14}"
              f"{f'{lt_per_gib:.2f}' if lt_per_gib is not None else '-':>7}{ratio:>7}"
              f"{row.peak_rss_mib:>14.0f}{cpu:>21}")


def scaling_chart(rows: list[Row], reference: Row | None, path: Path) -> None:
    """Seconds per GiB moved against the number of peers, both engines;
    the 8 x 32 MiB figure as the line the goal is measured from."""
    fig, ax = _log_log_chart()
    ax.plot([r.peers for r in rows], [r.swarm_s_per_gib for r in rows], "o-", label="swarm")
    with_lt = [r for r in rows if r.libtorrent_s_per_gib is not None]
    if with_lt:
        ax.plot([r.peers for r in with_lt], [r.libtorrent_s_per_gib for r in with_lt], "s-",
                label="libtorrent 2.1")
    if reference is not None:
        ax.axhline(reference.swarm_s_per_gib, color="grey", linestyle=":",
                   label=f"swarm at {reference.label}")
    ax.set_xticks([r.peers for r in rows])
    _save_chart(fig, ax, "peers (each starts with one 1 MiB file, ends with all)",
                "seconds per GiB moved, median",
                "Cost per byte as the swarm widens, 127.0.0.1, 2 cores", path)


def _log_log_chart() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 4.5))


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


def bench_scaling(runs: int, with_lt: bool) -> list[Row]:
    rows = []
    for peers in SCALE_PEERS:
        print(f"{peers} peers x 1 MiB:", flush=True)
        rows.append(bench_workload(peers, SCALE_SIZE, runs,
                                   with_lt and peers <= LT_SCALE_MAX_PEERS))
    return rows


def print_table(rows: list[Row]) -> None:
    print()
    head = (f"{'workload':<14}{'swarm s':>9}{'libtorrent s':>14}{'ratio':>7}"
            f"{'lines/s':>12}{'peak RSS MiB':>14}{'CPU peers/tracker s':>21}")
    print(head)
    print("-" * len(head))
    for row in rows:
        lt = f"{statistics.median(row.libtorrent_s):.2f}" if row.libtorrent_s else "-"
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        cpu = f"{row.peer_cpu_s:.1f}/{row.tracker_cpu_s:.1f}"
        print(f"{row.label:<14}{statistics.median(row.swarm_s):>9.2f}{lt:>14}{ratio:>7}"
              f"{row.lines_per_s:>12,.0f}{row.peak_rss_mib:>14.0f}{cpu:>21}")


def chart(rows: list[Row], path: Path) -> None:
    # Markers only: the workloads differ in peer count too, so a line between
    # them would suggest a trend that is not there.
    fig, ax = _log_log_chart()
    xs = [r.size_bytes / MIB for r in rows]
    ax.plot(xs, [statistics.median(r.swarm_s) for r in rows], "o", markersize=8, label="swarm")
    with_lt = [r for r in rows if r.libtorrent_s]
    if with_lt:
        ax.plot([r.size_bytes / MIB for r in with_lt],
                [statistics.median(r.libtorrent_s) for r in with_lt], "s", markersize=8,
                label="libtorrent 2.1")
    for r in rows:
        ax.annotate(f"{r.peers} peers", (r.size_bytes / MIB, statistics.median(r.swarm_s)),
                    textcoords="offset points", xytext=(5, 5), fontsize=8)
    _save_chart(fig, ax, "file size per peer (MiB)", "completion time (s), median",
                "Every peer holds every file: swarm vs libtorrent, 127.0.0.1", path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per workload and engine")
    parser.add_argument("--quick", action="store_true", help="only 8 x 4 MiB and 8 x 32 MiB")
    parser.add_argument("--scale", action="store_true",
                        help="only the scaling table (8 to 128 peers x 1 MiB)")
    parser.add_argument("--no-libtorrent", action="store_true")
    parser.add_argument("--skip-gib", action="store_true", help="skip the 1 GiB RSS run")
    args = parser.parse_args(argv)
    with_lt = not args.no_libtorrent
    RESULTS.mkdir(exist_ok=True)
    print("warm-up (not counted): 8 peers x 4 MiB on each engine", flush=True)
    bench_workload(8, 4 * MIB, 1, with_lt)
    # A partial run (--quick, --scale) updates its own part of the results.
    results_file = RESULTS / "results.json"
    results: dict[str, object] = (json.loads(results_file.read_text())
                                  if results_file.exists() else {})
    rows: list[Row] = []
    if not args.scale:
        for peers, size in QUICK_WORKLOADS if args.quick else WORKLOADS:
            print(f"{peers} peers x {size // MIB} MiB:", flush=True)
            rows.append(bench_workload(peers, size, args.runs, with_lt))
        print_table(rows)
        lines_per_s = render_throughput()
        print(f"\ntracker rendering alone: {lines_per_s:,.0f} ACQUIRED lines/s "
              "(one write per batch)")
        results |= {"rows": [asdict(r) | {"ratio": r.ratio} for r in rows],
                    "render_lines_per_s": lines_per_s}
        if not args.skip_gib and not args.quick:
            seconds, rss = gib_rss()
            results["gib"] = {"seconds": seconds, "peak_rss_mib": rss}
            print(f"1 GiB file, seeder to downloader: {seconds:.2f} s, peak RSS per peer "
                  f"{rss:.0f} MiB (goal: under 64 MiB)")
        chart(rows, RESULTS / "completion.png")
        print(f"wrote {RESULTS / 'completion.png'}")
    if not args.quick:
        scaling = bench_scaling(args.runs, with_lt)
        print_scaling_table(scaling)
        reference = next((r for r in rows if (r.peers, r.size_bytes) == (8, 32 * MIB)), None)
        at_64 = next((r for r in scaling if r.peers == 64), None)
        if reference is not None and at_64 is not None:
            print(f"\nswarm s/GiB: {reference.swarm_s_per_gib:.2f} at {reference.label}, "
                  f"{at_64.swarm_s_per_gib:.2f} at {at_64.label} "
                  f"({at_64.swarm_s_per_gib / reference.swarm_s_per_gib:.2f}x; goal: 1.5x)")
        scaling_chart(scaling, reference, RESULTS / "scaling.png")
        results["scaling"] = [asdict(r) | {"ratio": r.ratio, "gib_moved": r.gib_moved,
                                           "swarm_s_per_gib": r.swarm_s_per_gib,
                                           "libtorrent_s_per_gib": r.libtorrent_s_per_gib}
                              for r in scaling]
        print(f"wrote {RESULTS / 'scaling.png'}")
    results_file.write_text(json.dumps(results, indent=2))
    print(f"wrote {results_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
