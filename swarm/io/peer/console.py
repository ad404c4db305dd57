"""What a person watching a peer sees on stderr.

On a terminal: one line when the peer joins, a bar per file being fetched,
a line for each file finished, and at the bottom one live line saying what
the peer does and why it stays.  The bars and the live line form an area at
the bottom of the terminal that is erased and redrawn in place; log lines
and the contract's stdout blocks (when stdout is the same terminal) are
written above it, never into it, and the area is erased when the peer
exits, so nothing is left over the shell's prompt.

Elsewhere (stderr a file or a pipe): no drawing at all; the join line is
logged at info level, as the rest of what a peer does already is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from swarm.peer.progress import FileProgress, PeerStatus, plural, status_line
from swarm.units import human_rate, human_size

log = logging.getLogger("swarm.peer")

REFRESH_S = 0.2  # how often the area is redrawn
RATE_WINDOW_S = 3.0  # a bar's rate: bytes stored over about this long
DEFAULT_COLUMNS = 100  # when the terminal reports no size (a bare pty)
DEFAULT_ROWS = 24
NAME_COLUMNS = 20  # a file name longer than this is shortened in its bar
MIN_BAR_COLUMNS = 6
ERASE_LINE = "\r\x1b[2K"
UP_AND_ERASE = "\x1b[1A\x1b[2K"


def wanted(mode: str, stream: TextIO | None = None) -> bool:
    """--progress auto|always|never: auto means "when stderr is a terminal"."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return (stream or sys.stderr).isatty()


def same_terminal(a: TextIO, b: TextIO) -> bool:
    """Do two streams write to one terminal (so one's lines land in the other's)?"""
    try:
        if not (a.isatty() and b.isatty()):
            return False
        return os.fstat(a.fileno()).st_rdev == os.fstat(b.fileno()).st_rdev
    except (OSError, ValueError):
        return False


def _terminal_size(stream: TextIO) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):
        return DEFAULT_COLUMNS, DEFAULT_ROWS
    return (size.columns or DEFAULT_COLUMNS), (size.lines or DEFAULT_ROWS)


# --- the words and the bars (pure) ---------------------------------------------------


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "ETA --:--"
    whole = int(seconds + 0.999)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"ETA {hours}:{minutes:02d}:{secs:02d}" if hours else f"ETA {minutes:02d}:{secs:02d}"


def bar_line(f: FileProgress, rate_bps: float | None, columns: int) -> str:
    """One download in at most ``columns - 1`` characters (a line that fills
    the last column makes some terminals wrap, and the area's height wrong)."""
    name = f.name if len(f.name) <= NAME_COLUMNS else f.name[:NAME_COLUMNS - 1] + "…"
    fraction = f.held_bytes / f.size_bytes if f.size_bytes else 1.0
    remaining = f.size_bytes - f.held_bytes
    if rate_bps:
        speed, eta = human_rate(rate_bps), eta_text(remaining / rate_bps)
    elif f.resumed_bytes and f.held_bytes == f.resumed_bytes:
        speed, eta = f"resumed {human_size(f.resumed_bytes)}", eta_text(None)
    else:
        speed, eta = "starting", eta_text(None)
    sources = plural(f.sources, "peer")
    tail = (f" {human_size(f.held_bytes)}/{human_size(f.size_bytes)}"
            f" · {speed} · {eta} · {sources}")
    head = f"{name:<{NAME_COLUMNS}} {int(fraction * 100):3d}% "
    room = columns - 1 - len(head) - len(tail) - 2
    if room < MIN_BAR_COLUMNS:
        return (head + tail.lstrip())[:columns - 1]
    filled = int(fraction * room)
    return f"{head}[{'#' * filled}{'.' * (room - filled)}]{tail}"


def finished_line(name: str, size_bytes: int, took_s: float | None, resumed_bytes: int) -> str:
    took = f" in {took_s:.1f} s" if took_s is not None else ""
    resumed = f" ({human_size(resumed_bytes)} resumed)" if resumed_bytes else ""
    return f"done {name}: {human_size(size_bytes)}{took}{resumed}"


def joined_line(fields: Mapping[str, Any], tracker: str) -> str:
    files = plural(int(fields.get("files", 0)), "file")
    return (f"peer {fields.get('peer', '?')} joined the swarm at {tracker} · sharing "
            f"{files} ({human_size(fields.get('bytes', 0))})"
            f" · serving chunks on port {fields.get('port', '?')}")


# --- drawing ---------------------------------------------------------------------------


class LiveArea:
    """Lines at the bottom of a terminal, redrawn in place.  The cursor is
    left at the end of the last line drawn, so erasing is: this line, then
    up one and erase, once for every other line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._drawn = 0
        self._lines: list[str] = []
        # Log lines may come from other threads (hashing, authentication).
        self._lock = threading.RLock()

    def _erase_text(self) -> str:
        if not self._drawn:
            return ""
        return ERASE_LINE + UP_AND_ERASE * (self._drawn - 1)

    def draw(self, lines: list[str]) -> None:
        columns, rows = _terminal_size(self.stream)
        lines = [line[:columns - 1] for line in lines[-max(1, rows - 1):]]
        with self._lock:
            self._lines = lines
            self.stream.write(self._erase_text() + "\n".join(lines))
            self.stream.flush()
            self._drawn = len(lines)

    def erase(self) -> None:
        """Take the area off the screen (the cursor ends where it began)."""
        with self._lock:
            if self._drawn:
                self.stream.write(self._erase_text())
                self.stream.flush()
                self._drawn = 0

    def redraw(self) -> None:
        with self._lock:
            if self._lines:
                self.draw(self._lines)

    def above(self, text: str) -> None:
        """A permanent line (or lines) written above the area."""
        with self._lock:
            self.erase()
            self.stream.write(text if text.endswith("\n") else text + "\n")
            self.redraw()

    def close(self) -> None:
        """Erase the area for good: later writes go where it was."""
        with self._lock:
            self.erase()
            self._lines = []


class _RateMeter:
    """Bytes stored of one file over the last RATE_WINDOW_S."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, now_s: float, held_bytes: int) -> float | None:
        samples = self.samples
        samples.append((now_s, held_bytes))
        while len(samples) > 2 and now_s - samples[1][0] >= RATE_WINDOW_S:
            samples.popleft()
        first_s, first_bytes = samples[0]
        if now_s - first_s < REFRESH_S / 2:
            return None
        return (held_bytes - first_bytes) / (now_s - first_s)


class Console:
    """What the peer shows a person: ``live`` draws on the terminal, else
    the join line goes to the log at info level."""

    def __init__(self, live: bool, tracker: str, stdout: TextIO | None = None,
                 stderr: TextIO | None = None) -> None:
        self.live = live
        self.tracker = tracker
        self.stderr = stderr or sys.stderr
        stdout = stdout or sys.stdout
        self.area = LiveArea(self.stderr) if live else None
        self._shares_terminal = live and same_terminal(stdout, self.stderr)
        self._rates: dict[bytes, _RateMeter] = {}
        self._started_s: dict[bytes, float] = {}
        self._resumed: dict[bytes, int] = {}
        self._by_name: dict[str, bytes] = {}
        self._now_s = 0.0
        if self.area is not None:
            self._install_log_handler(self.area)

    def _install_log_handler(self, area: LiveArea) -> None:
        """Log lines go above the area instead of through it."""
        stream = self.stderr

        class AboveTheArea(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    area.above(self.format(record))
                except Exception:
                    self.handleError(record)

        root = logging.getLogger()
        for handler in list(root.handlers):
            if isinstance(handler, logging.StreamHandler) and handler.stream is stream:
                replacement = AboveTheArea(handler.level)
                replacement.setFormatter(handler.formatter)
                root.removeHandler(handler)
                root.addHandler(replacement)

    # --- what happens ------------------------------------------------------------------

    def observe(self, kind: str, fields: Mapping[str, Any]) -> None:
        """An event of the peer (the same the --events file gets)."""
        if kind == "joined":
            line = joined_line(fields, self.tracker)
            if self.area is not None:
                self.area.above(line)
            else:
                log.info("%s", line)
        elif kind == "complete" and self.area is not None:
            name = str(fields.get("file", ""))
            key = self._by_name.pop(name, None)
            started = self._started_s.pop(key, None) if key is not None else None
            resumed = self._resumed.pop(key, 0) if key is not None else 0
            took = self._now_s - started if started is not None else None
            self.area.above(finished_line(name, int(fields.get("size", 0)), took, resumed))
        elif kind == "leave" and self.area is not None:
            self.area.erase()

    def update(self, files: list[FileProgress], status: PeerStatus, now_s: float) -> None:
        """Redraw the area: a bar per download under way, then the live line."""
        self._now_s = now_s
        if self.area is None:
            return
        lines = []
        current = set()
        for f in files:
            if f.done:
                continue
            current.add(f.key)
            if f.key not in self._rates:
                self._rates[f.key] = _RateMeter()
                self._started_s[f.key] = now_s
                self._resumed[f.key] = f.resumed_bytes
                self._by_name[f.name] = f.key
            rate = self._rates[f.key].add(now_s, f.held_bytes)
            lines.append(bar_line(f, rate, _terminal_size(self.stderr)[0]))
        for key in set(self._rates) - current:
            del self._rates[key]
        lines.append(status_line(status))
        self.area.draw(lines)

    @contextlib.contextmanager
    def around_stdout(self) -> Iterator[None]:
        """A stdout block is about to be written: when stdout is this same
        terminal, the area steps aside for it and comes back under it."""
        if self.area is None or not self._shares_terminal:
            yield
            return
        self.area.erase()
        try:
            yield
        finally:
            self.area.redraw()

    def close(self) -> None:
        if self.area is not None:
            self.area.close()
