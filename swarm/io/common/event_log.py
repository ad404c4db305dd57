"""`--events FILE`: what happens, as JSON lines, for tools to follow.

Each line is one entry, an object: ``{"ts": <unix time>, "event": <kind>, ...}``.
Kinds: a peer writes joined, file, chunks, complete, leave; a tracker writes
join, file, chunks, complete, lost, available, excused, unexcused, dropped,
removed, leave; both write warning and error for what goes to stderr at those
levels.  Chunk ranges are
``[first, end)``, counted from 0 as on the wire.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

EntrySink = Callable[[dict[str, Any]], None]


def log_entry(kind: str, **fields: Any) -> dict[str, Any]:
    """One entry, stamped with the time, as every sink gets it: the file
    here, the tracker's dashboard."""
    return {"ts": round(time.time(), 6), "event": kind, **fields}


class EventLog:
    def __init__(self, path: Path) -> None:
        import json  # here: a process without --events never needs it

        self._dumps = json.dumps
        # Line-buffered: a tool tailing the file sees each event whole, at once.
        self._file: TextIO = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def emit(self, kind: str, **fields: Any) -> None:
        self.write(log_entry(kind, **fields))

    def write(self, entry: dict[str, Any]) -> None:
        if self._file.closed:
            return
        self._file.write(self._dumps(entry, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._file.close()


class EventLogHandler(logging.Handler):
    """Warnings and errors of the log, as entries too."""

    def __init__(self, sink: EntrySink) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        kind = "error" if record.levelno >= logging.ERROR else "warning"
        try:
            self.sink(log_entry(kind, message=record.getMessage(), logger=record.name))
        except Exception:  # a handler must never raise into the code that logs
            self.handleError(record)


def open_event_log(path: Path | None) -> EventLog | None:
    if path is None:
        return None
    events = EventLog(path)
    logging.getLogger().addHandler(EventLogHandler(events.write))
    return events
