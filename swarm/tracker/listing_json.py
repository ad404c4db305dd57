"""The tracker's Listing as JSON objects (sans-IO): what `swarm ls`, `swarm
who` and `swarm status` print with --json, and the dashboard serves at
/api/status -- one schema: sizes in bytes, rates in bytes/s, times left in
seconds (null when unknown: nothing is arriving, or the file is lost);
docs/guide/watching.md documents it.  With them, the lookup of a file by
name or digest prefix that `who` and `get` share.  The tables for people are
``swarm.tools.report``'s."""

from __future__ import annotations

from typing import Any

from swarm.protocol.chunks import CHUNK_SIZE_BYTES
from swarm.protocol.message_parts import FileListing, PeerSummary, PeerTraffic
from swarm.protocol.messages import Listing
from swarm.protocol.roles import ROLE_GET, ROLE_NAMES, ROLE_PEER

MIN_DIGEST_PREFIX = 4  # shorter prefixes are too likely to be ambiguous


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


# --- status ---------------------------------------------------------------------


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
