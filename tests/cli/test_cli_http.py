"""The dashboard's command-line side: --http, and keygen --http-token."""

from __future__ import annotations

import pytest

from swarm.cli import main
from swarm.cli.parser import build_parser
from swarm.io.common.curve import http_token

KEY = "ab" * 32


def test_tracker_http_is_the_http_address_setting() -> None:
    args = build_parser().parse_args(["tracker", "--http", "8080"])
    assert args.set_http_address == "8080"
    args = build_parser().parse_args(["tracker", "--http-address", "0.0.0.0:0"])
    assert args.set_http_address == "0.0.0.0:0"


def test_keygen_http_token_prints_the_configured_keys_token(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SWARM_KEY", KEY)
    assert main(["keygen", "--http-token"]) == 0
    assert capsys.readouterr().out == f"{http_token(KEY)}\n"


def test_keygen_http_token_without_a_key_is_bad_usage(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SWARM_KEY", raising=False)
    monkeypatch.delenv("SWARM_CONFIG", raising=False)
    assert main(["keygen", "--http-token"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no swarm key" in captured.err


def test_keygen_alone_still_prints_a_new_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen"]) == 0
    key = capsys.readouterr().out.strip()
    assert len(key) == 64 and int(key, 16) >= 0
