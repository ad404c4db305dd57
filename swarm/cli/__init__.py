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

The parser is ``parser.build_parser`` (with the settings flags of
``settings_flags``); the commands are in ``run`` (tracker, peer, get, seed),
``query`` (ls, who, status) and ``local`` (config, digest, keygen, completion).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from swarm.cli import run
from swarm.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from swarm.cli.parser import COMMANDS, build_parser
from swarm.cli.settings_flags import settings_from
from swarm.config import ConfigError, Settings

# What a wrapper of `swarm` needs: run a command line, exit as it did.
__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "main"]

# The commands that run a tracker or a peer, by name.
RUNS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "tracker": run.tracker, "peer": run.peer, "get": run.get, "seed": run.seed}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `swarm` command line (``sys.argv[1:]`` by default); its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # A command line that names its command first needs that command's
    # parser alone (the completion script is made from all of them).
    named = argv[0] if argv and argv[0] in COMMANDS and argv[0] != "completion" else None
    parser = build_parser(only=named)
    args = parser.parse_args(argv)
    if args.command == "completion":  # needs no settings: works beside a broken config
        from swarm.cli import local

        print(local.completion_script(parser, args.shell), end="")
        return EXIT_OK
    try:
        loaded = settings_from(args)
    except ConfigError as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = loaded.settings
    command = args.command
    if command in ("config", "digest", "keygen"):
        from swarm.cli import local

        if command == "config":
            return local.config(loaded, args.json)
        if command == "digest":
            return local.digest(args.files)
        return local.keygen(settings, args.http_token)
    run.setup_logging(settings.log_level, command)
    if command in RUNS:
        return RUNS[command](settings, args)
    from swarm.cli import query

    return query.query(command, settings, args)
