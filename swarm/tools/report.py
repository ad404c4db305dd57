"""What the query commands print: the tracker's Listing as tables for people
and as JSON for scripts.  Pure functions of a Listing; the command line does the
asking and the printing."""

from __future__ import annotations

from typing import Any

from swarm.protocol.chunks import CHUNK_SIZE_BYTES
from swarm.protocol.messages import FileListing, Listing, PeerSummary
from swarm.units import human_size

DIGEST_SHOWN = 12  # hex digits in tables; JSON has the whole digest
MIN_DIGEST_PREFIX = 4  # shorter prefixes are too likely to be ambiguous


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


def bytes_held(listing: Listing) -> dict[int, int]:
    """Bytes of the swarm's files each peer holds, complete or in part."""
    held = {p.peer_id: 0 for p in listing.peers}
    for f in listing.files:
        for peer_id, chunks in held_chunks(f).items():
            held[peer_id] = held.get(peer_id, 0) + min(chunks * CHUNK_SIZE_BYTES,
                                                       f.summary.size_bytes)
    return held


def _peer_row(peer: PeerSummary, listing: Listing, held: dict[int, int],
              rates: dict[int, int]) -> dict[str, Any]:
    files = {}
    for f in listing.files:
        chunks = held_chunks(f).get(peer.peer_id)
        if chunks is not None:
            files[f.summary.name] = chunks
    return {"peer": peer.peer_id, "endpoint": peer.endpoint,
            "complete": list(peer.complete), "excused": list(peer.excused),
            "chunks": files, "bytes_held": held.get(peer.peer_id, 0),
            "rate_bytes_s": rates.get(peer.peer_id, 0)}


def status_json(listing: Listing) -> dict[str, Any]:
    held = bytes_held(listing)
    rates = dict(listing.rates)
    return {
        "event": listing.seq,
        "peers": [_peer_row(p, listing, held, rates) for p in listing.peers],
        "files": ls_json(listing)["files"],
    }


def status_table(status: dict[str, Any]) -> str:
    files = status["files"]
    out = [f"{len(status['peers'])} peer(s), {len(files)} file(s), event {status['event']}\n"]
    rows = []
    for p in status["peers"]:
        rows.append([str(p["peer"]), p["endpoint"], f"{len(p['complete'])}/{len(files)}",
                     human_size(p["bytes_held"]), f"{human_size(p['rate_bytes_s'])}/s"])
    out.append(_table(["PEER", "ENDPOINT", "FILES", "HELD", "RATE"], rows))
    out.append("\n")
    rows = []
    for f in files:
        total = f["chunks"]
        progress = [f"{p}:100%" for p in f["complete_holders"]]
        progress += [f"{h['peer']}:{_percent(h['chunks'], total)}" for h in f["partial_holders"]]
        copies = f"{len(f['complete_holders'])}/{len(status['peers'])}"
        rows.append([f["name"], human_size(f["size"]), f["digest"][:DIGEST_SHOWN], copies,
                     " ".join(progress) or "-"])
    out.append(_table(["FILE", "SIZE", "DIGEST", "COPIES", "PROGRESS"], rows))
    return "".join(out)
