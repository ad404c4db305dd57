"""The tracker's answers to questions (sans-IO): the Snapshot a peer keeps in
step with, the Listing tools read, a file's meta, and whom to name as the
holders of a file.

They change nothing but how often each holder has been named, so the next
answer spreads the requests over others.
"""

from __future__ import annotations

import random

from swarm.protocol.message_parts import FileListing, HolderRanges, PeerSummary, PeerTraffic
from swarm.protocol.messages import (
    ErrorReply,
    Holders,
    HoldersQuery,
    Listing,
    Message,
    MetaReply,
    Snapshot,
)
from swarm.protocol.roles import ROLE_GET
from swarm.tracker.records import FileRecord, PeerRecord
from swarm.tracker.registry import Registry

# Holders named in one answer: enough sources to fill a peer's credit many
# times over (Kraken's agents keep at most 10 per blob), few enough that a
# wide swarm costs each answer nothing more.
MAX_HOLDERS_ANSWERED = 16
MIN_COMPLETE_ANSWERED = 2
NAMING_POOL_FACTOR = 4  # holders drawn per holder named, the least named of them win


def snapshot(registry: Registry) -> Snapshot:
    """Every file, numbered as the last file event."""
    files = registry.files
    return Snapshot(registry.seq, tuple(files[name].summary() for name in sorted(files)))


def listing(registry: Registry, now_s: float) -> Listing:
    """Every peer and every file with its holders, and the traffic, for tools."""
    peers = registry.peers
    files = []
    for name in sorted(registry.files):
        record = registry.files[name]
        complete = sorted(pid for pid in record.holders if name in peers[pid].complete)
        partial = sorted((pid, len(chunks)) for pid, chunks in record.holders.items()
                         if name not in peers[pid].complete and len(chunks))
        rate = round(record.intake.rate(now_s)) if record.intake is not None else 0
        files.append(FileListing(record.summary(), tuple(complete), tuple(partial), rate))
    living = sorted(peers.values(), key=lambda p: p.peer_id)
    summaries = tuple(PeerSummary(p.peer_id, p.endpoint, tuple(sorted(p.complete)),
                                  tuple(sorted(p.excused)), p.role) for p in living)
    traffic = tuple(
        PeerTraffic(p.peer_id, round(p.intake.rate(now_s)), round(p.outflow.rate(now_s)),
                    round(p.intake.added_total), p.outflow.believed_total)
        for p in living)
    return Listing(registry.seq, summaries, tuple(files), traffic, registry.moved_bytes)


def meta_reply(registry: Registry, asker: PeerRecord, digest: bytes,
               rng: random.Random) -> Message:
    """A file's meta, and the holders a download of it starts from (as a
    HoldersQuery of the whole file would name them): a peer asks for the
    meta only to fetch the file, so one question does for both."""
    record = registry.file_by_digest(digest)
    if record is not None:
        return MetaReply(record.meta, named_holders(registry, record, asker, 0,
                                                    record.meta.chunks, rng))
    return ErrorReply("removed file" if digest in registry.removed_digests else "unknown file")


def holders(registry: Registry, asker: PeerRecord, query: HoldersQuery,
            rng: random.Random) -> Message:
    """The holders of a file's chunks in [first, end) (``named_holders``)."""
    record = registry.file_by_digest(query.digest)
    if record is None:
        if query.digest in registry.removed_digests:  # asked before the news arrived
            return Holders(query.digest, ())
        return ErrorReply("unknown file")
    total = record.meta.chunks
    first = min(query.first_chunk, total)
    end = total if query.chunk_count == 0 else min(total, first + query.chunk_count)
    return Holders(query.digest, named_holders(registry, record, asker, first, end, rng))


def named_holders(registry: Registry, record: FileRecord, asker: PeerRecord, first: int,
                  end: int, rng: random.Random) -> tuple[HolderRanges, ...]:
    """At most MAX_HOLDERS_ANSWERED holders of a file that hold something
    of it (at least a couple of complete ones when there are), the least
    named so far first: what a peer hears stays the same size however
    wide the swarm, and requests spread over the holders instead of
    piling onto the first ones."""
    total = record.meta.chunks
    name = record.meta.name
    peers = registry.peers
    complete: list[int] = []
    partial: list[int] = []
    leaving: list[int] = []
    for pid, chunks in record.holders.items():
        if pid == asker.peer_id or not chunks:
            continue  # a downloader that holds nothing yet is no source
        peer = peers[pid]
        if peer.role == ROLE_GET and is_leaving(peer):  # the role first: few holders are gets
            leaving.append(pid)
        else:
            (complete if name in peer.complete else partial).append(pid)
    if not complete and not partial:
        complete = leaving  # better a source about to go than none
    chosen = _least_named(record, complete, MIN_COMPLETE_ANSWERED, rng)
    taken = set(chosen)
    chosen += _least_named(record, [p for p in complete if p not in taken] + partial,
                           MAX_HOLDERS_ANSWERED - len(chosen), rng)
    whole_file = (first, end) == (0, total)
    named = []
    for pid in sorted(chosen):
        record.named[pid] += 1
        if whole_file and name in peers[pid].complete:
            ranges: tuple[int, ...] = (0, total) if total else ()
        else:
            chunks = record.holders[pid]
            ranges = tuple(chunks.to_flat() if whole_file else chunks.clip(first, end))
        if ranges:
            # Checked as they came in (endpoints at the join, chunks as reported).
            named.append(HolderRanges.unchecked(pid, peers[pid].endpoint, ranges))
    return tuple(named)


def is_leaving(peer: PeerRecord) -> bool:
    """Is ``peer`` about to leave, as far as the tracker can tell?  A peer
    whose goodbye was taken is gone already (removed at once); one told
    NotYet stays, and a seed or a peer told it may leave can stay on (a seed
    run ``--forever``, a peer's quiet period), so neither is leaving.  A get
    leaves the moment it holds what it came for: one that holds whole every
    file it holds chunks of (its ``complete`` is a subset of ``touched``, so
    equal sizes say so in O(1)) is leaving.  A get between two of its files
    looks so too, for a moment: it is then named only when nobody else is."""
    return peer.role == ROLE_GET and bool(peer.touched) and len(peer.complete) == len(peer.touched)


def _least_named(record: FileRecord, pids: list[int], count: int,
                 rng: random.Random) -> list[int]:
    """``count`` of ``pids``: the least named of a few times ``count`` of
    them, taken in their order from a place drawn at random (so ties fall
    at random, and the sort costs the same however many hold the file)."""
    if len(pids) <= count:
        return pids
    start = rng.randrange(len(pids))
    pool = (pids[start:] + pids[:start])[:NAMING_POOL_FACTOR * count]
    pool.sort(key=record.named.__getitem__)
    return pool[:count]
