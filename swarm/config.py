"""Settings: defaults < config file < environment (SWARM_<NAME>) < flags.

Every setting has its unit in its name.  ``load_settings`` also records where
each value came from, for ``swarm config``.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swarm.protocol.record import Record, field

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = PROJECT_DIR / "config" / "swarm.toml"
ENV_PREFIX = "SWARM_"

LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A setting with a bad name or value."""


class Settings(Record):
    # How often a peer says it is alive; the tracker expires it after
    # expiry_misses intervals of silence (the zguide's Paranoid Pirate: 3).
    heartbeat_interval_s: float = 1.0
    expiry_misses: int = 3
    # How long a peer keeps going without hearing from the tracker before it
    # gives up (prints its SHUTDOWN block and exits 1).
    tracker_grace_s: float = 10.0
    # The tracker's listening address: "*" for every interface.
    bind_address: str = "*"
    # The peer's hidden folder for partial downloads and resume state,
    # relative to the working directory.
    state_dir: str = ".swarm"
    # Most bytes in flight to one source; the credit adapts below this.
    request_window_bytes: int = 4 << 20
    # How often a peer looks for new files in Shared.
    scan_interval_s: float = 1.0
    # How often a downloading peer asks which peers hold which chunks.
    holders_refresh_s: float = 1.0
    # Acquired chunks are reported in batches at most this far apart.
    report_interval_s: float = 0.1
    # Most bytes per second a peer sends to others; 0 for no limit.
    upload_limit_bytes_s: int = 0
    # Share the files that symbolic links in Shared point to.  Off: a link
    # in Shared could expose any file of the machine to the swarm.
    follow_symlinks: bool = False
    # The niceness a peer runs at (at least; it is never lowered): moving
    # bytes is background work, and the tracker, which every peer waits on,
    # must not starve behind a machine full of peers.  0 keeps the niceness
    # the peer was started with.
    peer_niceness: int = 9
    # The swarm key (64 hex digits; `swarm keygen`): CurveZMQ on every
    # socket, and only holders of the key get in.  Empty: an open swarm.
    key: str = ""
    log_level: str = "warning"

    @property
    def expiry_s(self) -> float:
        return self.heartbeat_interval_s * self.expiry_misses

    def __post_init__(self) -> None:
        for name in ("heartbeat_interval_s", "tracker_grace_s", "scan_interval_s",
                     "holders_refresh_s", "report_interval_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name} must be a positive number of seconds")
        if self.expiry_misses < 1:
            raise ConfigError("expiry_misses must be at least 1")
        if self.upload_limit_bytes_s < 0:
            raise ConfigError("upload_limit_bytes_s must be 0 (no limit) or positive")
        if self.request_window_bytes < 64 << 10:
            raise ConfigError("request_window_bytes must be at least 65536")
        if not 0 <= self.peer_niceness <= 19:
            raise ConfigError("peer_niceness must be from 0 (unchanged) to 19")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
        if not self.bind_address:
            raise ConfigError("bind_address must not be empty")
        if self.key and (len(self.key) != 64
                         or any(c not in "0123456789abcdefABCDEF" for c in self.key)):
            raise ConfigError("key must be 64 hexadecimal digits (make one: swarm keygen)")


SETTING_NAMES = Settings._fields

# One line per setting: the --help of every flag, and `swarm config`.
SETTING_HELP = {
    "heartbeat_interval_s": "seconds between a peer's heartbeats",
    "expiry_misses": "heartbeats a peer may miss before the tracker expires it",
    "tracker_grace_s": "seconds a peer goes on without the tracker before it gives up (exit 1)",
    "bind_address": "the tracker's listening address: * for all, or one such as 127.0.0.1",
    "state_dir": "a peer's hidden folder for partial downloads and resume state",
    "request_window_bytes": "most bytes in flight to one source (the credit adapts below it)",
    "scan_interval_s": "seconds between looks at ./Shared for new files",
    "holders_refresh_s": "seconds between a downloading peer's questions about who holds what",
    "report_interval_s": "seconds between batched reports of acquired chunks",
    "upload_limit_bytes_s": "most bytes per second a peer sends to others; 0 for no limit",
    "follow_symlinks": "share the files that symbolic links in ./Shared point to (true|false)",
    "peer_niceness": "the niceness a peer runs at, at least (0-19; 0 keeps its own)",
    "key": "the swarm key (swarm keygen): only its holders get in; empty for an open swarm",
    "log_level": "how much goes to stderr: debug, info, warning or error",
}
if set(SETTING_HELP) != set(SETTING_NAMES):  # pragma: no cover - a programming error
    raise RuntimeError("every setting needs one line of help")


class LoadedSettings(Record):
    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)  # name -> where from


BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True,
              "false": False, "no": False, "off": False, "0": False}


def _coerce(name: str, value: Any) -> Any:
    kind = type(getattr(Settings(), name))
    if kind is bool:
        if isinstance(value, str) and value.strip().lower() in BOOL_WORDS:
            return BOOL_WORDS[value.strip().lower()]
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: {value!r} is not true or false")
    try:
        if kind is int and isinstance(value, str):
            return int(value, 0)
        if kind is float and isinstance(value, str):
            return float(value)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a {kind.__name__}") from None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{name}: {value!r} is not a {kind.__name__}")
    return value


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> LoadedSettings:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources = {name: "default" for name in SETTING_NAMES}

    path = config_file
    if path is None and environ.get(ENV_PREFIX + "CONFIG"):
        path = Path(environ[ENV_PREFIX + "CONFIG"])
    if path is None and DEFAULT_CONFIG_FILE.exists():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        section = table.get("swarm", table)
        for key, value in section.items():
            if key not in SETTING_NAMES:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(key, value)
            sources[key] = str(path)

    for name in SETTING_NAMES:
        env_name = ENV_PREFIX + name.upper()
        if env_name in environ:
            values[name] = _coerce(name, environ[env_name])
            sources[name] = f"environment {env_name}"

    for name, value in (flags or {}).items():
        if value is None:
            continue
        if name not in SETTING_NAMES:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _coerce(name, value)
        sources[name] = "flag --" + name.replace("_", "-")

    return LoadedSettings(Settings(**values), sources)
