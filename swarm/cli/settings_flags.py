"""The settings on the command line: one flag per setting a command's roles
read, and the settings those flags, the config file and the environment make
together."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from swarm.config import (
    PEER,
    SETTING_HELP,
    SETTING_NAMES,
    LoadedSettings,
    Settings,
    is_rate,
    is_size,
    load_settings,
    setting_literal,
    settings_for,
)


def add_settings_flags(parser: argparse.ArgumentParser, roles: Iterable[str] = (PEER,)) -> None:
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


def settings_from(args: argparse.Namespace) -> LoadedSettings:
    """The settings of a parsed command line: its flags over the environment
    over the config file (--config, else SWARM_CONFIG, else config/swarm.toml)
    over the defaults; a ConfigError says what is wrong."""
    flags = {name: getattr(args, f"set_{name}", None) for name in SETTING_NAMES}
    return load_settings(getattr(args, "config", None), flags=flags)
