"""What a person sees: peers run on a real pseudo-terminal, their output fed
through a terminal emulator, and the screen compared line by line -- while
the peer runs (never two bars of one file, never a stdout line broken by a
bar) and when it has exited (nothing left over the prompt)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.harness import REPO, Swarm, pieces_stored, random_bytes, wait_for
from tests.e2e.terminal import TerminalRun

MIB = 1 << 20
COLUMNS, ROWS = 100, 30


class ScreenWatch:
    """Looks at every screen a peer's terminal goes through: never two bars
    of one file, never a stdout line broken by the area."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.seen_lines: set[str] = set()

    def __call__(self, lines: list[str]) -> None:
        self.seen_lines.update(lines)
        bars: dict[str, int] = {}
        for line in lines:
            match = re.match(r"(\S+) +\d+% ", line)
            if match:
                bars[match[1]] = bars.get(match[1], 0) + 1
            if "SHUTDOWN" in line and not re.fullmatch(r"PEER \d+ SHUTDOWN: HAS \d+", line):
                self.problems.append(f"a stdout line broken by the area: {line!r}")
        self.problems += [f"{n} bars of {name}" for name, n in bars.items() if n > 1]


class PeerOnTerminal(TerminalRun):
    """A peer whose stdout and stderr are one pseudo-terminal (as in a shell)."""

    def __init__(self, swarm: Swarm, cwd: Path, quiet_s: float,
                 env: dict[str, str] | None = None) -> None:
        self.watch = ScreenWatch()
        super().__init__(["sh", str(REPO / "peer.sh"), "127.0.0.1", str(swarm.port),
                          str(quiet_s)], cwd, {"SWARM_LOG_LEVEL": "warning", **(env or {})},
                         ROWS, COLUMNS, on_screen=self.watch)

    @property
    def problems(self) -> list[str]:
        return self.watch.problems

    @property
    def seen_lines(self) -> set[str]:
        return self.watch.seen_lines


def run_on_terminal(swarm: Swarm, name: str, quiet_s: float,
                    files: dict[str, bytes] | None = None,
                    env: dict[str, str] | None = None) -> PeerOnTerminal:
    cwd = swarm.root / name
    (cwd / "Shared").mkdir(parents=True, exist_ok=True)
    for file_name, data in (files or {}).items():
        (cwd / "Shared" / file_name).write_bytes(data)
    return PeerOnTerminal(swarm, cwd, quiet_s, env)


def test_a_peer_fetching_on_a_terminal_leaves_a_clean_screen(swarm: Swarm) -> None:
    data = random_bytes(303, 6 * MIB)
    swarm.start_tracker()
    # Slow enough that bars are drawn for a while, and the seeder stays.
    swarm.start_peer({"watched.bin": data}, quiet_s=30,
                     env={"SWARM_UPLOAD_LIMIT_BYTES_S": "1500000"})
    run = run_on_terminal(swarm, "watcher", quiet_s=1)
    assert run.wait(timeout_s=60) == 0
    assert not run.problems, run.problems[:5]
    # While it ran: a bar with its rate and ETA, and the live line under it.
    assert any(re.match(r"watched\.bin +\d+% \[[#.]+\] .* MiB/s · ETA \d\d:\d\d · 1 peer$", line)
               for line in run.seen_lines), sorted(run.seen_lines)
    assert any(line.startswith("holding 0 files · fetching 1 file") for line in run.seen_lines)
    # When it has gone: its lines, the contract's block, and nothing else.
    screen = run.final_screen()
    patterns = [
        rf"peer (\d+) joined the swarm at 127\.0\.0\.1:{swarm.port} · sharing 0 files \(0 B\)"
        r" · serving chunks on port \d+",
        r"done watched\.bin: 6\.0 MiB in \d+\.\d s",
        r"PEER (\d+) SHUTDOWN: HAS 1",
        r"(\d+)    watched\.bin",
    ]
    assert len(screen) == len(patterns), screen
    ids: set[str] = set()
    for line, pattern in zip(screen, patterns, strict=True):
        match = re.fullmatch(pattern, line)
        assert match, (line, pattern)
        ids.update(match.groups())
    assert len(ids) == 1  # one peer id throughout
    assert (swarm.root / "watcher" / "Shared" / "watched.bin").read_bytes() == data


def test_a_seeding_peer_says_why_it_stays(swarm: Swarm) -> None:
    data = random_bytes(304, 2 * MIB)
    swarm.start_tracker()
    # Served slowly (about 3.5 s), so the seeder asks the tracker why it
    # stays (every 2 s) while the other peer still fetches.
    seeder = run_on_terminal(swarm, "seeder", quiet_s=6, files={"seeded.bin": data},
                             env={"SWARM_UPLOAD_LIMIT_BYTES_S": "600KB"})
    fetcher = swarm.start_peer({}, quiet_s=1)
    assert seeder.wait(timeout_s=60) == 0
    assert not seeder.problems, seeder.problems[:5]
    seen = seeder.seen_lines
    screen = seeder.final_screen()
    shutdown = re.fullmatch(r"PEER (\d+) SHUTDOWN: HAS 1", screen[1]) if len(screen) == 3 else None
    assert shutdown, screen
    (fetcher_id,) = set(swarm.connects()) - {int(shutdown[1])}
    # Why it stays, as the tracker tells it when asked: who lacks its file, how far along.
    waiting = (rf"seeding 1 file to 1 peer · waiting for peer {fetcher_id} "
               r"\(seeded\.bin \d+ %\) · quiet period ends in \d+ s")
    assert any(re.fullmatch(waiting, line) for line in seen), sorted(seen)
    assert len(screen) == 3, screen
    assert re.fullmatch(r"peer \d+ joined the swarm at .* · sharing 1 file \(2\.0 MiB\) · .*",
                        screen[0])
    assert re.fullmatch(r"PEER \d+ SHUTDOWN: HAS 1", screen[1])
    assert re.fullmatch(r"\d+    seeded\.bin", screen[2])
    assert swarm.wait_peers(30, [fetcher]) == [0]
    assert (fetcher.shared / "seeded.bin").read_bytes() == data


def test_a_resumed_download_is_shown_as_resumed(swarm: Swarm) -> None:
    data = random_bytes(305, 4 * MIB)
    swarm.start_tracker()
    swarm.start_peer({"big.bin": data}, quiet_s=30,
                     env={"SWARM_UPLOAD_LIMIT_BYTES_S": "1500000"})
    first = swarm.start_peer({}, quiet_s=30, name="resumer")

    def some_data_stored() -> bool:
        return pieces_stored(first.proc.cwd) > 0

    wait_for(some_data_stored, 30, "the first run to store some pieces")
    first.proc.kill_group()
    run = run_on_terminal(swarm, "resumer", quiet_s=1)
    assert run.wait(timeout_s=60) == 0
    assert not run.problems, run.problems[:5]
    # Before new data comes the bar says what was resumed, never a rate.
    assert any(re.match(r"big\.bin +\d+% \[[#.]+\] .* · resumed \d+\.\d [KMG]iB · ETA --:--", line)
               for line in run.seen_lines), sorted(run.seen_lines)
    screen = run.final_screen()
    done = r"done big\.bin: 4\.0 MiB in \d+\.\d s \(\d+\.\d [KMG]iB resumed\)"
    assert any(re.fullmatch(done, line) for line in screen), screen
    assert (run_dir(swarm, "resumer") / "Shared" / "big.bin").read_bytes() == data


def run_dir(swarm: Swarm, name: str) -> Path:
    return swarm.root / name
