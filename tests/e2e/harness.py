"""Runs real swarms for end-to-end tests: tracker.sh and peer.sh as real
processes in temporary folders, and parsers that hold every stdout line to
the contract.

Every wait here is bounded; every process is started in its own process
group and killed by that group, never by name.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TRACKER_SH = REPO / "tracker.sh"
PEER_SH = REPO / "peer.sh"
CHUNK = 512

# Faster failure detection for tests; the defaults suit real networks.
TEST_ENV = {
    "SWARM_TRACKER_GRACE_S": "5",
    "SWARM_LOG_LEVEL": "info",
}


def chunks_of(size: int) -> int:
    return -(-size // CHUNK)


# --- stdout grammar -----------------------------------------------------------

CONNECT_RE = re.compile(r"PEER (\d+) CONNECT: OFFERS (\d+)")
CONNECT_FILE_RE = re.compile(r"(\d+)    (.+) (\d+)")
ACQUIRED_RE = re.compile(r"PEER (\d+) ACQUIRED: CHUNK (\d+)/(\d+) (.+)")
DISCONNECT_RE = re.compile(r"PEER (\d+) DISCONNECT: RECEIVED (\d+)")
SHUTDOWN_RE = re.compile(r"PEER (\d+) SHUTDOWN: HAS (\d+)")
FILE_RE = re.compile(r"(\d+)    (.+)")


class ContractError(AssertionError):
    pass


@dataclass
class TrackerLog:
    """The tracker's stdout, parsed; every line accounted for."""

    connects: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    acquired: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    acquired_totals: dict[str, set[int]] = field(default_factory=dict)
    disconnects: dict[int, list[str]] = field(default_factory=dict)
    order: list[tuple[str, int]] = field(default_factory=list)  # (kind, peer) per block


def _file_lines(lines: list[str], i: int, count: int, peer: int, pattern: re.Pattern[str],
                what: str) -> tuple[list[re.Match[str]], int]:
    found = []
    for _ in range(count):
        if i >= len(lines):
            raise ContractError(f"{what} of peer {peer}: stdout ends inside the block")
        m = pattern.fullmatch(lines[i])
        if m is None or int(m.group(1)) != peer:
            raise ContractError(f"{what} of peer {peer}: bad file line {lines[i]!r}")
        found.append(m)
        i += 1
    return found, i


def split_lines(text: str) -> list[str]:
    if text and not text.endswith("\n"):
        raise ContractError("stdout does not end with a newline")
    lines = text.split("\n")[:-1] if text else []
    for line in lines:
        if line == "":
            raise ContractError("a blank line on stdout")
    return lines


def parse_tracker(text: str) -> TrackerLog:
    out = TrackerLog()
    lines = split_lines(text)
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := ACQUIRED_RE.fullmatch(line):
            peer, chunk, total, name = int(m[1]), int(m[2]), int(m[3]), m[4]
            if not 1 <= chunk <= total:
                raise ContractError(f"chunk number out of range: {line!r}")
            out.acquired.setdefault((peer, name), []).append(chunk)
            out.acquired_totals.setdefault(name, set()).add(total)
            out.order.append(("ACQUIRED", peer))
            i += 1
        elif m := CONNECT_RE.fullmatch(line):
            peer, count = int(m[1]), int(m[2])
            if peer in out.connects:
                raise ContractError(f"peer {peer} connected twice")
            files, i = _file_lines(lines, i + 1, count, peer, CONNECT_FILE_RE, "CONNECT")
            names = [f[2] for f in files]
            if names != sorted(names):
                raise ContractError(f"CONNECT of peer {peer}: file lines not sorted")
            out.connects[peer] = [(f[2], int(f[3])) for f in files]
            out.order.append(("CONNECT", peer))
        elif m := DISCONNECT_RE.fullmatch(line):
            peer, count = int(m[1]), int(m[2])
            if peer in out.disconnects:
                raise ContractError(f"peer {peer} disconnected twice")
            files, i = _file_lines(lines, i + 1, count, peer, FILE_RE, "DISCONNECT")
            names = [f[2] for f in files]
            if names != sorted(names):
                raise ContractError(f"DISCONNECT of peer {peer}: file lines not sorted")
            out.disconnects[peer] = names
            out.order.append(("DISCONNECT", peer))
        else:
            raise ContractError(f"tracker stdout line outside the contract: {line!r}")
    return out


def parse_shutdown(text: str) -> tuple[int, list[str]]:
    """A peer's stdout: exactly one SHUTDOWN block and nothing else."""
    lines = split_lines(text)
    if not lines:
        raise ContractError("peer printed nothing")
    m = SHUTDOWN_RE.fullmatch(lines[0])
    if m is None:
        raise ContractError(f"peer stdout line outside the contract: {lines[0]!r}")
    peer, count = int(m[1]), int(m[2])
    files, end = _file_lines(lines, 1, count, peer, FILE_RE, "SHUTDOWN")
    if end != len(lines):
        raise ContractError(f"peer stdout has more after its SHUTDOWN block: {lines[end]!r}")
    names = [f[2] for f in files]
    if names != sorted(names):
        raise ContractError(f"SHUTDOWN of peer {peer}: file lines not sorted")
    return peer, names


# --- processes -------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    cwd: Path
    popen: subprocess.Popen[bytes]
    started_at: float
    streams: str = ""  # between the name and ".txt" of its stdout and stderr files

    @property
    def stdout_path(self) -> Path:
        return self.cwd / f"stdout{self.streams}.txt"

    @property
    def stderr_path(self) -> Path:
        return self.cwd / f"stderr{self.streams}.txt"

    def stdout(self) -> str:
        return self.stdout_path.read_bytes().decode("utf-8")

    def stderr(self) -> str:
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def signal(self, signum: int) -> None:
        """Signal the script's process (sh execs python, so it is the peer)."""
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signum)

    def kill_group(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def wait(self, timeout_s: float) -> int:
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} still running after {timeout_s:.0f} s\n"
                f"--- stderr tail ---\n{self.stderr()[-3000:]}"
            ) from None


def _in_netns(netns: str | None, argv: list[str]) -> list[str]:
    return argv if netns is None else ["ip", "netns", "exec", netns, *argv]


def start(name: str, argv: list[str], cwd: Path, env: Mapping[str, str] | None = None,
          streams: str = "") -> Proc:
    """``streams``: a mark in the names of its stdout and stderr files
    (``stdout.2.txt``), for a second process in the same folder."""
    cwd.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(TEST_ENV)
    full_env.update(env or {})
    with open(cwd / f"stdout{streams}.txt", "wb") as out, \
            open(cwd / f"stderr{streams}.txt", "wb") as err:
        popen = subprocess.Popen(
            argv, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            env=full_env, start_new_session=True,
        )
    return Proc(name, cwd, popen, time.monotonic(), streams)


def read_port_file(path: Path) -> int:
    text = path.read_text()
    assert re.fullmatch(r"\d+\n?", text), f"port.txt holds {text!r}"
    return int(text)


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str,
             poll_s: float = 0.02) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def make_files(folder: Path, files: Mapping[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def shared_contents(folder: Path) -> dict[str, bytes]:
    """Visible regular files of a Shared folder."""
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


@dataclass
class PeerRun:
    proc: Proc
    initial: dict[str, bytes]  # the visible files it started with (offered)

    @property
    def shared(self) -> Path:
        return self.proc.cwd / "Shared"


class Swarm:
    """A tracker and peers under one temporary folder."""

    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.env = dict(env or {})
        self.tracker: Proc | None = None  # the one running, or the last one that ran
        self.trackers: list[Proc] = []  # every one, in the order they started
        self.port = 0
        self.peers: list[PeerRun] = []
        self._procs: list[Proc] = []

    def start_tracker(self, timeout_s: float = 20.0, args: Iterable[str] = (),
                      netns: str | None = None, lose_events: Collection[int] = (),
                      ulimit: str | None = None, env: Mapping[str, str] | None = None) -> int:
        """``netns``: run it inside that network namespace (ip netns exec).
        ``lose_events``: event numbers it never publishes, as if its PUB
        socket had dropped them (tests/e2e/lossy_tracker.py runs in place of
        tracker.sh).  ``ulimit``: options for the shell's ulimit, set first."""
        cwd = self.root / "tracker"
        env = {**self.env, **(env or {})}
        if lose_events:
            seqs = ",".join(str(seq) for seq in sorted(lose_events))
            command = [sys.executable, "-m", "tests.e2e.lossy_tracker", seqs, *args]
            env["PYTHONPATH"] = str(REPO)
        elif ulimit is not None:
            command = ["sh", "-c", f'ulimit {ulimit} && exec sh "$@"', "sh", str(TRACKER_SH),
                       *args]
        else:
            command = ["sh", str(TRACKER_SH), *args]
        self.tracker = start("tracker", _in_netns(netns, command), cwd, env)
        self._procs.append(self.tracker)
        self.trackers.append(self.tracker)
        port_file = cwd / "port.txt"
        wait_for(port_file.exists, timeout_s, "port.txt")
        self.port = read_port_file(port_file)
        return self.port

    def restart_tracker(self, args: Iterable[str] = (), netns: str | None = None,
                        env: Mapping[str, str] | None = None, timeout_s: float = 20.0) -> Proc:
        """Start the tracker again in its folder, once the one before is gone
        (killed, say): the new one writes stdout.N.txt and stderr.N.txt
        beside the earlier ones (``trackers`` keeps every one), and is
        waited for until it says where it listens.  Its port.txt replaces
        the dead one's; the port it holds is returned by ``port``."""
        assert self.tracker is not None and self.tracker.popen.poll() is not None, (
            "the tracker before is still running")
        cwd = self.tracker.cwd
        streams = f".{len(self.trackers) + 1}"
        command = ["sh", str(TRACKER_SH), *args]
        proc = start("tracker", _in_netns(netns, command), cwd, {**self.env, **(env or {})},
                     streams)
        self._procs.append(proc)
        self.trackers.append(proc)
        self.tracker = proc
        wait_for(lambda: "tracker listening on" in proc.stderr() or proc.popen.poll() is not None,
                 timeout_s, "the tracker started again to say where it listens")
        assert proc.popen.poll() is None, f"the tracker did not start again: {proc.stderr()}"
        self.port = read_port_file(cwd / "port.txt")
        return proc

    def connects(self) -> dict[int, list[tuple[str, int]]]:
        """The CONNECT blocks the tracker has printed so far (peer id -> its
        offers); none while the tracker is caught writing a block."""
        assert self.tracker is not None
        try:
            return parse_tracker(self.tracker.stdout()).connects
        except ContractError:  # a block half-written: check_swarm judges the whole
            return {}

    def wait_connects(self, count: int,
                      timeout_s: float = 20.0) -> dict[int, list[tuple[str, int]]]:
        """Wait until the tracker has printed ``count`` CONNECT blocks (that
        many peers have joined); returns them."""
        wait_for(lambda: len(self.connects()) >= count, timeout_s,
                 f"{count} CONNECT block(s) on the tracker's stdout")
        return self.connects()

    def start_peer(self, files: Mapping[str, bytes], quiet_s: float = 1.0,
                   extra: Mapping[str, bytes] | None = None,
                   env: Mapping[str, str] | None = None, name: str | None = None,
                   args: Iterable[str] = (), netns: str | None = None,
                   tracker_host: str = "127.0.0.1") -> PeerRun:
        """A peer whose Shared holds ``files`` (offered) and ``extra`` (paths
        relative to Shared that must be ignored: hidden files, subfolders)."""
        cwd = self.root / (name or f"peer{len(self.peers) + 1}")
        shared = cwd / "Shared"
        make_files(shared, files)
        for rel, data in (extra or {}).items():
            path = shared / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        argv = _in_netns(netns, ["sh", str(PEER_SH), tracker_host, str(self.port), str(quiet_s),
                                 *args])
        proc = start(cwd.name, argv, cwd, {**self.env, **(env or {})})
        self._procs.append(proc)
        run = PeerRun(proc, dict(files))
        self.peers.append(run)
        return run

    def restart_peer(self, old: PeerRun, quiet_s: float = 1.0,
                     env: Mapping[str, str] | None = None) -> PeerRun:
        """Start a peer again in the same folder (its Shared and state folder
        as the earlier run left them)."""
        cwd = old.proc.cwd
        for name in ("stdout.txt", "stderr.txt"):
            if (cwd / name).exists():
                (cwd / name).rename(cwd / f"{name}.{len(self._procs)}")
        proc = start(cwd.name, ["sh", str(PEER_SH), "127.0.0.1", str(self.port), str(quiet_s)],
                     cwd, {**self.env, **(env or {})})
        self._procs.append(proc)
        run = PeerRun(proc, dict(old.initial))
        self.peers.append(run)
        return run

    def launch(self, name: str, argv: list[str], cwd: Path,
               env: Mapping[str, str] | None = None, streams: str = "") -> Proc:
        """Any other process of the test, killed by its process group with
        the swarm's (``start``'s arguments)."""
        proc = start(name, argv, cwd, {**self.env, **(env or {})}, streams)
        self._procs.append(proc)
        return proc

    def start_double(self, mode: str, name: str, files: Mapping[str, bytes],
                     args: Iterable[str] = ()) -> Proc:
        """A misbehaving peer (tests/e2e/doubles.py) offering one file."""
        cwd = self.root / name
        make_files(cwd / "Shared", files)
        (fname,) = files
        argv = [sys.executable, "-m", "tests.e2e.doubles", mode, "127.0.0.1", str(self.port),
                str(cwd / "Shared" / fname), *args]
        proc = start(name, argv, cwd, {"PYTHONPATH": str(REPO)})
        self._procs.append(proc)
        return proc

    def wait_peers(self, timeout_s: float, peers: Iterable[PeerRun] | None = None) -> list[int]:
        deadline = time.monotonic() + timeout_s
        codes = []
        for run in peers if peers is not None else self.peers:
            codes.append(run.proc.wait(max(0.1, deadline - time.monotonic())))
        return codes

    def stop_tracker(self, timeout_s: float = 10.0) -> int:
        assert self.tracker is not None
        self.tracker.signal(signal.SIGTERM)
        return self.tracker.wait(timeout_s)

    def cleanup(self) -> None:
        for proc in self._procs:
            proc.kill_group()


# --- whole-swarm checks ----------------------------------------------------------


@dataclass
class Outcome:
    tracker: TrackerLog
    peer_ids: dict[str, int]  # peer folder name -> id
    holdings: dict[str, list[str]]  # peer folder name -> SHUTDOWN files


def check_swarm(swarm: Swarm, expected: Mapping[str, bytes],
                peers: Iterable[PeerRun] | None = None,
                received_override: Mapping[str, set[str]] | None = None) -> Outcome:
    """Every finished peer holds exactly ``expected`` byte for byte, and every
    stdout line of the tracker and the peers agrees with the contract and
    with what happened."""
    assert swarm.tracker is not None
    log = parse_tracker(swarm.tracker.stdout())
    runs = list(peers if peers is not None else swarm.peers)
    outcome = Outcome(log, {}, {})
    for run in runs:
        name = run.proc.name
        peer_id, holds = parse_shutdown(run.proc.stdout())
        outcome.peer_ids[name] = peer_id
        outcome.holdings[name] = holds
        contents = shared_contents(run.shared)
        assert sorted(contents) == sorted(expected), (
            f"{name} holds {sorted(contents)}, expected {sorted(expected)}")
        for fname, data in expected.items():
            assert contents[fname] == data, f"{name}: {fname!r} differs from the original"
        assert holds == sorted(expected), f"{name} SHUTDOWN lists {holds}"
        assert no_partial_data(run.proc.cwd), f"{name} left partial data behind"

        offered = sorted((f, chunks_of(len(d))) for f, d in run.initial.items())
        assert log.connects.get(peer_id) == offered, (
            f"CONNECT of peer {peer_id} ({name}) is {log.connects.get(peer_id)}, "
            f"expected {offered}")
        received = set(expected) - set(run.initial)
        if received_override and name in received_override:
            received = received_override[name]
        assert log.disconnects.get(peer_id) == sorted(received), (
            f"DISCONNECT of peer {peer_id} ({name}) is {log.disconnects.get(peer_id)}, "
            f"expected {sorted(received)}")
        for fname in received:
            total = chunks_of(len(expected[fname]))
            # A restarted peer too: what it kept from its earlier run is
            # shown under its new id as it joins.
            got = sorted(log.acquired.get((peer_id, fname), []))
            assert got == list(range(1, total + 1)), (
                f"peer {peer_id} ({name}): ACQUIRED lines of {fname!r} are not exactly "
                f"chunks 1..{total} once each ({len(got)} lines)")
        for fname in run.initial:
            assert (peer_id, fname) not in log.acquired, (
                f"peer {peer_id} has ACQUIRED lines for {fname!r}, which it brought")
    for fname, totals in log.acquired_totals.items():
        if fname in expected:
            assert totals == {chunks_of(len(expected[fname]))}, f"{fname}: totals {totals}"
    check_block_order(log)
    return outcome


def check_block_order(log: TrackerLog) -> None:
    """CONNECT before a peer's ACQUIRED lines, DISCONNECT after them."""
    state: dict[int, str] = {}
    for kind, peer in log.order:
        if kind == "CONNECT":
            state[peer] = "in"
        elif kind == "ACQUIRED":
            assert state.get(peer) == "in", f"ACQUIRED for peer {peer} outside its session"
        else:
            assert state.get(peer) == "in", f"DISCONNECT of peer {peer} without CONNECT"
            state[peer] = "out"


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of an --events file, in order (every line whole JSON)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def brought_chunks(entries: Iterable[Mapping[str, Any]]) -> dict[tuple[int, str], set[int]]:
    """From a tracker's entries: the chunks each peer brought from an
    earlier run (shown as it joined), per (peer, file), counted from 1 as
    the ACQUIRED lines count them."""
    brought: dict[tuple[int, str], set[int]] = {}
    for entry in entries:
        if entry["event"] == "chunks" and entry["brought"]:
            chunks = brought.setdefault((entry["peer"], entry["file"]), set())
            for start, end in entry["ranges"]:
                chunks.update(range(start + 1, end + 1))
    return brought


def pieces_stored(peer_dir: Path) -> int:
    """Pieces a downloading peer has written to its partial files so far.
    Partial files are sparse and only verified pieces are written, so the
    bytes a partial file holds tell how many pieces it holds (a piece being
    written counts once it is whole)."""
    from swarm.io.peer.partials import read_record

    total = 0
    for part in (peer_dir / ".swarm").rglob("*.part"):
        try:
            fd = os.open(part, os.O_RDONLY)
        except OSError:
            continue  # placed or removed while we looked
        try:
            layout = read_record(fd).layout
            total += _data_bytes(fd, layout.size_bytes) // layout.piece_bytes
        except (OSError, ValueError, TypeError):
            pass  # placed or removed while we looked
        finally:
            os.close(fd)
    return total


def _data_bytes(fd: int, size: int) -> int:
    """Bytes of a sparse file's first ``size`` that hold data (its resume
    record lies beyond)."""
    held, offset = 0, 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole from here on
            break
        if start >= size:
            break
        end = min(size, os.lseek(fd, start, os.SEEK_HOLE))
        held += end - start
        offset = end
    return held


def no_partial_data(peer_dir: Path) -> bool:
    state = peer_dir / ".swarm"
    if not state.exists():
        return True
    return not any(p.is_file() for p in state.rglob("*"))


def random_bytes(seed: int, size: int) -> bytes:
    """Deterministic incompressible test data."""
    import random

    return random.Random(seed).randbytes(size)


DASHBOARD_URL_RE = re.compile(r"dashboard at (http://\S+/)")


def dashboard_url(swarm: Swarm) -> str:
    """The URL the tracker wrote on stderr: `dashboard at http://HOST:PORT/ ...`."""
    tracker = swarm.tracker
    assert tracker is not None
    wait_for(lambda: DASHBOARD_URL_RE.search(tracker.stderr()), 20,
             "the dashboard's URL on the tracker's stderr")
    match = DASHBOARD_URL_RE.search(tracker.stderr())
    assert match is not None
    return match[1]


# --- a tracker killed and started again --------------------------------------------

JOINED_AS_RE = re.compile(r"joined as peer (\d+)")


def check_tracker_log(log: TrackerLog) -> None:
    """One tracker's stdout on its own, for what it saw: under each id,
    ACQUIRED lines inside its session, each chunk at most once, none for a
    file it offered as it joined, and every file of its DISCONNECT block
    whole among its ACQUIRED lines and not among its offers."""
    check_block_order(log)
    for (peer, name), chunks in log.acquired.items():
        assert len(chunks) == len(set(chunks)), f"peer {peer}: a chunk of {name!r} twice"
        offered = {fname for fname, _ in log.connects.get(peer, [])}
        assert name not in offered, f"peer {peer}: ACQUIRED lines for {name!r}, which it offered"
    for peer, received in log.disconnects.items():
        brought_whole = {fname for fname, _ in log.connects[peer]}
        for name in received:
            assert name not in brought_whole, f"peer {peer} received {name!r}, which it offered"
            totals = log.acquired_totals.get(name, set())
            assert len(totals) == 1, f"{name!r}: chunk totals {totals}"
            (total,) = totals
            got = sorted(log.acquired.get((peer, name), []))
            assert got == list(range(1, total + 1)), (
                f"peer {peer} received {name!r} but its ACQUIRED lines are {len(got)} of "
                f"{total} chunks")


def shown_holding(log: TrackerLog, peer: int) -> dict[str, set[int]]:
    """What a tracker's stdout shows ``peer`` holding: every chunk (from 1)
    of the files it offered as it joined, and its ACQUIRED lines."""
    held = {name: set(range(1, total + 1)) for name, total in log.connects.get(peer, [])}
    for (who, name), chunks in log.acquired.items():
        if who == peer:
            held.setdefault(name, set()).update(chunks)
    return held


def check_restarted_swarm(
        swarm: Swarm, expected: Mapping[str, bytes],
        brought: Mapping[tuple[int, str], set[int]] | None = None) -> list[TrackerLog]:
    """A swarm whose tracker was killed and started again (``trackers``)
    while every peer ran: every peer holds exactly ``expected`` byte for
    byte; each tracker's stdout is held to the contract on its own
    (``check_tracker_log``); a peer joined the first tracker offering what
    it started with, and the last one under the id of its SHUTDOWN block,
    where its offers and what it received make every file.  ``brought``
    (the last tracker's ``brought_chunks``): then every chunk the first
    tracker showed a peer holding, of a file it did not hold whole as it
    joined the last, is among what it brought there."""
    logs = [parse_tracker(proc.stdout()) for proc in swarm.trackers]
    for log in logs:
        check_tracker_log(log)
    first, last = logs[0], logs[-1]
    for run in swarm.peers:
        name = run.proc.name
        peer_id, holds = parse_shutdown(run.proc.stdout())
        assert holds == sorted(expected), f"{name} SHUTDOWN lists {holds}"
        contents = shared_contents(run.shared)
        assert sorted(contents) == sorted(expected), f"{name} holds {sorted(contents)}"
        for fname, data in expected.items():
            assert contents[fname] == data, f"{name}: {fname!r} differs from the original"
        assert no_partial_data(run.proc.cwd), f"{name} left partial data behind"
        ids = [int(i) for i in JOINED_AS_RE.findall(run.proc.stderr())]
        assert len(ids) >= 2 and ids[-1] == peer_id, f"{name} joined as {ids}, left as {peer_id}"
        offered = sorted((f, chunks_of(len(d))) for f, d in run.initial.items())
        assert first.connects.get(ids[0]) == offered, (
            f"{name}: CONNECT of peer {ids[0]} at the first tracker is "
            f"{first.connects.get(ids[0])}, expected {offered}")
        rejoined = {fname for fname, _ in last.connects[peer_id]}
        received = set(last.disconnects.get(peer_id, []))
        assert rejoined | received == set(expected) and not rejoined & received, (
            f"{name}: peer {peer_id} offered {sorted(rejoined)} at the last tracker and "
            f"received {sorted(received)}")
        if brought is None:
            continue
        for fname, chunks in shown_holding(first, ids[0]).items():
            if fname in rejoined:
                continue
            lost = chunks - brought.get((peer_id, fname), set())
            assert not lost, (f"{name}: {len(lost)} chunks of {fname!r} shown at the first "
                              f"tracker were not brought to the last as it joined")
    return logs
