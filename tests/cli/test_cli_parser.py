"""The `swarm` parser: versions, options before or after the command, the
settings each command's help lists, hosts with a port glued on, completion
scripts.  No command is run against a network here."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from swarm.cli import EXIT_OK, EXIT_USAGE, main
from swarm.cli.local import completion_script
from swarm.cli.parser import COMPLETION_SHELLS, build_parser, swarm_version
from swarm.cli.settings_flags import settings_from
from swarm.config import CLIENT, PEER, PROJECT_DIR, ROLES, TRACKER, settings_for

COMMANDS = ("tracker", "peer", "ls", "who", "status", "config", "digest", "keygen",
            "completion")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_the_version_comes_from_pyproject(capsys: pytest.CaptureFixture[str]) -> None:
    with (PROJECT_DIR / "pyproject.toml").open("rb") as project:
        version = tomllib.load(project)["project"]["version"]
    assert swarm_version() == version
    for argv in (["--version"], ["config", "--version"]):
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(argv)
        assert exit_info.value.code == 0
        assert capsys.readouterr().out == f"swarm {version}\n"


def test_config_is_taken_before_or_after_the_command() -> None:
    parser = build_parser()
    before = parser.parse_args(["--config", "f.toml", "config"])
    after = parser.parse_args(["config", "--config", "f.toml"])
    assert before.config == after.config == Path("f.toml")
    tail = parser.parse_args(["peer", "127.0.0.1", "40001", "5", "--config", "g.toml"])
    assert tail.config == Path("g.toml")
    assert not hasattr(parser.parse_args(["config"]), "config")  # the default file then


@pytest.mark.parametrize(("command", "roles"),
                         [("tracker", [TRACKER]), ("peer", [PEER]), ("ls", [CLIENT]),
                          ("who", [CLIENT]), ("status", [CLIENT]), ("config", ROLES)])
def test_each_command_lists_the_settings_of_its_roles(
        command: str, roles: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(command, capsys)
    used = settings_for(roles)
    for name in settings_for(ROLES):
        assert (flag(name) in text) == (name in used), (command, name)


def test_tracker_and_peer_help_keep_to_their_own(capsys: pytest.CaptureFixture[str]) -> None:
    tracker = help_of("tracker", capsys)
    assert "--bind-address" in tracker and "--state-dir" not in tracker
    assert "--download-limit-bytes-s" not in tracker
    peer = help_of("peer", capsys)
    assert "--bind-address" not in peer and "--expiry-misses" not in peer
    assert "--download-limit-bytes-s RATE" in peer and "--request-window-bytes SIZE" in peer
    assert "default: 4MiB" in peer


def test_a_command_refuses_a_flag_its_roles_do_not_read(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["tracker", "--state-dir", "x"])
    assert exit_info.value.code == 2
    assert "--state-dir" in capsys.readouterr().err


def test_size_flags_reach_the_settings_with_units() -> None:
    args = build_parser().parse_args(
        ["peer", "127.0.0.1", "40001", "5", "--download-limit-bytes-s", "256KiB/s",
         "--request-window-bytes", "2M", "--config", str(PROJECT_DIR / "config/swarm.toml")])
    settings = settings_from(args).settings
    assert settings.download_limit_bytes_s == 256 << 10
    assert settings.request_window_bytes == 2 << 20


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [(["peer", "localhost:40001", "5"], "swarm peer localhost 40001"),
     (["ls", "127.0.0.1:40001"], "swarm ls 127.0.0.1 40001"),
     (["who", "[::1]:40001", "a.bin"], "swarm who ::1 40001"),
     (["status", "example.org:7"], "swarm status example.org 7")],
)
def test_a_host_with_its_port_glued_on_is_refused_with_what_to_type(
        argv: list[str], suggestion: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"{argv[1]!r} has the port glued on" in err and suggestion in err


@pytest.mark.parametrize("host", ["::1", "fe80::1", "127.0.0.1", "localhost", "[::1]"])
def test_hosts_without_a_port_pass(host: str) -> None:
    args = build_parser().parse_args(["ls", host, "40001"])
    assert args.host == host


def test_main_refuses_a_bad_unit_naming_the_setting(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["config", "--upload-limit-bytes-s", "10Mb/s"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("swarm: upload_limit_bytes_s: '10Mb/s'") and "capital B" in err


def test_config_prints_sizes_and_rates_in_iec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--download-limit-bytes-s", "1536K"]) == EXIT_OK
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert '"1536KiB/s"' in lines["download_limit_bytes_s"]
    assert "flag --download-limit-bytes-s" in lines["download_limit_bytes_s"]


@pytest.mark.parametrize("shell", COMPLETION_SHELLS)
def test_completion_scripts_know_every_command_and_their_flags(shell: str) -> None:
    parser = build_parser()
    script = completion_script(parser, shell)
    for command in commands_of(parser):
        assert command in script
    for option in ("--config", "--json", "--download-limit-bytes-s", "--bind-address",
                   "--timeout-s", "--progress"):
        assert option in script


def test_completion_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == EXIT_OK
    script = capsys.readouterr().out
    assert script.startswith("#") and "complete" in script and "swarm" in script
    with pytest.raises(SystemExit):
        build_parser().parse_args(["completion", "fish"])


def commands_of(parser: argparse.ArgumentParser) -> list[str]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(subparsers.choices)


def test_the_parser_builds_one_subparser_per_command() -> None:
    assert set(COMMANDS) <= set(commands_of(build_parser()))


@pytest.mark.parametrize(("argv", "setting"), [
    (["tracker", "--port", "40001"], "tracker_port"),
    (["peer", "10.0.0.1", "40001", "5", "--port", "41000"], "peer_port"),
    (["get", "10.0.0.1", "40001", "a.bin", "--port", "41000"], "peer_port"),
    (["seed", "10.0.0.1", "40001", "a.bin", "--port", "41000"], "peer_port"),
])
def test_port_fixes_the_port_of_the_process_it_runs(argv: list[str], setting: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWARM_TRACKER_PORT", raising=False)
    monkeypatch.delenv("SWARM_PEER_PORT", raising=False)
    args = build_parser().parse_args(argv)
    loaded = settings_from(args)
    assert getattr(loaded.settings, setting) == int(argv[-1])
    assert loaded.sources[setting] == "flag " + flag(setting)
    if argv[0] != "tracker":
        assert args.port == 40001  # the tracker's port stays the positional one


def test_port_is_not_a_flag_of_the_questions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ls", "10.0.0.1", "40001", "--port", "41000"])
    assert "--port PORT" not in help_of("ls", capsys)


def _outcome(parser: argparse.ArgumentParser, argv: list[str],
             capsys: pytest.CaptureFixture[str]) -> tuple[object, str, str]:
    try:
        parsed: object = vars(parser.parse_args(argv))
    except SystemExit as exit_info:
        parsed = exit_info.code
    captured = capsys.readouterr()
    return parsed, captured.out, captured.err


@pytest.mark.parametrize("argv", [
    *([name, "--help"] for name in COMMANDS), ["get", "--help"], ["seed", "--help"],
    ["peer", "127.0.0.1", "40001", "5", "--port", "7000"], ["peer", "127.0.0.1"],
    ["get", "127.0.0.1", "40001", "a.bin", "--to", "d"], ["ls", "--bogus"],
    ["tracker", "--http", "127.0.0.1:0"], ["keygen", "--http-token"]])
def test_a_command_named_first_parses_as_with_the_whole_parser(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # main() builds only the command it was given; nothing it parses or
    # prints may differ from the parser with every command.
    whole = _outcome(build_parser(), argv, capsys)
    alone = _outcome(build_parser(only=argv[0]), argv, capsys)
    assert alone == whole


# Modules a peer's start-up must not import: every peer of a swarm pays for
# them at once, on the same few cores (the dashboard's asyncio and HTTP are the
# tracker's; argparse imports shutil, and with it the compression modules,
# only to learn the terminal's width).
NOT_IN_A_PEER = ("asyncio", "http", "dataclasses", "inspect", "shutil", "bz2", "lzma",
                 "subprocess", "tempfile", "ssl", "prometheus_client")


def test_a_peer_starts_without_modules_it_does_not_use() -> None:
    # In a fresh interpreter: this one has imported everything the tests use.
    code = ("import sys\n"
            "from swarm.cli.parser import build_parser\n"
            "build_parser(only='peer').parse_args(['peer', '127.0.0.1', '40001', '5'])\n"
            "import swarm.io.peer.loop\n"
            "print(' '.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PROJECT_DIR, timeout=60).stdout
    loaded = set(out.split())
    assert "swarm.io.peer.loop" in loaded
    assert sorted(loaded & set(NOT_IN_A_PEER)) == []


def test_help_wraps_at_the_width_columns_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    def usage_lines(columns: int) -> list[str]:
        monkeypatch.setenv("COLUMNS", str(columns))
        subparsers = next(a for a in build_parser(only="peer")._actions
                          if isinstance(a, argparse._SubParsersAction))
        return str(subparsers.choices["peer"].format_usage()).splitlines()

    assert max(len(line) for line in usage_lines(60)) <= 60
    assert max(len(line) for line in usage_lines(200)) > 100
