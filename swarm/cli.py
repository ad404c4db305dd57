"""Command line: argparse -> settings -> run."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from swarm.config import ConfigError, Settings, load_settings

EXIT_OK = 0
EXIT_FAILURE = 1  # a peer gave up (tracker silent) or a command failed
EXIT_USAGE = 2


def _quiet_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError("MIN_ALIVE_SECONDS must be a finite number >= 0")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is between 1 and 65535")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swarm", description="A peer-to-peer file-sharing swarm on ZeroMQ.")
    parser.add_argument("--config", type=Path, help="settings file (default: config/swarm.toml)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                        help="how much to say on stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("tracker", help="run the tracker; writes its port to ./port.txt")

    peer = commands.add_parser("peer", help="run a peer sharing ./Shared")
    peer.add_argument("host", help="the tracker's address")
    peer.add_argument("port", type=_port, help="the tracker's port (from its port.txt)")
    peer.add_argument("min_alive_s", metavar="MIN_ALIVE_SECONDS", type=_quiet_seconds,
                      help="stay at least this long, and this long after the last new file")
    peer.add_argument("--shared", type=Path, default=Path("Shared"),
                      help="the shared folder (default: ./Shared)")
    return parser


def setup_logging(level: str, role: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s.%(msecs)03d swarm-{role}[{os.getpid()}] %(levelname)s %(message)s",
        "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        loaded = load_settings(args.config, flags={"log_level": args.log_level})
    except ConfigError as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings: Settings = loaded.settings
    setup_logging(settings.log_level, args.command)
    if args.command == "tracker":
        from swarm.tracker_io import run_tracker

        return run_tracker(settings, Path.cwd())
    from swarm.peer_io import run_peer

    state_dir = Path(settings.state_dir)
    return run_peer(settings, args.host, args.port, args.min_alive_s, args.shared, state_dir)
