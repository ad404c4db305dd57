"""The console's words and its live area, drawn into a terminal emulator."""

from __future__ import annotations

import io

import pyte

from swarm.io.peer.console import LiveArea, bar_line, eta_text, finished_line, joined_line
from swarm.peer.progress import FileProgress

MIB = 1 << 20


class FakeTerminal(io.StringIO):
    """A text stream that is a terminal of 60 x 10 for LiveArea, and a screen."""

    def __init__(self) -> None:
        super().__init__()
        self.screen = pyte.Screen(60, 10)
        self.stream = pyte.Stream(self.screen)

    def write(self, text: str) -> int:
        # A terminal's line discipline turns "\n" into "\r\n".
        self.stream.feed(text.replace("\n", "\r\n"))
        return len(text)

    def fileno(self) -> int:
        raise OSError("not a real terminal")  # the area falls back to its default size

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display if line.strip()]


def progress(held: int, resumed: int = 0, name: str = "a.bin") -> FileProgress:
    return FileProgress(b"k", name, 4 * MIB, held, 2, False, resumed)


def test_a_bar_fits_its_columns_and_says_rate_eta_and_sources() -> None:
    line = bar_line(progress(MIB), 1.0 * MIB, 100)
    assert len(line) <= 99
    assert line.startswith("a.bin                 25% [")
    assert line.endswith("] 1.0 MiB/4.0 MiB · 1.0 MiB/s · ETA 00:03 · 2 peers")


def test_resumed_bytes_are_shown_as_resumed_not_as_a_rate() -> None:
    line = bar_line(progress(MIB, resumed=MIB), None, 100)
    assert "resumed 1.0 MiB · ETA --:--" in line and "/s" not in line


def test_a_long_name_is_shortened_and_a_narrow_terminal_drops_the_bar() -> None:
    line = bar_line(progress(0, name="x" * 40), None, 100)
    assert line.startswith("x" * 19 + "…")
    narrow = bar_line(progress(0), None, 40)
    assert len(narrow) <= 39 and "[" not in narrow


def test_times_and_lines_in_words() -> None:
    assert eta_text(None) == "ETA --:--"
    assert eta_text(61.2) == "ETA 01:02"
    assert eta_text(3600 * 2 + 5) == "ETA 2:00:05"
    assert finished_line("a.bin", 4 * MIB, 1.25, MIB) == (
        "done a.bin: 4.0 MiB in 1.2 s (1.0 MiB resumed)")
    assert joined_line({"peer": 3, "files": 1, "bytes": 512, "port": 4000}, "h:1") == (
        "peer 3 joined the swarm at h:1 · sharing 1 file (512 B) · serving chunks on port 4000")


def test_the_area_is_redrawn_in_place_and_lines_go_above_it() -> None:
    terminal = FakeTerminal()
    area = LiveArea(terminal)
    area.draw(["bar one", "status"])
    area.draw(["bar one, later", "status, later"])
    assert terminal.lines() == ["bar one, later", "status, later"]
    area.above("a log line")
    assert terminal.lines() == ["a log line", "bar one, later", "status, later"]
    area.draw(["status only"])  # the bar's file finished: no stale bar stays
    assert terminal.lines() == ["a log line", "status only"]
    area.close()
    terminal.write("PEER 1 SHUTDOWN: HAS 0\n")
    assert terminal.lines() == ["a log line", "PEER 1 SHUTDOWN: HAS 0"]
    assert (terminal.screen.cursor.x, terminal.screen.cursor.y) == (0, 2)
