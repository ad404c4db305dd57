"""The `swarm` command: argparse -> settings -> run.

    swarm tracker                      run the tracker (what tracker.sh runs)
    swarm peer HOST PORT S             run a peer (what peer.sh runs)
    swarm get HOST PORT NAME|DIGEST... fetch some files of a swarm into a folder
    swarm seed HOST PORT FILE...       share local files without fetching any
    swarm ls HOST PORT                 every file of a swarm
    swarm who HOST PORT NAME|DIGEST    who holds a file, and how much of it
    swarm status HOST PORT             a live table of peers and progress
    swarm config                       the effective settings, and where from
    swarm digest FILE...               the swarm digest of local files
    swarm keygen                       a new swarm key (for closed swarms)
    swarm completion bash|zsh          a shell completion script

Exit codes: 0 success; 1 failure (a peer gave up on a silent tracker, a
tracker did not answer, a file was not found); 2 bad usage or settings, or a tracker already
serving from this folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from swarm.config import (
    CLIENT,
    PEER,
    PROJECT_DIR,
    ROLES,
    SETTING_HELP,
    SETTING_NAMES,
    TRACKER,
    ConfigError,
    LoadedSettings,
    Settings,
    is_rate,
    is_size,
    load_settings,
    setting_literal,
    settings_for,
)
from swarm.protocol.addresses import is_ipv6

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

COMPLETION_SHELLS = ("bash", "zsh")

EXIT_CODES = """exit codes:
  0  success
  1  failure: a peer gave up on a silent tracker, a tracker did not answer,
     a file was not found
  2  bad usage or settings, or a tracker already serving from this folder"""


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


def _host_for(usage: str) -> Callable[[str], str]:
    """The type of a HOST argument: a name or address without a port, since
    a glued-on port (localhost:40001) would otherwise be read as an IPv6
    address and fail later with a misleading error.  ``usage`` is the
    command line to suggest, with {host} and {port} in it."""
    def host(text: str) -> str:
        name, colon, port = text.rpartition(":")
        bracketed_v6 = name.startswith("[") and name.endswith("]")
        plain_name = bool(name) and not is_ipv6(name)
        if colon and port.isdigit() and (bracketed_v6 or plain_name):
            raise argparse.ArgumentTypeError(
                f"{text!r} has the port glued on: give the host and the port apart, as in "
                + usage.format(host=name.strip("[]"), port=port))
        if not text:
            raise argparse.ArgumentTypeError("the host must not be empty")
        return text
    host.__name__ = "host"  # argparse names the type in its errors
    return host


def _add_settings_flags(parser: argparse.ArgumentParser,
                        roles: Iterable[str] = (PEER,)) -> None:
    """One flag per setting that a command playing ``roles`` reads (see
    SETTING_ROLES in swarm/config.py), overriding the config file and the
    environment.  A command that runs a peer keeps the default role."""
    group = parser.add_argument_group(
        "settings", "each overrides config/swarm.toml and SWARM_<NAME> (see `swarm config`)")
    defaults = Settings()
    for name in settings_for(roles):
        flag = "--" + name.replace("_", "-")
        default = getattr(defaults, name)
        help_text = SETTING_HELP[name]
        if default != "":
            shown = setting_literal(name, default).strip('"')
            help_text += f" (default: {shown})"
        if isinstance(default, bool):
            metavar = "true|false"
        elif is_rate(name):
            metavar = "RATE"
            help_text += "; units: 512K, 2MiB, 10MB/s"
        elif is_size(name):
            metavar = "SIZE"
            help_text += "; units: 512K, 2MiB, 10MB"
        elif name.endswith("_s"):
            metavar = "SECONDS"
        else:  # the name's last word says what it counts: LEVEL, ADDRESS, MISSES
            metavar = name.rsplit("_", 1)[-1].upper()
        group.add_argument(flag, dest=f"set_{name}", metavar=metavar, help=help_text)


def _add_tracker_address(parser: argparse.ArgumentParser) -> None:
    command = parser.prog.split()[-1]
    parser.add_argument("host", type=_host_for(f"swarm {command} {{host}} {{port}}"),
                        help="the tracker's address")
    parser.add_argument("port", type=_port, help="the tracker's port (from its port.txt)")
    parser.add_argument("--timeout-s", type=_seconds, default=5.0,
                        help="how long to wait for the tracker (default: 5)")


def swarm_version() -> str:
    """The version in pyproject.toml, as installed; read from the checkout
    when swarm runs from one without being installed."""
    import importlib.metadata  # tens of milliseconds: only when asked

    try:
        return importlib.metadata.version("swarm")
    except importlib.metadata.PackageNotFoundError:
        with (PROJECT_DIR / "pyproject.toml").open("rb") as project:
            return str(tomllib.load(project)["project"]["version"])


class _PrintVersion(argparse.Action):
    """--version, looking the version up only when it is asked for (every
    peer builds this parser at start-up)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"swarm {swarm_version()}")
        parser.exit()


def _global_options() -> argparse.ArgumentParser:
    """Options every command takes, before the command or after it.  Their
    default is SUPPRESS so that a command's parser, which runs after the main
    one, does not overwrite a value given before the command."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                         help="settings file (default: SWARM_CONFIG, else config/swarm.toml)")
    options.add_argument("--version", action=_PrintVersion,
                         help="print swarm's version and exit")
    return options


def _command(commands: Any, name: str, summary: str, examples: str) -> argparse.ArgumentParser:
    return commands.add_parser(  # type: ignore[no-any-return]
        name, help=summary, description=summary, parents=[_global_options()],
        epilog=f"examples:\n{examples}\n\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swarm", description="A peer-to-peer file-sharing swarm on ZeroMQ.",
        epilog="examples:\n  swarm tracker\n  swarm peer 127.0.0.1 40001 5\n"
               "  swarm ls 127.0.0.1 40001 --json\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter, parents=[_global_options()])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Each command takes the flags of the settings its roles read (the roles
    # are in swarm/config.py, beside the settings): the tracker's, a peer's,
    # a client's.  A new command that runs a peer calls
    # _add_settings_flags(command, roles=(PEER,)).

    tracker = _command(commands, "tracker", "run the tracker; it writes its port to ./port.txt",
                       "  swarm tracker\n  swarm tracker --bind-address 127.0.0.1\n"
                       "  swarm tracker --events tracker-events.jsonl\n"
                       "  swarm tracker --http 8080        (the dashboard at "
                       "http://127.0.0.1:8080/)")
    tracker.add_argument("--events", type=Path, metavar="FILE",
                         help="also write what happens as JSON lines to FILE")
    tracker.add_argument("--http", dest="set_http_address", metavar="[ADDR:]PORT",
                         help="serve the dashboard and metrics over HTTP (a port alone: "
                              "127.0.0.1; 0: a free port); the same as --http-address")
    _add_settings_flags(tracker, roles=(TRACKER,))

    peer = _command(commands, "peer", "run a peer sharing ./Shared",
                    "  swarm peer 127.0.0.1 40001 5\n"
                    "  swarm peer 10.0.0.7 40001 30 --shared ~/outbox --events peer.jsonl\n"
                    "  SWARM_TRACKER_GRACE_S=5 swarm peer 127.0.0.1 40001 5")
    peer.add_argument("host", type=_host_for("swarm peer {host} {port} MIN_ALIVE_SECONDS"),
                      help="the tracker's address")
    peer.add_argument("port", type=_port, help="the tracker's port (from its port.txt)")
    peer.add_argument("min_alive_s", metavar="MIN_ALIVE_SECONDS", type=_seconds,
                      help="stay at least this long, and this long after the last new file")
    peer.add_argument("--shared", type=Path, default=Path("Shared"),
                      help="the shared folder (default: ./Shared)")
    peer.add_argument("--events", type=Path, metavar="FILE",
                      help="also write what happens as JSON lines to FILE")
    peer.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                      help="progress bars on stderr: auto shows them on a terminal only")
    _add_settings_flags(peer, roles=(PEER,))

    _add_one_shot_commands(commands)

    ls = _command(commands, "ls", "list every file of a swarm",
                  "  swarm ls 127.0.0.1 40001\n  swarm ls 127.0.0.1 40001 --json | jq .files")
    _add_tracker_address(ls)
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    _add_settings_flags(ls, roles=(CLIENT,))

    who = _command(commands, "who", "show the peers holding a file, and how much of it",
                   "  swarm who 127.0.0.1 40001 report.pdf\n"
                   "  swarm who 127.0.0.1 40001 3fa9c2 --json   (a digest prefix)")
    _add_tracker_address(who)
    who.add_argument("file", metavar="NAME|DIGEST",
                     help="a file name, or its digest (at least 4 leading hex digits)")
    who.add_argument("--json", action="store_true", help="machine-readable output")
    _add_settings_flags(who, roles=(CLIENT,))

    status = _command(commands, "status", "show peers and per-file progress, live",
                      "  swarm status 127.0.0.1 40001\n"
                      "  swarm status 127.0.0.1 40001 --once --json")
    _add_tracker_address(status)
    status.add_argument("--json", action="store_true",
                        help="one JSON object per refresh, one per line")
    status.add_argument("--interval-s", type=_seconds, default=1.0,
                        help="seconds between refreshes (default: 1)")
    status.add_argument("--once", action="store_true", help="show one refresh and exit")
    _add_settings_flags(status, roles=(CLIENT,))

    config = _command(commands, "config", "print the effective settings and where each came from",
                      "  swarm config\n  SWARM_HEARTBEAT_INTERVAL_S=0.5 swarm config --json")
    config.add_argument("--json", action="store_true", help="machine-readable output")
    _add_settings_flags(config, roles=ROLES)

    digest = _command(commands, "digest", "print the swarm digest of local files",
                      "  swarm digest Shared/report.pdf")
    digest.add_argument("files", nargs="+", type=Path, metavar="FILE")

    keygen = _command(commands, "keygen", "print a new swarm key",
                      "  swarm keygen > swarm.key && chmod 600 swarm.key\n"
                      "  SWARM_KEY=$(cat swarm.key) swarm tracker\n"
                      "  SWARM_KEY=$(cat swarm.key) swarm keygen --http-token")
    keygen.add_argument("--http-token", action="store_true",
                        help="print instead the token the tracker's dashboard asks for, "
                             "derived from the configured key")

    completion = _command(commands, "completion", "print a shell completion script",
                          '  eval "$(swarm completion bash)"      (in ~/.bashrc)\n'
                          "  swarm completion zsh > ~/.zfunc/_swarm")
    completion.add_argument("shell", choices=COMPLETION_SHELLS)
    return parser


def _add_one_shot_commands(commands: Any) -> None:
    """swarm get and swarm seed: they run a peer's loop, so they take a
    peer's settings; nobody waits for them (rule (a) does not count them)."""
    get = _command(commands, "get", "fetch files of a swarm into a folder, then leave",
                   "  swarm get 127.0.0.1 40001 report.pdf\n"
                   "  swarm get 127.0.0.1 40001 3fa9c2 photo.jpg --to ~/Downloads\n"
                   "stdout: the path of each file once it is in the folder, one a line")
    _add_tracker_address(get)
    get.add_argument("files", nargs="+", metavar="NAME|DIGEST",
                     help="a file name, or its digest (at least 4 leading hex digits)")
    get.add_argument("--to", type=Path, default=Path("."), metavar="DIR",
                     help="where to put the files (default: .); partial downloads wait "
                          "in DIR/.swarm and resume on the next get into DIR")
    seed = _command(commands, "seed", "share local files without fetching any",
                    "  swarm seed 127.0.0.1 40001 ~/report.pdf\n"
                    "  swarm seed 127.0.0.1 40001 build/*.tar.gz --forever")
    seed.add_argument("host", type=_host_for("swarm seed {host} {port} FILE..."),
                      help="the tracker's address")
    seed.add_argument("port", type=_port, help="the tracker's port (from its port.txt)")
    seed.add_argument("files", nargs="+", type=Path, metavar="FILE",
                      help="files to share, from anywhere (known by their names)")
    until = seed.add_mutually_exclusive_group()
    until.add_argument("--until-complete", dest="forever", action="store_false", default=False,
                       help="leave once every living peer holds them (the default)")
    until.add_argument("--forever", dest="forever", action="store_true",
                       help="stay until SIGINT or SIGTERM")
    for command in (get, seed):
        command.add_argument("--events", type=Path, metavar="FILE",
                             help="also write what happens as JSON lines to FILE")
        command.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                             help="progress on stderr: auto shows it on a terminal only")
        _add_settings_flags(command, roles=(PEER,))


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
    return load_settings(getattr(args, "config", None), flags=flags)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "completion":  # needs no settings: works beside a broken config
        print(completion_script(parser, args.shell), end="")
        return EXIT_OK
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
        return _keygen(settings, args.http_token)
    setup_logging(settings.log_level, command)
    if command == "tracker":
        from swarm.io.tracker.loop import run_tracker

        return run_tracker(settings, Path.cwd(), events=args.events)
    if command == "peer":
        from swarm.io.peer.loop import run_peer

        exit_code = run_peer(settings, args.host, args.port, args.min_alive_s, args.shared,
                             Path(settings.state_dir), events=args.events,
                             progress=args.progress)
        if exit_code == EXIT_FAILURE:  # a peer fails only by giving up on its tracker
            logging.getLogger("swarm.peer").error(
                "gave up on the tracker at %s: is one running there, and is %d the port "
                "in its port.txt?", _where(args.host, args.port), args.port)
        return exit_code
    if command == "get":
        return _get(settings, args)
    if command == "seed":
        from swarm.io.peer.one_shot import run_seed

        return run_seed(settings, args.host, args.port, args.files, forever=args.forever,
                        events=args.events, progress=args.progress)
    args.settings = settings
    return _query(command, args)


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


def _get(settings: Settings, args: argparse.Namespace) -> int:
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


def _where(host: str, port: int) -> str:
    return f"[{host.strip('[]')}]:{port}" if is_ipv6(host) else f"{host}:{port}"


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell``, generated from the parser, so
    that it always knows every command and flag."""
    import shtab

    return shtab.complete(parser, shell=shell)


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
        value = setting_literal(name, _shown(settings, name))
        print(f"{name:<{width}} = {value:<12} # {loaded.sources[name]}")
    return EXIT_OK


def _digest(paths: list[Path]) -> int:
    from swarm.io.peer.store import hash_file

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
    from swarm.io.common.curve import keys_from as curve_keys
    from swarm.tools import report
    from swarm.tools.client import TrackerClient, TrackerQueryError
    from swarm.tracker import listing_json

    try:
        with TrackerClient(args.host, args.port, args.timeout_s,
                           curve_keys(args.settings.key)) as client:
            if command == "ls":
                listing = client.listing()
                _emit(listing_json.ls_json(listing) if args.json else report.ls_table(listing),
                      args.json)
                return EXIT_OK
            if command == "who":
                listing = client.listing()
                try:
                    found = listing_json.find_file(listing, args.file)
                except listing_json.FileNotFound as exc:
                    print(f"swarm: {exc}", file=sys.stderr)
                    return EXIT_FAILURE
                _emit(listing_json.who_json(listing, found) if args.json
                      else report.who_table(listing, found), args.json)
                return EXIT_OK
            return _status(client, args)
    except TrackerQueryError as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _keygen(settings: Settings, want_http_token: bool) -> int:
    from swarm.io.common.curve import http_token, new_swarm_key

    if not want_http_token:
        print(new_swarm_key())
        return EXIT_OK
    token = http_token(settings.key)
    if token is None:
        print("swarm: no swarm key is set (the key setting, SWARM_KEY): an open swarm's "
              "dashboard asks for no token", file=sys.stderr)
        return EXIT_USAGE
    print(token)
    return EXIT_OK


def _emit(content: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(content), flush=True)
    else:
        sys.stdout.write(content)
        sys.stdout.flush()


def _status(client: Any, args: argparse.Namespace) -> int:
    import shutil

    from swarm.tools import report
    from swarm.tracker.listing_json import status_json

    live = sys.stdout.isatty() and not args.json and not args.once
    try:
        while True:
            status = status_json(client.listing())
            if args.json:
                _emit(status | {"time": time.time()}, True)
            else:
                if live:
                    size = shutil.get_terminal_size()
                    table = report.status_table(status, report.rows_for_terminal(size.lines),
                                                min(size.columns, report.STATUS_WIDTH))
                    # To the top, clear, redraw: in one write, so a Ctrl-C while
                    # the table is made never leaves the screen blank.
                    table = "\x1b[H\x1b[2J" + table
                else:
                    table = report.status_table(status)
                _emit(table, False)
                if not live and not args.once:
                    print(flush=True)
            if args.once:
                return EXIT_OK
            time.sleep(args.interval_s)
    except KeyboardInterrupt:
        return EXIT_OK
