"""End-to-end: a peer killed part-way through a large download and started
again in the same folder, several times in a row, is a new peer each time,
one that brings data with it.  Each id is consistent on its own:

- a killed id *held* the verified pieces its partial file had when it died;
  what it was shown to hold (its ACQUIRED lines: reported, or brought as it
  joined) is among them, and the next id brings every one of them back,
  shown as its ACQUIRED lines right after its CONNECT block;
- the id that finishes holds the whole file: its ACQUIRED lines are every
  chunk once, and its DISCONNECT block lists the file;
- no id has an ACQUIRED line twice, and no chunk stored before a kill is
  left under no id (even one stored before any report reached the tracker).

Every stdout line is held to the contract; the --events entries agree with
stdout.  The figures (a table per id) are printed; run with ``-s``.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

from swarm.protocol.chunks import Layout
from tests.e2e.harness import (
    PeerRun,
    Swarm,
    brought_chunks,
    check_block_order,
    chunks_of,
    no_partial_data,
    parse_shutdown,
    parse_tracker,
    pieces_stored,
    random_bytes,
    read_entries,
    shared_contents,
    wait_for,
)

MIB = 1 << 20
SIZE = 24 * MIB  # 49,152 chunks in 24 pieces
NAME = "big.bin"
# Slow enough to kill the fetcher at chosen moments (24 MiB in about 6 s).
SLOW_SEED = {"SWARM_UPLOAD_LIMIT_BYTES_S": "4000000"}
# Reports once a minute: a fetcher killed within it has reported nothing.
NO_REPORTS = {"SWARM_REPORT_INTERVAL_S": "60"}


def held_on_disk(peer_dir: Path, content: bytes) -> set[int]:
    """The chunks (counted from 1) of the pieces a dead peer's partial file
    holds, right: what it held when it died."""
    (part,) = (peer_dir / ".swarm" / "partial").glob("*.part")
    layout = Layout.for_size(len(content))
    data = part.read_bytes()
    held: set[int] = set()
    for piece in range(layout.pieces):
        offset, length = layout.piece_byte_range(piece)
        if data[offset:offset + length] == content[offset:offset + length]:
            start, end = layout.piece_chunk_range(piece)
            held.update(range(start + 1, end + 1))
    return held


CONNECT_LINE = re.compile(rb"^PEER (\d+) CONNECT: ", re.MULTILINE)


def new_id(swarm: Swarm, before: set[int]) -> int:
    """The id of the next peer to join, once its CONNECT block is out.  (A
    look for CONNECT lines alone: stdout grows to megabytes of ACQUIRED
    lines, too many to parse whole every few milliseconds; the whole is
    held to the contract at the end.)"""
    assert swarm.tracker is not None
    path = swarm.tracker.stdout_path
    found: set[int] = set()

    def joined() -> bool:
        found.update(int(m[1]) for m in CONNECT_LINE.finditer(path.read_bytes()))
        return len(found - before) > 0

    wait_for(joined, 20, "a new CONNECT block", poll_s=0.005)
    (peer_id,) = found - before
    return peer_id


def kill(run: PeerRun) -> None:
    run.proc.signal(signal.SIGKILL)
    assert run.proc.wait(5) == -signal.SIGKILL


def shown_after_connect(order: list[tuple[str, int]], peer_id: int) -> int:
    """How many ACQUIRED lines of ``peer_id`` follow its CONNECT block
    before any other line."""
    i = order.index(("CONNECT", peer_id)) + 1
    count = 0
    while i + count < len(order) and order[i + count] == ("ACQUIRED", peer_id):
        count += 1
    return count


def entry_chunks(entries: list[dict[str, Any]], peer_id: int) -> list[int]:
    """Every chunk (from 1) the entries say a peer acquired."""
    return [c for e in entries if e["event"] == "chunks" and e["peer"] == peer_id
            for start, end in e["ranges"] for c in range(start + 1, end + 1)]


def test_a_peer_killed_three_times_is_consistent_under_each_id(swarm: Swarm) -> None:
    content = random_bytes(301, SIZE)
    total = chunks_of(SIZE)
    pieces = Layout.for_size(SIZE).pieces
    swarm.start_tracker(args=["--events", "events.jsonl"])
    seeder = swarm.start_peer({NAME: content}, env=SLOW_SEED, quiet_s=3)
    seeder_id = new_id(swarm, set())
    ids: list[int] = []
    held: dict[int, set[int]] = {}  # a killed id -> what its partial file held

    # 1. Killed early, right after it joined: pieces stored, none reported.
    run = swarm.start_peer({}, env=NO_REPORTS, name="fetcher")
    ids.append(new_id(swarm, {seeder_id}))
    wait_for(lambda: pieces_stored(run.proc.cwd) >= 2, 20, "two pieces stored", poll_s=0.005)
    kill(run)
    held[ids[-1]] = held_on_disk(run.proc.cwd, content)

    # 2. Started again at once (its old self not expired yet), and killed the
    # moment its CONNECT block is out: it holds what it brought.
    run = swarm.restart_peer(run)
    ids.append(new_id(swarm, {seeder_id, *ids}))
    kill(run)
    held[ids[-1]] = held_on_disk(run.proc.cwd, content)

    # 3. Again, and killed with more than half of the file, most of it reported.
    run = swarm.restart_peer(run)
    ids.append(new_id(swarm, {seeder_id, *ids}))
    wait_for(lambda: pieces_stored(run.proc.cwd) >= pieces * 6 // 10, 30, "60 % stored",
             poll_s=0.005)
    kill(run)
    held[ids[-1]] = held_on_disk(run.proc.cwd, content)

    # 4. Started again, and left to finish.  (Each time at once: once its
    # old selves have expired, nobody lacks the seeder's file and it leaves.)
    run = swarm.restart_peer(run, quiet_s=1)
    ids.append(new_id(swarm, {seeder_id, *ids}))
    assert swarm.wait_peers(40, [seeder, run]) == [0, 0]
    assert swarm.stop_tracker() == 0
    assert swarm.tracker is not None
    tracker = swarm.tracker

    # The files: whole, right, and nothing partial left behind.
    assert shared_contents(run.shared) == {NAME: content}
    assert shared_contents(seeder.shared) == {NAME: content}
    assert no_partial_data(run.proc.cwd)
    assert parse_shutdown(run.proc.stdout()) == (ids[-1], [NAME])
    assert parse_shutdown(seeder.proc.stdout()) == (seeder_id, [NAME])

    # Every stdout line of the tracker within the contract, in order.
    log = parse_tracker(tracker.stdout())
    check_block_order(log)
    assert set(log.connects) == {seeder_id, *ids}
    assert log.connects[seeder_id] == [(NAME, total)]
    assert log.acquired_totals == {NAME: {total}}
    assert (seeder_id, NAME) not in log.acquired
    assert log.disconnects[seeder_id] == []
    entries = read_entries(tracker.cwd / "events.jsonl")
    brought = brought_chunks(entries)
    assert "refused" not in tracker.stderr(), "no report was struck"

    rows = []
    for i, peer_id in enumerate(ids):
        shown = log.acquired.get((peer_id, NAME), [])
        assert len(shown) == len(set(shown)), f"peer {peer_id}: an ACQUIRED line twice"
        assert log.connects[peer_id] == [], "a partial file is not an offer"
        kept = held[ids[i - 1]] if i else set()
        # What the id before it held is all brought back, right after this
        # id's CONNECT block (in the same write), and nothing else is.
        assert brought.get((peer_id, NAME), set()) == kept
        assert shown_after_connect(log.order, peer_id) >= len(kept)
        assert set(shown[:len(kept)]) == kept
        # Its entries say what its lines say.
        assert sorted(entry_chunks(entries, peer_id)) == sorted(shown)
        if peer_id == ids[-1]:
            holds = set(range(1, total + 1))
            assert sorted(shown) == sorted(holds), "every chunk once under the finishing id"
            assert log.disconnects[peer_id] == [NAME]
        else:
            holds = held[peer_id]
            assert set(shown) <= holds, f"peer {peer_id} shown with chunks it did not hold"
            assert log.disconnects[peer_id] == [], "a killed peer received nothing whole"
        rows.append((peer_id, len(log.connects[peer_id]), len(shown), len(kept),
                     len(shown) - len(kept), len(holds), log.disconnects[peer_id]))
    # Killed before any report reached the tracker: shown nothing, yet what
    # it stored is not lost to the log -- the next id shows it.
    assert not log.acquired.get((ids[0], NAME)) and held[ids[0]]

    print(f"\nFIGURES a peer killed three times ({total} chunks of {NAME}):")
    print("  id  offers  ACQUIRED (brought + fetched)  chunks held  received")
    for peer_id, offers, lines, kept_n, fetched, holds_n, received in rows:
        print(f"  {peer_id:>2}  {offers:>6}  {lines:>8} ({kept_n:>6} + {fetched:>6})  "
              f"{holds_n:>11}  {received}")
