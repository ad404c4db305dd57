"""The `swarm` command: argparse -> settings -> run.

    swarm tracker                      run the tracker (what tracker.sh runs)
    swarm peer HOST PORT S             run a peer (what peer.sh runs)
    swarm ls HOST PORT                 every file of a swarm
    swarm who HOST PORT NAME|DIGEST    who holds a file, and how much of it
    swarm status HOST PORT             a live table of peers and progress
    swarm config                       the effective settings, and where from
    swarm digest FILE...               the swarm digest of local files
    swarm keygen                       a new swarm key (for closed swarms)

Exit codes: 0 success; 1 failure (a peer gave up on a silent tracker, a
tracker did not answer, a file was not found); 2 bad usage or settings.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from swarm.config import (
    SETTING_HELP,
    SETTING_NAMES,
    ConfigError,
    LoadedSettings,
    Settings,
    load_settings,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

EXIT_CODES = """exit codes:
  0  success
  1  failure: a peer gave up on a silent tracker, a tracker did not answer,
     a file was not found
  2  bad usage or settings"""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("seconds must be a finite number >= 0")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is between 1 and 65535")
    return value


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting (--heartbeat-interval-s ...), overriding the
    config file and the environment."""
    group = parser.add_argument_group(
        "settings", "each overrides config/swarm.toml and SWARM_<NAME> (see `swarm config`)")
    defaults = Settings()
    for name in SETTING_NAMES:
        flag = "--" + name.replace("_", "-")
        kind = type(getattr(defaults, name))
        if kind is bool:
            group.add_argument(flag, dest=f"set_{name}", metavar="true|false",
                               help=SETTING_HELP[name])
        else:
            group.add_argument(flag, dest=f"set_{name}", metavar=kind.__name__.upper(),
                               help=SETTING_HELP[name])


def _add_tracker_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("host", help="the tracker's address")
    parser.add_argument("port", type=_port, help="the tracker's port (from its port.txt)")
    parser.add_argument("--timeout-s", type=_seconds, default=5.0,
                        help="how long to wait for the tracker (default: 5)")


def _command(commands: Any, name: str, summary: str, examples: str) -> argparse.ArgumentParser:
    return commands.add_parser(  # type: ignore[no-any-return]
        name, help=summary, description=summary,
        epilog=f"examples:\n{examples}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swarm", description="A peer-to-peer file-sharing swarm on ZeroMQ.",
        epilog="examples:\n  swarm tracker\n  swarm peer 127.0.0.1 40001 5\n"
               "  swarm ls 127.0.0.1 40001 --json\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path,
                        help="settings file (default: SWARM_CONFIG, else config/swarm.toml)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tracker = _command(commands, "tracker", "run the tracker; it writes its port to ./port.txt",
                       "  swarm tracker\n  swarm tracker --bind-address 127.0.0.1\n"
                       "  swarm tracker --events tracker-events.jsonl")
    tracker.add_argument("--events", type=Path, metavar="FILE",
                         help="also write what happens as JSON lines to FILE")
    _add_settings_flags(tracker)

    peer = _command(commands, "peer", "run a peer sharing ./Shared",
                    "  swarm peer 127.0.0.1 40001 5\n"
                    "  swarm peer 10.0.0.7 40001 30 --shared ~/outbox --events peer.jsonl\n"
                    "  SWARM_TRACKER_GRACE_S=5 swarm peer 127.0.0.1 40001 5")
    peer.add_argument("host", help="the tracker's address")
    peer.add_argument("port", type=_port, help="the tracker's port (from its port.txt)")
    peer.add_argument("min_alive_s", metavar="MIN_ALIVE_SECONDS", type=_seconds,
                      help="stay at least this long, and this long after the last new file")
    peer.add_argument("--shared", type=Path, default=Path("Shared"),
                      help="the shared folder (default: ./Shared)")
    peer.add_argument("--events", type=Path, metavar="FILE",
                      help="also write what happens as JSON lines to FILE")
    peer.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                      help="progress bars on stderr: auto shows them on a terminal only")
    _add_settings_flags(peer)

    ls = _command(commands, "ls", "list every file of a swarm",
                  "  swarm ls 127.0.0.1 40001\n  swarm ls 127.0.0.1 40001 --json | jq .files")
    _add_tracker_address(ls)
    ls.add_argument("--json", action="store_true", help="machine-readable output")

    who = _command(commands, "who", "show the peers holding a file, and how much of it",
                   "  swarm who 127.0.0.1 40001 report.pdf\n"
                   "  swarm who 127.0.0.1 40001 3fa9c2 --json   (a digest prefix)")
    _add_tracker_address(who)
    who.add_argument("file", metavar="NAME|DIGEST",
                     help="a file name, or its digest (at least 4 leading hex digits)")
    who.add_argument("--json", action="store_true", help="machine-readable output")

    status = _command(commands, "status", "show peers and per-file progress, live",
                      "  swarm status 127.0.0.1 40001\n"
                      "  swarm status 127.0.0.1 40001 --once --json")
    _add_tracker_address(status)
    status.add_argument("--json", action="store_true",
                        help="one JSON object per refresh, one per line")
    status.add_argument("--interval-s", type=_seconds, default=1.0,
                        help="seconds between refreshes (default: 1)")
    status.add_argument("--once", action="store_true", help="show one refresh and exit")

    config = _command(commands, "config", "print the effective settings and where each came from",
                      "  swarm config\n  SWARM_HEARTBEAT_INTERVAL_S=0.5 swarm config --json")
    config.add_argument("--json", action="store_true", help="machine-readable output")
    _add_settings_flags(config)

    digest = _command(commands, "digest", "print the swarm digest of local files",
                      "  swarm digest Shared/report.pdf")
    digest.add_argument("files", nargs="+", type=Path, metavar="FILE")

    _command(commands, "keygen", "print a new swarm key",
             "  swarm keygen > swarm.key && chmod 600 swarm.key\n"
             "  SWARM_KEY=$(cat swarm.key) swarm tracker")
    return parser


def setup_logging(level: str, role: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s.%(msecs)03d swarm-{role}[{os.getpid()}] %(levelname)s %(message)s",
        "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _settings_from(args: argparse.Namespace) -> LoadedSettings:
    flags = {name: getattr(args, f"set_{name}", None) for name in SETTING_NAMES}
    return load_settings(args.config, flags=flags)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        loaded = _settings_from(args)
    except ConfigError as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = loaded.settings
    command = args.command
    if command == "config":
        return _config(loaded, args.json)
    if command == "digest":
        return _digest(args.files)
    if command == "keygen":
        from swarm.io.curve import new_swarm_key

        print(new_swarm_key())
        return EXIT_OK
    setup_logging(settings.log_level, command)
    if command == "tracker":
        from swarm.io.tracker_loop import run_tracker

        return run_tracker(settings, Path.cwd(), events=args.events)
    if command == "peer":
        from swarm.io.peer_loop import run_peer

        return run_peer(settings, args.host, args.port, args.min_alive_s, args.shared,
                        Path(settings.state_dir), events=args.events, progress=args.progress)
    args.settings = settings
    return _query(command, args)


def _shown(settings: Settings, name: str) -> Any:
    value = getattr(settings, name)
    if name == "key" and value:
        return "(set)"  # a secret: where it came from is shown, never its value
    return value


def _config(loaded: LoadedSettings, as_json: bool) -> int:
    settings = loaded.settings
    if as_json:
        print(json.dumps({name: {"value": _shown(settings, name),
                                 "source": loaded.sources[name]} for name in SETTING_NAMES},
                         indent=2))
        return EXIT_OK
    width = max(len(n) for n in SETTING_NAMES)
    for name in SETTING_NAMES:
        value = json.dumps(_shown(settings, name))
        print(f"{name:<{width}} = {value:<12} # {loaded.sources[name]}")
    return EXIT_OK


def _digest(paths: list[Path]) -> int:
    from swarm.io.store import hash_file

    status = EXIT_OK
    for path in paths:
        try:
            meta, _ = hash_file(path, path.name)
        except (OSError, ValueError) as exc:
            print(f"swarm: {path}: {exc}", file=sys.stderr)
            status = EXIT_FAILURE
            continue
        print(f"{meta.digest.hex()}  {path}")
    return status


def _query(command: str, args: argparse.Namespace) -> int:
    from swarm.io.curve import keys_from as curve_keys
    from swarm.tools import report
    from swarm.tools.client import TrackerClient, TrackerQueryError

    try:
        with TrackerClient(args.host, args.port, args.timeout_s,
                           curve_keys(args.settings.key)) as client:
            if command == "ls":
                listing = client.listing()
                _emit(report.ls_json(listing) if args.json else report.ls_table(listing),
                      args.json)
                return EXIT_OK
            if command == "who":
                listing = client.listing()
                try:
                    found = report.find_file(listing, args.file)
                except report.FileNotFound as exc:
                    print(f"swarm: {exc}", file=sys.stderr)
                    return EXIT_FAILURE
                _emit(report.who_json(listing, found) if args.json
                      else report.who_table(listing, found), args.json)
                return EXIT_OK
            return _status(client, args)
    except TrackerQueryError as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _emit(content: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(content), flush=True)
    else:
        sys.stdout.write(content)
        sys.stdout.flush()


def _status(client: Any, args: argparse.Namespace) -> int:
    from swarm.tools import report

    live = sys.stdout.isatty() and not args.json and not args.once
    try:
        while True:
            status = report.status_json(client.listing())
            if args.json:
                _emit(status | {"time": time.time()}, True)
            else:
                if live:
                    sys.stdout.write("\x1b[H\x1b[2J")  # to the top, clear: redraw in place
                _emit(report.status_table(status), False)
                if not live and not args.once:
                    print(flush=True)
            if args.once:
                return EXIT_OK
            time.sleep(args.interval_s)
    except KeyboardInterrupt:
        return EXIT_OK
