"""The commands that ask a tracker and print what it says: ls, who, status
(tables for a person, or JSON)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from swarm.cli.exit_codes import EXIT_FAILURE, EXIT_OK
from swarm.config import Settings


def query(command: str, settings: Settings, args: argparse.Namespace) -> int:
    """Run ls, who or status against the tracker at args.host, args.port."""
    from swarm.io.common.curve import keys_from as curve_keys
    from swarm.tools import report
    from swarm.tools.client import TrackerClient, TrackerQueryError
    from swarm.tracker import listing_json

    try:
        with TrackerClient(args.host, args.port, args.timeout_s,
                           curve_keys(settings.key)) as client:
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


def _emit(content: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(content), flush=True)
    else:
        sys.stdout.write(content)
        sys.stdout.flush()


def _status(client: Any, args: argparse.Namespace) -> int:
    import shutil

    from swarm.tools import report
    from swarm.tracker import listing_json

    live = sys.stdout.isatty() and not args.json and not args.once
    try:
        while True:
            status = listing_json.status_json(client.listing())
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
