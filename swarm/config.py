"""Settings: defaults < config file < environment (SWARM_<NAME>) < flags.

Every setting has its unit in its name, and the name says how its value is
read: a name ending in ``_bytes`` takes a size and one ending in ``_bytes_s``
a rate, with units or without (``4096``, ``512K``, ``2MiB``, ``10MB/s``; see
swarm/units.py).  ``load_settings`` also records where each value came from,
for ``swarm config``.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from swarm.peer.settings import PeerSettings
from swarm.protocol.record import Record, field
from swarm.units import UnitError, exact_size, parse_rate, parse_size

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
    # The tracker's request port, and from it its other ports (the port rule, below);
    # 0: the system draws every port, and port.txt says which.
    tracker_port: int = 0
    # The peer's hidden folder for partial downloads and resume state,
    # relative to the working directory.
    state_dir: str = ".swarm"
    # A peer's chunk port, and from it its punch port (the port rule, below); 0: the
    # system draws both.
    peer_port: int = 0
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
    # Most bytes per second of file data a peer asks others for; 0 for no
    # limit.
    download_limit_bytes_s: int = 0
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
    # The tracker's dashboard and metrics over HTTP, [ADDRESS:]PORT (a port
    # alone: 127.0.0.1; port 0: any free one).  Empty: no HTTP server.
    http_address: str = ""
    log_level: str = "warning"

    @property
    def expiry_s(self) -> float:
        return self.heartbeat_interval_s * self.expiry_misses

    def tracker_ports(self) -> TrackerPorts:
        """The ports the tracker listens on, by the port rule (0: any free one)."""
        base = self.tracker_port
        if not base:
            return TrackerPorts(0, 0, (0,) * len(TRACKER_ECHO_OFFSETS))
        return TrackerPorts(base, base + TRACKER_EVENT_OFFSET,
                            tuple(base + offset for offset in TRACKER_ECHO_OFFSETS))

    def peer_ports(self) -> PeerPorts:
        """The ports a peer binds, by the port rule (0: any free one)."""
        base = self.peer_port
        return PeerPorts(base, base + PEER_PUNCH_OFFSET if base else 0)

    def peer_settings(self) -> PeerSettings:
        """The values a peer's state runs by (``swarm.peer`` reads no settings)."""
        return PeerSettings(
            heartbeat_interval_s=self.heartbeat_interval_s,
            tracker_grace_s=self.tracker_grace_s,
            request_window_bytes=self.request_window_bytes,
            holders_refresh_s=self.holders_refresh_s,
            report_interval_s=self.report_interval_s,
            upload_limit_bytes_s=self.upload_limit_bytes_s,
            download_limit_bytes_s=self.download_limit_bytes_s,
            curve=bool(self.key),
        )

    def __post_init__(self) -> None:
        for name in ("heartbeat_interval_s", "tracker_grace_s", "scan_interval_s",
                     "holders_refresh_s", "report_interval_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name} must be a positive number of seconds")
        if self.expiry_misses < 1:
            raise ConfigError("expiry_misses must be at least 1")
        for name in ("upload_limit_bytes_s", "download_limit_bytes_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 (no limit) or positive")
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
        if self.http_address:
            http_host_port(self.http_address)
        _check_port_settings(self.tracker_port, self.peer_port)


# The port rule: every port a process listens on or binds follows from its
# one port setting, so that a firewall can be written for a swarm.
# tracker_port P: requests on P, events on P + 1, the two address echoes on
# P + 2 and P + 3.  peer_port Q: chunks on Q, holes punched from Q + 1.  0:
# the system draws each one, and port.txt names the tracker's request port.
TRACKER_EVENT_OFFSET = 1
TRACKER_ECHO_OFFSETS = (2, 3)
PEER_PUNCH_OFFSET = 1


def _check_port_settings(tracker_port: int, peer_port: int) -> None:
    for name, port, span in (("tracker_port", tracker_port, 1 + max(TRACKER_ECHO_OFFSETS)),
                             ("peer_port", peer_port, 1 + PEER_PUNCH_OFFSET)):
        if not 0 <= port <= 65536 - span:
            raise ConfigError(f"{name} must be 0 (ports the system draws) or a port from 1 "
                              f"to {65536 - span} (it takes {span} ports from there)")


class TrackerPorts(Record):
    """The tracker's ports; 0 for one the system draws."""

    requests: int
    events: int
    echoes: tuple[int, ...]


class PeerPorts(Record):
    """A peer's ports; 0 for one the system draws."""

    chunks: int
    punch: int


def http_host_port(text: str) -> tuple[str, int]:
    """``[ADDRESS:]PORT`` of the http_address setting (``[::1]:8080`` for
    IPv6): a port alone is loopback's, as the safe default; port 0 is any
    free port."""
    host, colon, port_text = text.rpartition(":")
    if not colon:
        host, port_text = "127.0.0.1", text
    if host.startswith("[") != host.endswith("]"):
        raise ConfigError(f"http_address: {text!r} is not [ADDRESS:]PORT")
    host = host.strip("[]") or "127.0.0.1"
    if not port_text.isdigit() or int(port_text) > 65535 or any(c in host for c in " /"):
        raise ConfigError(f"http_address: {text!r} is not [ADDRESS:]PORT (a port is 0-65535)")
    return host, int(port_text)


SETTING_NAMES = Settings._fields

# One line per setting: the --help of every flag, and `swarm config`.
SETTING_HELP = {
    "heartbeat_interval_s": "seconds between a peer's heartbeats",
    "expiry_misses": "heartbeats a peer may miss before the tracker expires it",
    "tracker_grace_s": "seconds a peer goes on without the tracker before it gives up (exit 1)",
    "bind_address": "the tracker's listening address: * for all, or one such as 127.0.0.1",
    "tracker_port": "the tracker's request port; events on +1, address echoes on +2 and +3; "
                    "0 for ports the system draws (port.txt says which)",
    "state_dir": "a peer's hidden folder for partial downloads and resume state",
    "peer_port": "a peer's chunk port; it punches holes from +1; 0 for ports the system draws",
    "request_window_bytes": "most bytes in flight to one source (the credit adapts below it)",
    "scan_interval_s": "seconds between looks at ./Shared for new files",
    "holders_refresh_s": "seconds between a downloading peer's questions about who holds what",
    "report_interval_s": "seconds between batched reports of acquired chunks",
    "upload_limit_bytes_s": "most bytes per second a peer sends to others; 0 for no limit",
    "download_limit_bytes_s": "most bytes per second of file data a peer asks others for; "
                              "0 for no limit",
    "follow_symlinks": "share the files that symbolic links in ./Shared point to (true|false)",
    "peer_niceness": "the niceness a peer runs at, at least (0-19; 0 keeps its own)",
    "key": "the swarm key (swarm keygen): only its holders get in; empty for an open swarm",
    "http_address": "serve the dashboard and metrics over HTTP at [ADDRESS:]PORT "
                    "(a port alone: 127.0.0.1); empty for none",
    "log_level": "how much goes to stderr: debug, info, warning or error",
}
if set(SETTING_HELP) != set(SETTING_NAMES):  # pragma: no cover - a programming error
    raise RuntimeError("every setting needs one line of help")

# Which kind of process reads each setting.  A command's flags and --help
# carry exactly the settings of the roles it plays, so `swarm tracker --help`
# shows no peer setting.  The roles:
#   tracker  the tracker;
#   peer     every command that joins a swarm and moves file data (peer, and
#            any command that runs a peer for a narrower job, such as
#            fetching a few files or only seeding): heartbeats, transfers,
#            Shared, the partial-download state;
#   client   the one-shot questions to a tracker (ls, who, status).
# A new setting names its roles here; a new command names its roles where
# cli.py builds it (a command that runs a peer plays "peer").  `swarm config`
# plays every role.
TRACKER = "tracker"
PEER = "peer"
CLIENT = "client"
ROLES = (TRACKER, PEER, CLIENT)
_EVERY_ROLE = frozenset(ROLES)
SETTING_ROLES: dict[str, frozenset[str]] = {
    "heartbeat_interval_s": frozenset({PEER, TRACKER}),  # the tracker expires on it
    "expiry_misses": frozenset({TRACKER}),
    "tracker_grace_s": frozenset({PEER}),
    "bind_address": frozenset({TRACKER}),
    "tracker_port": frozenset({TRACKER}),
    "state_dir": frozenset({PEER}),
    "peer_port": frozenset({PEER}),
    "request_window_bytes": frozenset({PEER}),
    "scan_interval_s": frozenset({PEER}),
    "holders_refresh_s": frozenset({PEER}),
    "report_interval_s": frozenset({PEER}),
    "upload_limit_bytes_s": frozenset({PEER}),
    "download_limit_bytes_s": frozenset({PEER}),
    "follow_symlinks": frozenset({PEER}),
    "peer_niceness": frozenset({PEER}),
    "key": _EVERY_ROLE,
    "http_address": frozenset({TRACKER}),
    "log_level": _EVERY_ROLE,
}
if set(SETTING_ROLES) != set(SETTING_NAMES):  # pragma: no cover - a programming error
    raise RuntimeError("every setting needs the roles that read it")


def settings_for(roles: Iterable[str]) -> tuple[str, ...]:
    """The settings read by a command playing ``roles``, in declaration order."""
    wanted = set(roles)
    if not wanted <= _EVERY_ROLE:
        raise ValueError(f"unknown roles {sorted(wanted - _EVERY_ROLE)}")
    return tuple(name for name in SETTING_NAMES if SETTING_ROLES[name] & wanted)


def is_size(name: str) -> bool:
    return name.endswith("_bytes")


def is_rate(name: str) -> bool:
    return name.endswith("_bytes_s")


def setting_literal(name: str, value: Any) -> str:
    """A setting's value as it would be written in the config file, sizes and
    rates in IEC units where they divide evenly (``"4MiB"``, ``"256KiB/s"``):
    what `swarm config` prints, and reads back to the same value."""
    if isinstance(value, int) and not isinstance(value, bool) and (is_size(name)
                                                                    or is_rate(name)):
        text = exact_size(value)
        if not text.isdigit():
            return json.dumps(text + "/s" if is_rate(name) else text)
    return json.dumps(value)


class LoadedSettings(Record):
    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)  # name -> where from


KIND_WORDS = {int: "a whole number", float: "a number", str: "text"}

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
    if kind is int and isinstance(value, str) and (is_size(name) or is_rate(name)):
        return _amount(name, value)
    try:
        if kind is int and isinstance(value, str):
            return int(value, 0)
        if kind is float and isinstance(value, str):
            return float(value)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not {KIND_WORDS[kind]}") from None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{name}: {value!r} is not {KIND_WORDS[kind]}")
    return value


def _amount(name: str, text: str) -> int:
    try:
        return int(text, 0)  # a plain count, as before units (0x100000 too)
    except ValueError:
        pass
    try:
        return parse_rate(text) if is_rate(name) else parse_size(text)
    except UnitError as exc:
        raise ConfigError(f"{name}: {exc}") from None


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
