"""What the query commands print: the tracker's Listing as tables for people
and as JSON for scripts.  Pure functions of a Listing; the command line does the
asking and the printing."""

from __future__ import annotations

import math
from typing import Any

from swarm.protocol.chunks import CHUNK_SIZE_BYTES
from swarm.protocol.message_parts import FileListing, PeerSummary, PeerTraffic
from swarm.protocol.messages import Listing
from swarm.protocol.roles import ROLE_GET, ROLE_NAMES, ROLE_PEER
from swarm.units import human_rate, human_size

DIGEST_SHOWN = 12  # hex digits in tables; JSON has the whole digest
MIN_DIGEST_PREFIX = 4  # shorter prefixes are too likely to be ambiguous
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


def chunk_count_of(file: FileListing) -> int:
    return -(-file.summary.size_bytes // CHUNK_SIZE_BYTES)


def held_chunks(file: FileListing) -> dict[int, int]:
    """Chunks of the file each holder has (complete holders have them all)."""
    total = chunk_count_of(file)
    held = {peer_id: total for peer_id in file.complete}
    held.update(dict(file.partial))
    return held


# --- ls ---------------------------------------------------------------------


def ls_json(listing: Listing) -> dict[str, Any]:
    return {
        "event": listing.seq,
        "files": [
            {
                "name": f.summary.name,
                "size": f.summary.size_bytes,
                "chunks": chunk_count_of(f),
                "digest": f.summary.digest.hex(),
                "available": f.summary.available,
                "complete_holders": list(f.complete),
                "partial_holders": [{"peer": p, "chunks": n} for p, n in f.partial],
            }
            for f in listing.files
        ],
    }


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


class FileNotFound(LookupError):
    """No file, or more than one, answers to the name or digest given."""


def find_file(listing: Listing, key: str) -> FileListing:
    """The file named ``key``, else the one whose digest starts with it."""
    for f in listing.files:
        if f.summary.name == key:
            return f
    prefix = key.lower()
    if len(prefix) >= MIN_DIGEST_PREFIX and all(c in "0123456789abcdef" for c in prefix):
        matches = [f for f in listing.files if f.summary.digest.hex().startswith(prefix)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(repr(f.summary.name) for f in matches)
            raise FileNotFound(f"digest prefix {key!r} matches {names}; give more digits")
    raise FileNotFound(f"no file named {key!r}, nor one whose digest starts so")


def who_json(listing: Listing, file: FileListing) -> dict[str, Any]:
    total = chunk_count_of(file)
    endpoints = {p.peer_id: p.endpoint for p in listing.peers}
    holders = [
        {"peer": peer_id, "endpoint": endpoints.get(peer_id, ""), "chunks": chunks,
         "fraction": chunks / total if total else 1.0, "complete": peer_id in file.complete}
        for peer_id, chunks in sorted(held_chunks(file).items())
    ]
    return {"name": file.summary.name, "digest": file.summary.digest.hex(),
            "size": file.summary.size_bytes, "chunks": total,
            "available": file.summary.available, "holders": holders}


def who_table(listing: Listing, file: FileListing) -> str:
    info = who_json(listing, file)
    head = (f"{info['name']}  {human_size(info['size'])}  {info['chunks']} chunks  "
            f"digest {info['digest']}\n")
    rows = [[str(h["peer"]), h["endpoint"], f"{h['chunks']}/{info['chunks']}",
             _percent(h["chunks"], info["chunks"]), "complete" if h["complete"] else "partial"]
            for h in info["holders"]]
    return head + _table(["PEER", "ENDPOINT", "CHUNKS", "HELD", "STATE"], rows)


# --- status ---------------------------------------------------------------------
#
# One schema, for `swarm status --json` and anything that shows it: sizes in
# bytes, rates in bytes/s, times left in seconds (null when unknown: nothing
# is arriving, or the file is lost).  docs/guide/watching.md documents it.


def bytes_held(listing: Listing) -> dict[int, int]:
    """Bytes of the swarm's files each peer holds, complete or in part."""
    held = {p.peer_id: 0 for p in listing.peers}
    for f in listing.files:
        for peer_id, held_bytes in _held_bytes(f).items():
            held[peer_id] = held.get(peer_id, 0) + held_bytes
    return held


def _held_bytes(file: FileListing) -> dict[int, int]:
    """Bytes of the file each holder has, to the chunk (a short last chunk
    held in part of a copy counts whole: off by less than a chunk)."""
    size = file.summary.size_bytes
    return {peer_id: min(chunks * CHUNK_SIZE_BYTES, size)
            for peer_id, chunks in held_chunks(file).items()}


def lacking(listing: Listing, file: FileListing) -> list[int]:
    """The living peers still to take the file whole: a peer that neither
    holds it whole nor is excused from it; a `swarm get` that has begun it
    (which files it names the tracker learns from its first chunks); never
    a `swarm seed`, which takes nothing."""
    name = file.summary.name
    started = {peer_id for peer_id, _ in file.partial}
    return [p.peer_id for p in listing.peers
            if name not in p.complete and name not in p.excused
            and (p.role == ROLE_PEER or (p.role == ROLE_GET and p.peer_id in started))]


def eta_s(remaining_bytes: int, rate_bytes_s: float, reachable: bool = True) -> float | None:
    """Seconds until ``remaining_bytes`` have arrived at ``rate_bytes_s``:
    0 when nothing remains, None when it cannot be told (nothing arriving,
    or what remains cannot arrive)."""
    if remaining_bytes <= 0:
        return 0.0
    if not reachable or rate_bytes_s <= 0:
        return None
    return remaining_bytes / rate_bytes_s


def _file_row(listing: Listing, file: FileListing, ls_row: dict[str, Any]) -> dict[str, Any]:
    held = _held_bytes(file)
    lackers = lacking(listing, file)
    remaining = sum(file.summary.size_bytes - held.get(pid, 0) for pid in lackers)
    return ls_row | {
        "lacking": lackers,
        "remaining_bytes": remaining,
        "recv_bytes_s": file.recv_bytes_s,
        "eta_s": eta_s(remaining, file.recv_bytes_s, file.summary.available),
    }


def _peer_row(peer: PeerSummary, holdings: list[tuple[str, dict[int, int]]],
              held: dict[int, int], traffic: PeerTraffic) -> dict[str, Any]:
    files = {name: by_peer[peer.peer_id] for name, by_peer in holdings if peer.peer_id in by_peer}
    return {"peer": peer.peer_id, "endpoint": peer.endpoint, "role": ROLE_NAMES[peer.role],
            "complete": list(peer.complete), "excused": list(peer.excused),
            "chunks": files, "bytes_held": held.get(peer.peer_id, 0),
            "recv_bytes_s": traffic.recv_bytes_s, "send_bytes_s": traffic.send_bytes_s,
            "received_bytes": traffic.received_bytes, "sent_bytes": traffic.sent_bytes}


def status_json(listing: Listing) -> dict[str, Any]:
    held = bytes_held(listing)
    traffic = {t.peer_id: t for t in listing.traffic}
    holdings = [(f.summary.name, held_chunks(f)) for f in listing.files]  # once, not per peer
    peers = [_peer_row(p, holdings, held,
                       traffic.get(p.peer_id, PeerTraffic(p.peer_id, 0, 0, 0, 0)))
             for p in listing.peers]
    files = [_file_row(listing, f, row)
             for f, row in zip(listing.files, ls_json(listing)["files"], strict=True)]
    recv = sum(p["recv_bytes_s"] for p in peers)
    remaining = sum(f["remaining_bytes"] for f in files)
    reachable = all(f["available"] for f in files if f["remaining_bytes"])
    totals = {
        "peers": len(peers), "files": len(files),
        "moved_bytes": listing.moved_bytes,
        "recv_bytes_s": recv,
        "send_bytes_s": sum(p["send_bytes_s"] for p in peers),
        "remaining_bytes": remaining,
        "eta_s": eta_s(remaining, recv, reachable),
    }
    return {"event": listing.seq, "totals": totals, "peers": peers, "files": files}


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
