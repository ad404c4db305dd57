"""End-to-end faults on a peer's own machine, with real processes: a restart
a moment after SIGKILL, a full disk (a small tmpfs, then a larger one), names
taken in Shared by folders and links, files edited or deleted while shared,
and what Shared holds that is not shared.

Every case must end the swarm: each peer leaves on its own.  Figures (how
long the swarm took to end after the fault) are printed, never asserted;
run with ``-s`` to see them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarm.protocol.meta import meta_of_bytes
from tests.e2e.harness import (
    PeerRun,
    Swarm,
    brought_chunks,
    check_swarm,
    chunks_of,
    parse_shutdown,
    parse_tracker,
    pieces_stored,
    random_bytes,
    read_entries,
    shared_contents,
    wait_for,
)

MIB = 1 << 20
RECEIVED_RE = re.compile(r"summary: peer \d+ received \d+ pieces \((\d+) chunks\)")


def end_after(fault_at: float, runs: list[PeerRun], timeout_s: float = 90.0) -> float:
    """Seconds from the fault until the last of ``runs`` exited (to 20 ms)."""
    deadline = time.monotonic() + timeout_s
    pending = list(runs)
    last = fault_at
    while pending:
        if time.monotonic() > deadline:
            names = ", ".join(run.proc.name for run in pending)
            tails = "\n".join(run.proc.stderr()[-1500:] for run in pending)
            raise AssertionError(f"{names} still running after {timeout_s:.0f} s\n{tails}")
        for run in list(pending):
            if run.proc.popen.poll() is not None:
                pending.remove(run)
                last = time.monotonic()
        time.sleep(0.02)
    return last - fault_at


def stderr_lines(run: PeerRun, text: str) -> list[str]:
    return [line for line in run.proc.stderr().splitlines() if text in line]


# --- resume -------------------------------------------------------------------------------


def verified_pieces(run: PeerRun, content: bytes) -> set[int]:
    """The pieces of the partial file that hold the right bytes (what a
    restart must find, whatever was saved or reported)."""
    (part,) = (run.proc.cwd / ".swarm" / "partial").glob("*.part")
    meta = meta_of_bytes("big.bin", content)
    held = set()
    with open(part, "rb") as f:
        for piece in range(meta.layout.pieces):
            offset, length = meta.layout.piece_byte_range(piece)
            f.seek(offset)
            if meta.piece_ok(piece, f.read(length)):
                held.add(piece)
    return held


def test_a_peer_killed_mid_transfer_and_restarted_at_once_keeps_every_piece(
        swarm: Swarm) -> None:
    content = random_bytes(201, 24 * MIB)
    data = {"big.bin": content}
    meta = meta_of_bytes("big.bin", content)
    swarm.start_tracker(args=["--events", "events.jsonl"])
    seeder = swarm.start_peer(data, quiet_s=3, env={"SWARM_UPLOAD_LIMIT_BYTES_S": "12000000"})
    fetcher = swarm.start_peer({})
    wait_for(lambda: pieces_stored(fetcher.proc.cwd) >= meta.layout.pieces // 4, 60,
             "a quarter of the file", poll_s=0.005)
    fetcher.proc.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    assert fetcher.proc.wait(5) == -signal.SIGKILL
    kept = verified_pieces(fetcher, content)
    again = swarm.restart_peer(fetcher)  # its old self has not expired yet
    took = end_after(killed_at, [seeder, again])
    assert swarm.stop_tracker() == 0
    out = check_swarm(swarm, data, peers=[seeder, again])
    resumed_line = f"resuming 'big.bin': {len(kept)} of {meta.layout.pieces} pieces verified"
    assert stderr_lines(again, resumed_line), again.proc.stderr()[-2000:]
    new_id = out.peer_ids[again.proc.name]
    kept_chunks = {c for p in kept for c in range(*meta.layout.piece_chunk_range(p))}
    # What it kept is shown under its new id as it joins; the rest, fetched.
    brought = brought_chunks(read_entries(swarm.root / "tracker" / "events.jsonl"))
    assert brought[(new_id, "big.bin")] == {c + 1 for c in kept_chunks}
    fetched_again = {c - 1 for c in out.tracker.acquired[(new_id, "big.bin")]} - kept_chunks
    assert fetched_again | kept_chunks == set(range(chunks_of(len(content))))
    (received,) = RECEIVED_RE.findall(again.proc.stderr())  # its own count, this run
    assert int(received) == len(fetched_again), "a piece stored before the kill was fetched again"
    print(f"\nFIGURES resume: {len(kept)} of {meta.layout.pieces} pieces kept across the kill; "
          f"{len(fetched_again)} of {chunks_of(len(content))} chunks fetched again; the swarm "
          f"ended {took:.2f} s after the kill")


# --- a full disk -------------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``folder`` (root and mount(8) needed: skipped
    otherwise, with the reason)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(folder)], capture_output=True, text=True, timeout=10)
    if mounted.returncode != 0:
        pytest.skip(f"full-disk test skipped: cannot mount a tmpfs ({mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=10)


def cpu_seconds(run: PeerRun) -> float:
    """CPU time (user + system) a running peer has used so far."""
    fields = Path(f"/proc/{run.proc.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def grow(folder: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True,
                   capture_output=True, timeout=10)


def test_a_full_disk_excuses_its_peer_and_the_swarm_ends(swarm: Swarm) -> None:
    big, small = random_bytes(202, 8 * MIB), random_bytes(203, 10_000)
    swarm.start_tracker()
    full_dir = swarm.root / "full"
    with small_disk(full_dir / ".swarm", "2m"):
        seeder = swarm.start_peer({"big.bin": big, "small.txt": small},
                                  env={"SWARM_UPLOAD_LIMIT_BYTES_S": "4000000"})
        full = swarm.start_peer({}, name="full")
        other = swarm.start_peer({})
        wait_for(lambda: "No space left on device" in full.proc.stderr(), 60, "the disk to fill")
        filled_at = time.monotonic()
        took = end_after(filled_at, [seeder, full, other])
        assert swarm.wait_peers(1, [seeder, full, other]) == [0, 0, 0]
        assert shared_contents(other.shared) == {"big.bin": big, "small.txt": small}
        assert shared_contents(full.shared) == {"small.txt": small}
        assert parse_shutdown(full.proc.stdout())[1] == ["small.txt"]
        errors = stderr_lines(full, "No space left on device")
        assert "ERROR cannot write 'big.bin' in " in errors[0], errors[0]
        assert "free there); fetching pauses" in errors[0]
        assert sum(1 for line in errors if " ERROR " in line) == 1, "said once"
        assert len(errors) <= 2 + took, "tried again with backoff, not in a loop"
        assert list((full_dir / ".swarm" / "partial").glob("*.part")), "partial data kept"
    assert swarm.stop_tracker() == 0
    print(f"\nFIGURES full disk: {len(errors)} refused write(s) logged; the swarm ended "
          f"{took:.2f} s after the disk filled\n  " + errors[0])


def test_when_space_returns_the_full_peer_finishes(swarm: Swarm) -> None:
    big = random_bytes(204, 8 * MIB)
    data = {"big.bin": big}
    swarm.start_tracker()
    full_dir = swarm.root / "full"
    with small_disk(full_dir / ".swarm", "2m") as disk:
        seeder = swarm.start_peer(data, quiet_s=12,
                                  env={"SWARM_UPLOAD_LIMIT_BYTES_S": "4000000"})
        full = swarm.start_peer({}, name="full", quiet_s=12)
        wait_for(lambda: "No space left on device" in full.proc.stderr(), 60, "the disk to fill")
        # A while with the disk full: what does waiting cost?
        watched = {"seeder": seeder, "full": full}
        cpu_before = {name: cpu_seconds(run) for name, run in watched.items()}
        time.sleep(2.0)
        cpu = {name: cpu_seconds(run) - cpu_before[name] for name, run in watched.items()}
        grown_at = time.monotonic()
        grow(disk, "64m")
        took = end_after(grown_at, [seeder, full])
        assert swarm.stop_tracker() == 0
        check_swarm(swarm, data, peers=[seeder, full])
        resumed = stderr_lines(full, "the disk takes writes again after")
        assert resumed, full.proc.stderr()[-2000:]
    print(f"\nFIGURES space returns: while the disk was full, 2 s cost the full peer "
          f"{cpu['full']:.2f} s of CPU and the seeder {cpu['seeder']:.2f} s; "
          f"{resumed[0].split('WARNING ')[-1]}; the swarm ended {took:.2f} s after the disk grew")


# --- names taken in Shared ------------------------------------------------------------------


def test_names_taken_by_a_folder_or_a_dangling_link_are_never_fetched(swarm: Swarm) -> None:
    album, track, notes = (random_bytes(205, 2 * MIB), random_bytes(206, 300_000),
                           random_bytes(207, 5_000))
    swarm.start_tracker()
    owner = swarm.start_peer({"album.zip": album, "track.mp3": track, "notes.txt": notes})
    taken = swarm.root / "taken" / "Shared"
    (taken / "album.zip").mkdir(parents=True)
    (taken / "track.mp3").symlink_to(swarm.root / "nowhere")
    started = time.monotonic()
    blocked = swarm.start_peer({}, name="taken")
    took = end_after(started, [owner, blocked])
    assert swarm.wait_peers(1, [owner, blocked]) == [0, 0]
    assert swarm.stop_tracker() == 0
    log = parse_tracker(swarm.tracker.stdout() if swarm.tracker else "")
    blocked_id, holds = parse_shutdown(blocked.proc.stdout())
    assert holds == ["notes.txt"]
    assert (blocked_id, "album.zip") not in log.acquired
    assert (blocked_id, "track.mp3") not in log.acquired
    assert log.disconnects[blocked_id] == ["notes.txt"]
    said = blocked.proc.stderr()
    for line in ("not sharing 'album.zip': a folder (subfolders are not shared)",
                 "not fetching 'album.zip': a folder has that name in Shared",
                 "not fetching 'track.mp3': a symbolic link to nothing has that name in Shared"):
        assert said.count(line) == 1, f"{line!r} not said once:\n{said[-2000:]}"
    assert not list((blocked.proc.cwd / ".swarm").rglob("*.part"))
    print(f"\nFIGURES taken names: the swarm ended {took:.2f} s after the blocked peer started")


def test_a_folder_appearing_under_a_name_being_fetched_stops_the_fetch(swarm: Swarm) -> None:
    album = random_bytes(208, 8 * MIB)
    swarm.start_tracker()
    owner = swarm.start_peer({"album.zip": album}, env={"SWARM_UPLOAD_LIMIT_BYTES_S": "2000000"})
    fetcher = swarm.start_peer({})
    wait_for(lambda: pieces_stored(fetcher.proc.cwd) >= 2, 60, "the fetch to start")
    (fetcher.shared / "album.zip").mkdir()
    made_at = time.monotonic()
    took = end_after(made_at, [owner, fetcher])
    assert swarm.wait_peers(1, [owner, fetcher]) == [0, 0]
    assert parse_shutdown(fetcher.proc.stdout())[1] == []
    assert (fetcher.shared / "album.zip").is_dir()
    assert stderr_lines(fetcher, "a folder appeared in Shared under 'album.zip'")
    assert not list((fetcher.proc.cwd / ".swarm").rglob("*.part"))
    assert swarm.stop_tracker() == 0
    print(f"\nFIGURES folder appears mid-fetch: the swarm ended {took:.2f} s after it appeared")


# --- files that change under a running peer ---------------------------------------------------


def overwrite_in_place(path: Path, content: bytes) -> None:
    with open(path, "r+b") as f:
        f.write(content)
        f.truncate()


def test_an_edited_file_held_nowhere_else_gives_way_to_its_new_version(swarm: Swarm) -> None:
    old, new = random_bytes(209, 8 * MIB), random_bytes(210, 6 * MIB)
    swarm.start_tracker()
    owner = swarm.start_peer({"doc.bin": old}, quiet_s=6,
                             env={"SWARM_UPLOAD_LIMIT_BYTES_S": "2000000"})
    fetchers = [swarm.start_peer({}, quiet_s=6), swarm.start_peer({}, quiet_s=6)]
    wait_for(lambda: all(pieces_stored(f.proc.cwd) >= 2 for f in fetchers), 60,
             "the transfer to start")
    overwrite_in_place(owner.shared / "doc.bin", new)
    edited_at = time.monotonic()
    took = end_after(edited_at, [owner, *fetchers])
    assert swarm.wait_peers(1, [owner, *fetchers]) == [0, 0, 0]
    assert swarm.stop_tracker() == 0
    for fetcher in fetchers:
        assert shared_contents(fetcher.shared) == {"doc.bin": new}
        assert not list((fetcher.proc.cwd / ".swarm").rglob("*.part"))
    assert shared_contents(owner.shared) == {"doc.bin": new}
    assert stderr_lines(owner, "'doc.bin' changed in Shared (")
    assert swarm.tracker is not None
    said = swarm.tracker.stderr()
    assert "no longer holds 'doc.bin'" in said
    assert "file 'doc.bin' removed from the swarm" in said
    for fetcher in fetchers:
        assert parse_shutdown(fetcher.proc.stdout())[1] == ["doc.bin"]
        for line in fetcher.proc.stderr().splitlines():
            assert "bad data" not in line and "banned" not in line.split("summary")[0], line
    print(f"\nFIGURES edited file (only holder): the new version reached everyone and the "
          f"swarm ended {took:.2f} s after the edit\n  "
          + stderr_lines(owner, "'doc.bin' changed in Shared (")[0])


def test_an_edited_file_with_another_holder_is_finished_from_it(swarm: Swarm) -> None:
    old, new = random_bytes(211, 8 * MIB), random_bytes(212, 8 * MIB)
    swarm.start_tracker()
    slow = {"SWARM_UPLOAD_LIMIT_BYTES_S": "2000000"}
    owner = swarm.start_peer({"doc.bin": old}, env=slow)
    second = swarm.start_peer({"doc.bin": old}, env=slow)
    fetcher = swarm.start_peer({})
    wait_for(lambda: pieces_stored(fetcher.proc.cwd) >= 2, 60, "the transfer to start")
    overwrite_in_place(owner.shared / "doc.bin", new)
    edited_at = time.monotonic()
    took = end_after(edited_at, [owner, second, fetcher])
    assert swarm.wait_peers(1, [owner, second, fetcher]) == [0, 0, 0]
    assert swarm.stop_tracker() == 0
    assert shared_contents(fetcher.shared) == {"doc.bin": old}
    assert shared_contents(second.shared) == {"doc.bin": old}
    assert shared_contents(owner.shared) == {"doc.bin": new}, "its new content is kept"
    assert swarm.tracker is not None
    assert "removed from the swarm" not in swarm.tracker.stderr()
    print(f"\nFIGURES edited file (two holders): the fetcher finished from the other holder; "
          f"the swarm ended {took:.2f} s after the edit")


def test_a_deleted_file_is_waited_for_by_nobody(swarm: Swarm) -> None:
    doc, keep = random_bytes(213, 8 * MIB), random_bytes(214, 1000)
    swarm.start_tracker()
    owner = swarm.start_peer({"doc.bin": doc, "keep.txt": keep},
                             env={"SWARM_UPLOAD_LIMIT_BYTES_S": "2000000"})
    fetcher = swarm.start_peer({})
    wait_for(lambda: pieces_stored(fetcher.proc.cwd) >= 2, 60, "the transfer to start")
    (owner.shared / "doc.bin").unlink()
    deleted_at = time.monotonic()
    took = end_after(deleted_at, [owner, fetcher])
    assert swarm.wait_peers(1, [owner, fetcher]) == [0, 0]
    assert swarm.stop_tracker() == 0
    assert shared_contents(fetcher.shared) == {"keep.txt": keep}
    assert parse_shutdown(owner.proc.stdout())[1] == ["keep.txt"]
    assert not list((fetcher.proc.cwd / ".swarm").rglob("*.part"))
    assert stderr_lines(owner, "'doc.bin' was deleted from Shared: this peer no longer shares it")
    print(f"\nFIGURES deleted file: the swarm ended {took:.2f} s after the deletion")


# --- what Shared holds that is not shared ---------------------------------------------------------


@pytest.mark.parametrize("follow", [False, True])
def test_symlinks_are_not_followed_unless_asked_and_every_skipped_entry_is_named(
        swarm: Swarm, follow: bool) -> None:
    secret = swarm.root / "outside" / "secret.txt"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(b"a file outside Shared\n")
    shared = swarm.root / "linker" / "Shared"
    shared.mkdir(parents=True)
    (shared / "ok.txt").write_bytes(b"plain\n")
    (shared / "secret.txt").symlink_to(secret)
    (shared / "dangling").symlink_to(swarm.root / "nowhere")
    (shared / "sub").mkdir()
    (shared / ".hidden").write_bytes(b"h")
    os.mkfifo(shared / "pipe")
    env = {"SWARM_FOLLOW_SYMLINKS": "true" if follow else "false"}
    swarm.start_tracker()
    linker = swarm.start_peer({}, name="linker", env=env, quiet_s=3)
    other = swarm.start_peer({}, quiet_s=3)
    # One more entry, made while it runs, is named when it appears.
    swarm.wait_connects(1)  # the first peer
    (shared / "later").mkdir()
    assert swarm.wait_peers(60, [linker, other]) == [0, 0]
    assert swarm.stop_tracker() == 0
    expected = {"ok.txt": b"plain\n"}
    if follow:
        expected["secret.txt"] = secret.read_bytes()
    assert shared_contents(other.shared) == expected
    said = linker.proc.stderr()
    reasons = {
        "dangling": "a symbolic link to nothing" if follow else "a symbolic link (links are "
                    "not followed; the setting follow_symlinks shares what they point to)",
        "sub": "a folder (subfolders are not shared)",
        ".hidden": "hidden (its name starts with a dot)",
        "pipe": "not a regular file but a FIFO",
        "later": "a folder (subfolders are not shared)",
    }
    if not follow:
        reasons["secret.txt"] = reasons["dangling"]
    for name, reason in reasons.items():
        line = f"not sharing {name!r}: {reason}"
        assert said.count(line) == 1, f"{line!r} said {said.count(line)} times:\n{said}"
    assert ("'secret.txt'" in said) is not follow
