"""Progress bars on stderr while a person watches: one per file being
fetched, with its rate, the number of peers it comes from, and an ETA.

Shown only when stderr is a terminal (or when asked); stdout never changes.
tqdm draws them -- well-kept, small, and it keeps several bars in place
while log lines scroll above them.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from swarm.peer.progress import FileProgress

REFRESH_S = 0.2  # how often the bars are redrawn
DEFAULT_COLUMNS = 100
DEFAULT_ROWS = 24


def _size() -> dict[str, Any]:
    """Follow the terminal's size, unless it reports none (a bare pty does):
    tqdm would then draw bars of no width, or none at all for want of rows."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        size = os.terminal_size((0, 0))
    if size.columns > 0 and size.lines > 0:
        return {"dynamic_ncols": True}
    return {"ncols": DEFAULT_COLUMNS, "nrows": DEFAULT_ROWS}


def wanted(mode: str) -> bool:
    """--progress auto|always|never: auto means "when stderr is a terminal"."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    return sys.stderr.isatty()


class ProgressBars:
    def __init__(self) -> None:
        from tqdm import tqdm  # only when bars are wanted: it costs start-up time

        self._tqdm = tqdm
        self._bars: dict[bytes, Any] = {}
        self._install_log_handler()

    def _install_log_handler(self) -> None:
        # Log lines go through tqdm.write, which prints them above the bars
        # instead of through them.
        tqdm = self._tqdm

        class AboveTheBars(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    tqdm.write(self.format(record), file=sys.stderr)
                except Exception:
                    self.handleError(record)

        root = logging.getLogger()
        for handler in list(root.handlers):
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                replacement = AboveTheBars(handler.level)
                replacement.setFormatter(handler.formatter)
                root.removeHandler(handler)
                root.addHandler(replacement)

    def update(self, files: list[FileProgress]) -> None:
        current = {f.key for f in files}
        for key, bar in self._bars.items():
            if key not in current and not bar.disable:  # finished and placed since
                bar.update(bar.total - bar.n)
                bar.close()
        for f in files:
            bar = self._bars.get(f.key)
            if bar is None:
                if f.done:
                    continue  # finished before it was ever drawn
                bar = self._tqdm(total=f.size_bytes, desc=f.name, unit="B", unit_scale=True,
                                 unit_divisor=1024, file=sys.stderr, leave=True,
                                 position=len(self._bars), **_size())
                self._bars[f.key] = bar
            if bar.disable:
                continue
            bar.update(f.held_bytes - bar.n)
            bar.set_postfix_str(f"{f.sources} peer{'s' if f.sources != 1 else ''}",
                                refresh=False)
            if f.done:
                bar.close()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
