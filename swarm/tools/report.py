"""What the query commands print for people: the tracker's Listing as
tables.  Pure functions of a Listing, or of the JSON status made from it
(``swarm.tracker.listing_json``, which scripts get with --json); the command
line does the asking and the printing."""

from __future__ import annotations

import math
from typing import Any

from swarm.protocol.message_parts import FileListing
from swarm.protocol.messages import Listing
from swarm.tracker.listing_json import chunk_count_of, who_json
from swarm.units import human_rate, human_size

DIGEST_SHOWN = 12  # hex digits in tables; JSON has the whole digest
STATUS_WIDTH = 100  # columns the status table keeps within (a wide list is cut short)
MAX_STATUS_ROWS = 24  # peers, and files, shown in the status table; --json has them all
MIN_STATUS_ROWS = 3  # a terminal too short for more still shows this many of each
STATUS_FIXED_LINES = 8  # lines not peer or file rows, with the one the cursor ends on
MAX_NAME_SHOWN = 24  # characters of a file name in the status table


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    return "\n".join(lines) + "\n"


# --- ls ---------------------------------------------------------------------


def ls_table(listing: Listing) -> str:
    rows = []
    for f in listing.files:
        total = chunk_count_of(f)
        partial = " ".join(f"{p}:{_percent(n, total)}" for p, n in f.partial) or "-"
        name = f.summary.name if f.summary.available else f"{f.summary.name} (lost)"
        rows.append([name, human_size(f.summary.size_bytes), str(total),
                     f.summary.digest.hex()[:DIGEST_SHOWN],
                     " ".join(map(str, f.complete)) or "-", partial])
    return _table(["NAME", "SIZE", "CHUNKS", "DIGEST", "COMPLETE", "PARTIAL"], rows)


def _percent(chunks: int, total: int) -> str:
    return f"{100 * chunks // total if total else 100}%"


# --- who ---------------------------------------------------------------------


def who_table(listing: Listing, file: FileListing) -> str:
    info = who_json(listing, file)
    head = (f"{info['name']}  {human_size(info['size'])}  {info['chunks']} chunks  "
            f"digest {info['digest']}\n")
    rows = [[str(h["peer"]), h["endpoint"], f"{h['chunks']}/{info['chunks']}",
             _percent(h["chunks"], info["chunks"]), "complete" if h["complete"] else "partial"]
            for h in info["holders"]]
    return head + _table(["PEER", "ENDPOINT", "CHUNKS", "HELD", "STATE"], rows)


# --- status ---------------------------------------------------------------------


def human_eta(seconds: float | None) -> str:
    """A time left as people read it: ``45s``, ``3m05s``, ``2h10m``, ``3d``;
    ``—`` when it cannot be told."""
    if seconds is None:
        return "\u2014"
    whole = math.ceil(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 100 * 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def _lacking_cell(file: dict[str, Any], width: int) -> str:
    """Who still lacks the file, with how much each holds: as many as fit
    in ``width``, then how many more."""
    total = file["chunks"]
    held = {p["peer"]: p["chunks"] for p in file["partial_holders"]}
    parts = [f"{pid}:{_percent(held.get(pid, 0), total)}" for pid in file["lacking"]]
    shown: list[str] = []
    for i, part in enumerate(parts):
        rest = len(parts) - i - 1
        if shown and len(" ".join([*shown, part]) + (f" +{rest}" if rest else "")) > width:
            return " ".join(shown) + f" +{len(parts) - len(shown)}"
        shown.append(part)
    return " ".join(shown) or "-"


def _rows_cut(rows: list[list[str]], what: str, max_rows: int) -> list[list[str]]:
    if len(rows) <= max_rows:
        return rows
    hidden = len(rows) - max_rows + 1
    return [*rows[:max_rows - 1], [f"\u2026 {hidden} more {what} (--json lists all)"]]


def rows_for_terminal(lines: int) -> int:
    """Peer rows, and file rows, that let the whole status table fit on a
    terminal of ``lines`` lines (a live table taller than the terminal
    scrolls at every redraw)."""
    return max(MIN_STATUS_ROWS, min(MAX_STATUS_ROWS, (lines - STATUS_FIXED_LINES) // 2))


def _table_cut(headers: list[str], rows: list[list[str]]) -> str:
    """A table whose rows may end in one wide note that no column is sized for."""
    notes = [r[0] for r in rows if len(r) == 1]
    table = _table(headers, [r for r in rows if len(r) > 1])
    return table + "".join(f"{note}\n" for note in notes)


def status_table(status: dict[str, Any], max_rows: int = MAX_STATUS_ROWS,
                 width: int = STATUS_WIDTH) -> str:
    """The table: at most ``max_rows`` peer rows and file rows each, the
    list of peers lacking a file cut to fit in ``width`` columns."""
    files = status["files"]
    totals = status["totals"]
    out = [f"{totals['peers']} peer(s), {totals['files']} file(s), event {status['event']}\n"]
    rows = [[str(p["peer"]), p["endpoint"], f"{len(p['complete'])}/{len(files)}",
             human_size(p["bytes_held"]), human_rate(p["recv_bytes_s"]),
             human_rate(p["send_bytes_s"])] for p in status["peers"]]
    out.append(_table_cut(["PEER", "ENDPOINT", "FILES", "HELD", "RECV", "SEND"],
                          _rows_cut(rows, "peers", max_rows)))
    out.append("\n")
    rows = []
    for f in files:
        name = _cut(f["name"], MAX_NAME_SHOWN) + ("" if f["available"] else " (lost)")
        copies = f"{len(f['complete_holders'])}/{totals['peers']}"
        eta = "done" if f["eta_s"] == 0 else human_eta(f["eta_s"])
        rows.append([name, human_size(f["size"]), copies, human_rate(f["recv_bytes_s"]), eta])
    headers = ["FILE", "SIZE", "COPIES", "RECV", "ETA"]
    used = sum(max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
               for i, h in enumerate(headers)) + 2 * len(headers)
    for row, f in zip(rows, files, strict=True):
        row.append(_lacking_cell(f, max(12, width - used)))
    out.append(_table_cut([*headers, "LACKING"], _rows_cut(rows, "files", max_rows)))
    out.append("\n" + _totals_lines(totals, width))
    return "".join(out)


def _totals_lines(totals: dict[str, Any], width: int) -> str:
    """The swarm's totals on one line, or two where one does not fit."""
    eta = "done" if totals["eta_s"] == 0 else human_eta(totals["eta_s"])
    moving = (f"total: moved {human_size(totals['moved_bytes'])}, "
              f"receiving {human_rate(totals['recv_bytes_s'])}, "
              f"sending {human_rate(totals['send_bytes_s'])},")
    left = f"{human_size(totals['remaining_bytes'])} left, ETA {eta}"
    if len(moving) + 1 + len(left) <= width:
        return f"{moving} {left}\n"
    return f"{moving}\n       {left}\n"
