"""The commands that need no swarm: config (the effective settings), digest
(of local files), keygen (a swarm key, or its dashboard token), completion
(a shell script generated from the parser)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from swarm.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from swarm.config import SETTING_NAMES, LoadedSettings, Settings, setting_literal


def config(loaded: LoadedSettings, as_json: bool) -> int:
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


def _shown(settings: Settings, name: str) -> Any:
    value = getattr(settings, name)
    if name == "key" and value:
        return "(set)"  # a secret: where it came from is shown, never its value
    return value


def digest(paths: list[Path]) -> int:
    from swarm.io.peer.hashing import hash_file

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


def keygen(settings: Settings, want_http_token: bool) -> int:
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


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell``, generated from the parser, so
    that it always knows every command and flag."""
    import shtab

    return shtab.complete(parser, shell=shell)
