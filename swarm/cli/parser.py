"""The `swarm` command line: every command, its arguments and its settings
flags, in one argparse parser (``build_parser``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from swarm.cli.exit_codes import EXIT_CODES
from swarm.cli.settings_flags import add_settings_flags
from swarm.config import CLIENT, PEER, PROJECT_DIR, ROLES, TRACKER
from swarm.protocol.addresses import is_ipv6

COMPLETION_SHELLS = ("bash", "zsh")


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


def _add_tracker_address(parser: argparse.ArgumentParser) -> None:
    command = parser.prog.split()[-1]
    parser.add_argument("host", type=_host_for(f"swarm {command} {{host}} {{port}}"),
                        help="the tracker's address")
    parser.add_argument("port", type=_port, help="the tracker's port (from its port.txt)")
    parser.add_argument("--timeout-s", type=_seconds, default=5.0, metavar="SECONDS",
                        help="how long to wait for the tracker (default: 5)")


def swarm_version() -> str:
    """The version in pyproject.toml, as installed; read from the checkout
    when swarm runs from one without being installed."""
    import importlib.metadata  # tens of milliseconds: only when asked
    import tomllib

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


def _terminal_columns() -> int:
    """$COLUMNS, else the width of the terminal on stdout, else 80 (what
    ``shutil.get_terminal_size`` answers, for the columns)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    if stdout is None:
        return 80
    try:
        return os.get_terminal_size(stdout.fileno()).columns or 80
    except (ValueError, OSError):  # stdout closed, or not a terminal
        return 80


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter (descriptions and epilogs as written), given the
    terminal's width.  Left to find the width itself, argparse imports
    ``shutil`` (and with it the compression modules), 3 ms of every peer's
    start-up, for help a peer never prints: it makes a formatter for every
    argument it adds."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)


def _global_options() -> argparse.ArgumentParser:
    """Options every command takes, before the command or after it.  Their
    default is SUPPRESS so that a command's parser, which runs after the main
    one, does not overwrite a value given before the command."""
    options = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    options.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                         help="settings file (default: SWARM_CONFIG, else config/swarm.toml)")
    options.add_argument("--version", action=_PrintVersion,
                         help="print swarm's version and exit")
    return options


def _command(commands: Any, name: str, summary: str, examples: str) -> argparse.ArgumentParser:
    return commands.add_parser(  # type: ignore[no-any-return]
        name, help=summary, description=summary, parents=[_global_options()],
        epilog=f"examples:\n{examples}\n\n{EXIT_CODES}",
        formatter_class=HelpFormatter)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole `swarm` parser: every command with its arguments, its
    examples and the flags of the settings it reads.  The one place the
    command line is defined: `swarm` parses with it, the completion scripts
    are generated from it, and so is the CLI reference in the docs.

    ``only``: the parser with that one command, for a command line that
    names it first -- what it parses, and every message it prints, are the
    same; a peer starting need not build the other ten (a tenth of its
    start-up)."""
    parser = argparse.ArgumentParser(
        prog="swarm", description="A peer-to-peer file-sharing swarm on ZeroMQ.",
        epilog="examples:\n  swarm tracker\n  swarm peer 127.0.0.1 40001 5\n"
               "  swarm ls 127.0.0.1 40001 --json\n\n" + EXIT_CODES,
        formatter_class=HelpFormatter, parents=[_global_options()])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Each command takes the flags of the settings its roles read (the roles
    # are in swarm/config.py, beside the settings): the tracker's, a peer's,
    # a client's.  A new command that runs a peer calls
    # add_settings_flags(command, roles=(PEER,)).
    for name, add in COMMANDS.items():
        if only is None or name == only:
            add(commands)
    return parser


# --- the commands that run a tracker or a peer: tracker, peer, get, seed ----------------


def _add_tracker(commands: Any) -> None:
    tracker = _command(commands, "tracker", "run the tracker; it writes its port to ./port.txt",
                       "  swarm tracker\n  swarm tracker --bind-address 127.0.0.1\n"
                       "  swarm tracker --events tracker-events.jsonl\n"
                       "  swarm tracker --http 8080        (the dashboard at "
                       "http://127.0.0.1:8080/)\n"
                       "  swarm tracker --port 40001       (events on 40002, address echoes "
                       "on 40003 and 40004)")
    tracker.add_argument("--events", type=Path, metavar="FILE",
                         help="also write what happens as JSON lines to FILE")
    tracker.add_argument("--port", dest="set_tracker_port", metavar="PORT",
                         help="take requests on PORT, events on PORT+1, address echoes on "
                              "PORT+2 and PORT+3 (0: free ports); the same as --tracker-port")
    tracker.add_argument("--http", dest="set_http_address", metavar="[ADDR:]PORT",
                         help="serve the dashboard and metrics over HTTP (a port alone: "
                              "127.0.0.1; 0: a free port); the same as --http-address")
    add_settings_flags(tracker, roles=(TRACKER,))


def _add_peer(commands: Any) -> None:
    peer = _command(commands, "peer", "run a peer sharing ./Shared",
                    "  swarm peer 127.0.0.1 40001 5\n"
                    "  swarm peer 10.0.0.7 40001 30 --shared ~/outbox --events peer.jsonl\n"
                    "  SWARM_TRACKER_GRACE_S=5 swarm peer 127.0.0.1 40001 5\n"
                    "  swarm peer 10.0.0.1 40001 30 --port 41000   (chunks on 41000, "
                    "holes punched from 41001)")
    peer.add_argument("host", type=_host_for("swarm peer {host} {port} MIN_ALIVE_SECONDS"),
                      help="the tracker's address")
    peer.add_argument("port", type=_port, help="the tracker's port (from its port.txt)")
    peer.add_argument("min_alive_s", metavar="MIN_ALIVE_SECONDS", type=_seconds,
                      help="stay at least this long, and this long after the last new file")
    peer.add_argument("--shared", type=Path, default=Path("Shared"), metavar="DIR",
                      help="the shared folder (default: ./Shared)")
    peer.add_argument("--events", type=Path, metavar="FILE",
                      help="also write what happens as JSON lines to FILE")
    peer.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                      help="progress bars on stderr: auto shows them on a terminal only")
    _add_peer_port(peer)
    add_settings_flags(peer, roles=(PEER,))


def _add_peer_port(command: argparse.ArgumentParser) -> None:
    command.add_argument("--port", dest="set_peer_port", metavar="PORT",
                         help="serve chunks on PORT and punch holes from PORT+1 (0: free "
                              "ports); the same as --peer-port")


# swarm get and swarm seed run a peer's loop, so they take a peer's settings;
# nobody waits for them (rule (a) does not count them).


def _add_get(commands: Any) -> None:
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
    _add_one_shot_options(get)


def _add_seed(commands: Any) -> None:
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
    _add_one_shot_options(seed)


def _add_one_shot_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--events", type=Path, metavar="FILE",
                         help="also write what happens as JSON lines to FILE")
    _add_peer_port(command)
    command.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                         help="progress on stderr: auto shows it on a terminal only")
    add_settings_flags(command, roles=(PEER,))


# --- the commands that ask a tracker and print what it says: ls, who, status -----------


def _add_ls(commands: Any) -> None:
    ls = _command(commands, "ls", "list every file of a swarm",
                  "  swarm ls 127.0.0.1 40001\n  swarm ls 127.0.0.1 40001 --json | jq .files")
    _add_tracker_address(ls)
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    add_settings_flags(ls, roles=(CLIENT,))


def _add_who(commands: Any) -> None:
    who = _command(commands, "who", "show the peers holding a file, and how much of it",
                   "  swarm who 127.0.0.1 40001 report.pdf\n"
                   "  swarm who 127.0.0.1 40001 3fa9c2 --json   (a digest prefix)")
    _add_tracker_address(who)
    who.add_argument("file", metavar="NAME|DIGEST",
                     help="a file name, or its digest (at least 4 leading hex digits)")
    who.add_argument("--json", action="store_true", help="machine-readable output")
    add_settings_flags(who, roles=(CLIENT,))


def _add_status(commands: Any) -> None:
    status = _command(commands, "status", "show peers and per-file progress, live",
                      "  swarm status 127.0.0.1 40001\n"
                      "  swarm status 127.0.0.1 40001 --once --json")
    _add_tracker_address(status)
    status.add_argument("--json", action="store_true",
                        help="one JSON object per refresh, one per line")
    status.add_argument("--interval-s", type=_seconds, default=1.0, metavar="SECONDS",
                        help="seconds between refreshes (default: 1)")
    status.add_argument("--once", action="store_true", help="show one refresh and exit")
    add_settings_flags(status, roles=(CLIENT,))


# --- the commands that need no swarm: config, digest, keygen, completion ----------------


def _add_config(commands: Any) -> None:
    config = _command(commands, "config", "print the effective settings and where each came from",
                      "  swarm config\n  SWARM_HEARTBEAT_INTERVAL_S=0.5 swarm config --json")
    config.add_argument("--json", action="store_true", help="machine-readable output")
    add_settings_flags(config, roles=ROLES)


def _add_digest(commands: Any) -> None:
    digest = _command(commands, "digest", "print the swarm digest of local files",
                      "  swarm digest Shared/report.pdf")
    digest.add_argument("files", nargs="+", type=Path, metavar="FILE",
                        help="local files, each printed as DIGEST  PATH")


def _add_keygen(commands: Any) -> None:
    keygen = _command(commands, "keygen", "print a new swarm key",
                      "  swarm keygen > swarm.key && chmod 600 swarm.key\n"
                      "  SWARM_KEY=$(cat swarm.key) swarm tracker\n"
                      "  SWARM_KEY=$(cat swarm.key) swarm keygen --http-token")
    keygen.add_argument("--http-token", action="store_true",
                        help="print instead the token the tracker's dashboard asks for, "
                             "derived from the configured key")


def _add_completion(commands: Any) -> None:
    completion = _command(commands, "completion", "print a shell completion script",
                          '  eval "$(swarm completion bash)"      (in ~/.bashrc)\n'
                          "  swarm completion zsh > ~/.zfunc/_swarm")
    completion.add_argument("shell", choices=COMPLETION_SHELLS,
                            help="the shell the script is for")


# Every command, in the order `swarm --help` lists them.
COMMANDS: dict[str, Callable[[Any], None]] = {
    "tracker": _add_tracker, "peer": _add_peer, "get": _add_get, "seed": _add_seed,
    "ls": _add_ls, "who": _add_who, "status": _add_status,
    "config": _add_config, "digest": _add_digest, "keygen": _add_keygen,
    "completion": _add_completion,
}
