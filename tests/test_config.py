"""Settings: defaults < config file < environment < flags, with sources recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm.config import (
    CLIENT,
    DEFAULT_CONFIG_FILE,
    PEER,
    ROLES,
    SETTING_NAMES,
    TRACKER,
    ConfigError,
    LoadedSettings,
    PeerPorts,
    Settings,
    TrackerPorts,
    load_settings,
    setting_literal,
    settings_for,
)


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "swarm.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, toml: str = "", environ: dict[str, str] | None = None,
         flags: dict[str, object] | None = None) -> LoadedSettings:
    """Settings from a file in tmp_path; never from the real environment."""
    return load_settings(write_toml(tmp_path, toml), environ or {}, flags)


def test_defaults() -> None:
    settings = Settings()
    assert settings.heartbeat_interval_s == 1.0
    assert settings.expiry_misses == 3
    assert settings.expiry_s == 3.0
    assert settings.tracker_grace_s == 10.0
    assert settings.bind_address == "*"
    assert settings.state_dir == ".swarm"
    assert settings.log_level == "warning"


def test_empty_file_keeps_defaults_and_says_so(tmp_path: Path) -> None:
    loaded = load(tmp_path)
    assert loaded.settings == Settings()
    assert loaded.sources == {name: "default" for name in SETTING_NAMES}


def test_file_overrides_defaults(tmp_path: Path) -> None:
    loaded = load(tmp_path, '[swarm]\ntracker_grace_s = 4.5\nbind_address = "127.0.0.1"\n')
    assert loaded.settings.tracker_grace_s == 4.5
    assert loaded.settings.bind_address == "127.0.0.1"
    assert loaded.sources["tracker_grace_s"] == str(tmp_path / "swarm.toml")
    assert loaded.sources["expiry_misses"] == "default"


def test_file_without_a_section_is_read_too(tmp_path: Path) -> None:
    assert load(tmp_path, "expiry_misses = 5\n").settings.expiry_misses == 5


def test_integer_in_file_for_a_float_setting(tmp_path: Path) -> None:
    loaded = load(tmp_path, "[swarm]\nheartbeat_interval_s = 2\n")
    assert loaded.settings.heartbeat_interval_s == 2.0
    assert isinstance(loaded.settings.heartbeat_interval_s, float)


def test_environment_overrides_file(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "[swarm]\ntracker_grace_s = 4.5\nexpiry_misses = 5\n",
        environ={"SWARM_TRACKER_GRACE_S": "7", "SWARM_LOG_LEVEL": "debug"},
    )
    assert loaded.settings.tracker_grace_s == 7.0
    assert loaded.settings.log_level == "debug"
    assert loaded.settings.expiry_misses == 5  # the file still counts where env is silent
    assert loaded.sources["tracker_grace_s"] == "environment SWARM_TRACKER_GRACE_S"
    assert loaded.sources["log_level"] == "environment SWARM_LOG_LEVEL"
    assert loaded.sources["expiry_misses"] == str(tmp_path / "swarm.toml")


def test_environment_integers_accept_base_prefixes(tmp_path: Path) -> None:
    loaded = load(tmp_path, environ={"SWARM_REQUEST_WINDOW_BYTES": "0x100000"})
    assert loaded.settings.request_window_bytes == 1 << 20


def test_flags_override_environment(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "[swarm]\ntracker_grace_s = 4.5\n",
        environ={"SWARM_TRACKER_GRACE_S": "7", "SWARM_EXPIRY_MISSES": "6"},
        flags={"tracker_grace_s": 2.0, "expiry_misses": None},  # None: flag not given
    )
    assert loaded.settings.tracker_grace_s == 2.0
    assert loaded.settings.expiry_misses == 6
    assert loaded.sources["tracker_grace_s"] == "flag --tracker-grace-s"
    assert loaded.sources["expiry_misses"] == "environment SWARM_EXPIRY_MISSES"


def test_config_file_named_by_the_environment(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[swarm]\nscan_interval_s = 0.5\n")
    loaded = load_settings(None, {"SWARM_CONFIG": str(path)})
    assert loaded.settings.scan_interval_s == 0.5
    assert loaded.sources["scan_interval_s"] == str(path)


def test_shipped_config_file_loads() -> None:
    loaded = load_settings(None, {})
    assert DEFAULT_CONFIG_FILE.exists()
    assert set(loaded.sources.values()) <= {"default", str(DEFAULT_CONFIG_FILE)}


@pytest.mark.parametrize(
    "toml",
    [
        "[swarm]\nno_such_setting = 1\n",
        "[swarm]\nheartbeat_interval_s = \"fast\"\n",
        "[swarm]\nheartbeat_interval_s = 0\n",
        "[swarm]\ntracker_grace_s = -1.0\n",
        "[swarm]\nexpiry_misses = 2.5\n",
        "[swarm]\nexpiry_misses = true\n",
        "[swarm]\nexpiry_misses = 0\n",
        "[swarm]\nrequest_window_bytes = 1000\n",
        "[swarm]\nlog_level = \"loud\"\n",
        "[swarm]\nbind_address = \"\"\n",
        "[swarm]\nbind_address = 5\n",
        "[swarm]\nstate_dir = [\"a\"]\n",
        "[swarm\n",  # not TOML
    ],
    ids=lambda text: text.replace("\n", " ").strip(),
)
def test_bad_file_raises_config_error(tmp_path: Path, toml: str) -> None:
    with pytest.raises(ConfigError):
        load(tmp_path, toml)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SWARM_EXPIRY_MISSES", "three"),
        ("SWARM_EXPIRY_MISSES", "2.5"),
        ("SWARM_HEARTBEAT_INTERVAL_S", "soon"),
        ("SWARM_HEARTBEAT_INTERVAL_S", "-1"),
        ("SWARM_LOG_LEVEL", "loud"),
    ],
)
def test_bad_environment_value_raises_config_error(
    tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(ConfigError):
        load(tmp_path, environ={variable: value})


def test_unknown_environment_variables_are_ignored(tmp_path: Path) -> None:
    assert load(tmp_path, environ={"SWARM_NO_SUCH_THING": "1"}).settings == Settings()


@pytest.mark.parametrize(
    "flags",
    [{"no_such_setting": 1}, {"expiry_misses": "many"}, {"expiry_misses": True},
     {"heartbeat_interval_s": 0.0}],
)
def test_bad_flags_raise_config_error(tmp_path: Path, flags: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        load(tmp_path, flags=flags)


def test_missing_config_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "absent.toml", {})


@pytest.mark.parametrize("variable", ["SWARM_HEARTBEAT_INTERVAL_S", "SWARM_TRACKER_GRACE_S"])
def test_nan_interval_raises_config_error(tmp_path: Path, variable: str) -> None:
    with pytest.raises(ConfigError):
        load(tmp_path, environ={variable: "nan"})


def test_yes_or_no_settings_take_words_from_everywhere(tmp_path: Path) -> None:
    assert load(tmp_path).settings.follow_symlinks is False
    assert load(tmp_path, "[swarm]\nfollow_symlinks = true\n").settings.follow_symlinks is True
    for word, value in (("true", True), ("Yes", True), ("1", True), ("off", False),
                        ("FALSE", False), ("0", False)):
        env = load(tmp_path, environ={"SWARM_FOLLOW_SYMLINKS": word})
        assert env.settings.follow_symlinks is value, word
    assert load(tmp_path, flags={"follow_symlinks": "on"}).settings.follow_symlinks is True
    for bad in ("maybe", "2", ""):
        with pytest.raises(ConfigError, match=r"follow_symlinks: .* is not true or false"):
            load(tmp_path, environ={"SWARM_FOLLOW_SYMLINKS": bad})
    with pytest.raises(ConfigError):
        load(tmp_path, "[swarm]\nfollow_symlinks = 1\n")


def test_sizes_and_rates_take_units_from_everywhere(tmp_path: Path) -> None:
    loaded = load(tmp_path, '[swarm]\nrequest_window_bytes = "2MiB"\n',
                  environ={"SWARM_UPLOAD_LIMIT_BYTES_S": "512K"},
                  flags={"download_limit_bytes_s": "10MB/s"})
    assert loaded.settings.request_window_bytes == 2 << 20
    assert loaded.settings.upload_limit_bytes_s == 512 << 10
    assert loaded.settings.download_limit_bytes_s == 10_000_000
    plain = load(tmp_path, "[swarm]\nrequest_window_bytes = 1048576\n",
                 environ={"SWARM_DOWNLOAD_LIMIT_BYTES_S": "4096"})
    assert plain.settings.request_window_bytes == 1 << 20
    assert plain.settings.download_limit_bytes_s == 4096


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SWARM_DOWNLOAD_LIMIT_BYTES_S", "fast"), ("SWARM_UPLOAD_LIMIT_BYTES_S", "10Mb/s"),
     ("SWARM_REQUEST_WINDOW_BYTES", "4 lots"), ("SWARM_DOWNLOAD_LIMIT_BYTES_S", "-1")],
)
def test_a_bad_size_or_rate_names_its_setting(tmp_path: Path, variable: str,
                                              value: str) -> None:
    name = variable.removeprefix("SWARM_").lower()
    with pytest.raises(ConfigError, match=f"^{name}"):
        load(tmp_path, environ={variable: value})


def test_units_apply_only_to_sizes_and_rates(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load(tmp_path, environ={"SWARM_EXPIRY_MISSES": "3K"})


def test_every_setting_is_read_by_some_role() -> None:
    assert set(settings_for(ROLES)) == set(SETTING_NAMES)
    for role in ROLES:
        assert "log_level" in settings_for([role]) and "key" in settings_for([role])
    tracker = settings_for([TRACKER])
    assert "bind_address" in tracker and "expiry_misses" in tracker
    assert "state_dir" not in tracker and "download_limit_bytes_s" not in tracker
    peer = settings_for([PEER])
    assert "download_limit_bytes_s" in peer and "bind_address" not in peer
    assert settings_for([CLIENT]) == ("key", "log_level")
    assert list(settings_for(ROLES)) == list(SETTING_NAMES)  # declaration order kept
    with pytest.raises(ValueError):
        settings_for(["seeder"])


def test_setting_literals_read_back_and_use_iec(tmp_path: Path) -> None:
    assert setting_literal("request_window_bytes", 4 << 20) == '"4MiB"'
    assert setting_literal("upload_limit_bytes_s", 256 << 10) == '"256KiB/s"'
    assert setting_literal("upload_limit_bytes_s", 0) == "0"
    assert setting_literal("upload_limit_bytes_s", 400_000) == "400000"
    assert setting_literal("follow_symlinks", False) == "false"
    assert setting_literal("bind_address", "*") == '"*"'
    shown = {name: setting_literal(name, getattr(Settings(), name)) for name in SETTING_NAMES}
    toml = "[swarm]\n" + "".join(f"{name} = {text}\n" for name, text in shown.items())
    assert load(tmp_path, toml).settings == Settings()


def test_ports_are_drawn_unless_fixed() -> None:
    settings = Settings()
    assert settings.tracker_port == settings.peer_port == 0
    assert settings.tracker_ports() == TrackerPorts(0, 0, (0, 0))
    assert settings.peer_ports() == PeerPorts(0, 0)


def test_every_port_follows_from_its_setting_by_the_rule() -> None:
    settings = Settings(tracker_port=40001, peer_port=41000)
    assert settings.tracker_ports() == TrackerPorts(40001, 40002, (40003, 40004))
    assert settings.peer_ports() == PeerPorts(41000, 41001)


def test_ports_come_from_everywhere(tmp_path: Path) -> None:
    loaded = load(tmp_path, "[swarm]\ntracker_port = 40001\n",
                  {"SWARM_PEER_PORT": "41000"})
    assert (loaded.settings.tracker_port, loaded.settings.peer_port) == (40001, 41000)
    assert loaded.sources["peer_port"] == "environment SWARM_PEER_PORT"
    flagged = load(tmp_path, environ={"SWARM_TRACKER_PORT": "40001"},
                   flags={"tracker_port": "50001"})
    assert flagged.settings.tracker_port == 50001


@pytest.mark.parametrize(("name", "value"), [
    ("tracker_port", -1), ("tracker_port", 65533), ("tracker_port", 70000),
    ("peer_port", -1), ("peer_port", 65535),
])
def test_a_port_whose_rule_runs_past_the_last_port_is_refused(name: str, value: int) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings().replace(**{name: value})


def test_the_highest_ports_the_rule_allows() -> None:
    assert Settings(tracker_port=65532).tracker_ports().echoes == (65534, 65535)
    assert Settings(peer_port=65534).peer_ports().punch == 65535


def test_each_port_is_read_by_its_own_role() -> None:
    assert "tracker_port" in settings_for([TRACKER])
    assert "tracker_port" not in settings_for([PEER])
    assert "peer_port" in settings_for([PEER])
    assert "peer_port" not in settings_for([TRACKER])
