"""The same workload on libtorrent, for comparison.

N libtorrent sessions (one per peer, in one process: libtorrent does its work
on its own threads), TCP only on loopback, no DHT/LSD/UPnP/uTP,
``allow_multiple_connections_per_ip``, torrents not auto-managed, and every
peer connected to every other directly with ``connect_peer``.  Each peer
starts with one distinct random file and must end with all of them.

The clock starts when the torrents are resumed and the peers connected --
sessions, torrents and hash checks are ready before, so libtorrent's own
start-up is not counted -- and stops when every torrent of every session is
seeding.  The copies are then compared byte for byte with the originals.
"""

from __future__ import annotations

import collections
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import libtorrent as lt

TIMEOUT_S = 600.0
POLL_S = 0.005


@dataclass
class LtResult:
    peers: int
    size_bytes: int
    completion_s: float


def _settings() -> dict[str, object]:
    return {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": 0,
    }


def _make_torrent(path: Path) -> lt.torrent_info:
    ct = lt.create_torrent(lt.list_files(str(path)))
    lt.set_piece_hashes(ct, str(path.parent))
    # The stubs type bdecode's result as any bencoded value; a torrent's is a dict.
    return lt.torrent_info(lt.bdecode(lt.bencode(ct.generate())))  # type: ignore[arg-type]


def run_lt(peers: int, size: int, keep: bool = False) -> LtResult:
    root = Path(tempfile.mkdtemp(prefix="lt-bench-"))
    try:
        dirs = [root / f"peer{i}" for i in range(peers)]
        originals = []
        for i, d in enumerate(dirs):
            d.mkdir()
            path = d / f"file{i}.bin"
            with open(path, "wb") as f:
                left = size
                while left:
                    n = min(1 << 20, left)
                    f.write(os.urandom(n))
                    left -= n
            originals.append(path)
        infos = [_make_torrent(p) for p in originals]
        # A dict of settings is what the binding takes; its stubs know only the classes.
        sessions = [lt.session(_settings()) for _ in range(peers)]  # type: ignore[call-overload]
        handles: list[list[lt.torrent_handle]] = []
        for i, ses in enumerate(sessions):
            row = []
            for k, ti in enumerate(infos):
                atp = lt.add_torrent_params()
                atp.ti = ti
                atp.save_path = str(dirs[i])
                atp.flags &= ~lt.torrent_flags.auto_managed
                atp.flags |= lt.torrent_flags.paused
                if k == i:
                    atp.flags |= lt.torrent_flags.seed_mode
                row.append(ses.add_torrent(atp))
            handles.append(row)
        _wait_checked(handles)
        ports = [ses.listen_port() for ses in sessions]

        started = time.monotonic()
        for row in handles:
            for h in row:
                h.resume()
        for i, row in enumerate(handles):
            for h in row:
                for j, port in enumerate(ports):
                    if j != i:
                        h.connect_peer(("127.0.0.1", port))
        # Each handle is asked until it seeds, and a poll stops at the first
        # one that does not: watching 4,096 torrents costs libtorrent's
        # threads next to nothing.
        pending = collections.deque(h for row in handles for h in row)
        while pending:
            while pending and pending[0].status().is_seeding:
                pending.popleft()
            if not pending:
                break
            if time.monotonic() - started > TIMEOUT_S:
                raise RuntimeError("libtorrent swarm did not finish")
            time.sleep(POLL_S)
        completion = time.monotonic() - started

        for ses in sessions:
            ses.pause()
        for original in originals:
            data = original.read_bytes()
            for d in dirs:
                if (d / original.name).read_bytes() != data:
                    raise RuntimeError(f"libtorrent copy {d / original.name} differs")
        del handles, sessions
        return LtResult(peers, size, completion)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _wait_checked(handles: list[list[lt.torrent_handle]]) -> None:
    checking = (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)
    deadline = time.monotonic() + TIMEOUT_S
    while any(h.status().state in checking for row in handles for h in row):
        if time.monotonic() > deadline:
            raise RuntimeError("libtorrent did not finish checking")
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peers", type=int, default=8)
    parser.add_argument("--size-mib", type=float, default=4)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    for _ in range(args.runs):
        r = run_lt(args.peers, int(args.size_mib * (1 << 20)))
        print(f"libtorrent {r.peers} x {args.size_mib:g} MiB: complete in {r.completion_s:.2f} s",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
