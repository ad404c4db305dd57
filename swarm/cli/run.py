"""The commands that run a tracker or a peer: tracker, peer, get, seed.  Each
hands its settings to the IO side's loop and returns the loop's exit code."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from swarm.cli.exit_codes import EXIT_FAILURE
from swarm.config import Settings
from swarm.protocol.addresses import is_ipv6


def setup_logging(level: str, role: str) -> None:
    """Every stderr line of a process: the time, the role and the pid, the
    level, the line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s.%(msecs)03d swarm-{role}[{os.getpid()}] %(levelname)s %(message)s",
        "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def tracker(settings: Settings, args: argparse.Namespace) -> int:
    from swarm.io.tracker.loop import run_tracker

    return run_tracker(settings, Path.cwd(), events=args.events)


def peer(settings: Settings, args: argparse.Namespace) -> int:
    from swarm.io.peer.loop import run_peer

    exit_code = run_peer(settings, args.host, args.port, args.min_alive_s, args.shared,
                         Path(settings.state_dir), events=args.events, progress=args.progress)
    if exit_code == EXIT_FAILURE:  # a peer fails only by giving up on its tracker
        logging.getLogger("swarm.peer").error(
            "gave up on the tracker at %s: is one running there, and is %d the port "
            "in its port.txt?", _where(args.host, args.port), args.port)
    return exit_code


def get(settings: Settings, args: argparse.Namespace) -> int:
    from swarm.io.common.curve import keys_from as curve_keys
    from swarm.io.peer.one_shot import run_get
    from swarm.tools.client import TrackerClient, TrackerQueryError
    from swarm.tracker.listing_json import FileNotFound

    try:
        with TrackerClient(args.host, args.port, args.timeout_s,
                           curve_keys(settings.key)) as client:
            wanted = wanted_files(client.listing(), args.files)
    except (TrackerQueryError, FileNotFound) as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    exit_code, placed = run_get(settings, args.host, args.port, wanted, args.to,
                                events=args.events, progress=args.progress)
    for path in placed:
        print(path, flush=True)
    return exit_code


def seed(settings: Settings, args: argparse.Namespace) -> int:
    from swarm.io.peer.one_shot import run_seed

    return run_seed(settings, args.host, args.port, args.files, forever=args.forever,
                    events=args.events, progress=args.progress)


def wanted_files(listing: Any, keys: list[str]) -> dict[str, bytes]:
    """The files a get names (NAME or digest prefix, as `swarm who` reads
    them), name -> digest; FileNotFound for one unknown, ambiguous,
    or not available (no living peer holds all of it)."""
    from swarm.tracker.listing_json import FileNotFound, find_file

    wanted = {}
    for key in keys:
        found = find_file(listing, key).summary
        if not found.available:
            raise FileNotFound(f"{found.name!r} is not available: no living peer "
                                      "holds all of it")
        wanted[found.name] = found.digest
    return wanted


def _where(host: str, port: int) -> str:
    return f"[{host.strip('[]')}]:{port}" if is_ipv6(host) else f"{host}:{port}"
