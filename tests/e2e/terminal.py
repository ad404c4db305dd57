"""A command run on a real pseudo-terminal of a given size, as in a shell:
everything it writes there is kept, and fed through a terminal emulator
(pyte), so tests compare the screen a person would see -- while it runs
(``on_screen`` looks at every screen it goes through) and when it is done.

The process gets its own process group and is killed by it if it outlives
its wait; the reading is bounded by the process's life.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyte

from tests.e2e.harness import REPO


class TerminalRun:
    def __init__(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None,
                 rows: int = 30, columns: int = 100, stdout_too: bool = True,
                 on_screen: Callable[[list[str]], None] | None = None) -> None:
        """``stdout_too``: stdout goes to the terminal as well (else nowhere)."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=slave if stdout_too else subprocess.DEVNULL, stderr=slave,
            env={**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm", **(env or {})},
            start_new_session=True)
        os.close(slave)
        self.master = master
        self.screen = pyte.Screen(columns, rows)
        self._stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self._on_screen = on_screen
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return  # the terminal closed with the process
            if not data:
                return
            with self._lock:
                self.raw += data
                self._stream.feed(data)
                if self._on_screen is not None:
                    self._on_screen(self.lines())

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def count(self, pattern: bytes) -> int:
        """How often ``pattern`` was written so far (e.g. a clear-screen)."""
        with self._lock:
            return self.raw.count(pattern)

    def signal(self, signum: signal.Signals) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout_s: float) -> int:
        """The exit code, once the process has gone and its output is read."""
        try:
            code = self.proc.wait(timeout=timeout_s)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(timeout=5)
        os.close(self.master)
        return code

    def final_screen(self) -> list[str]:
        """The lines written, up to the cursor (the rest of the screen is blank)."""
        lines = self.lines()
        assert all(not line for line in lines[self.screen.cursor.y:]), lines
        return lines[:self.screen.cursor.y]
