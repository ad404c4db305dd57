"""The dashboard's rules for a request head (read by h11 through
``swarm.http.framing``), its limits, and its token, without sockets."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from swarm.config import ConfigError, http_host_port, load_settings
from swarm.http.framing import HttpConnection
from swarm.http.request import (
    MAX_HEAD_BYTES,
    MAX_HEADER_LINES,
    MAX_REQUEST_LINE_BYTES,
    HttpError,
    Request,
    authorized,
    host_allowed,
    parse_target,
)
from swarm.io.common.curve import SwarmKeyError, http_token
from swarm.io.http.assets import load_assets
from swarm.io.http.feed import FeedEntry
from swarm.io.http.server import sse_message

KEY = "11" * 32


def head(*lines: bytes) -> Request:
    """The request of a head sent line by line."""
    connection = HttpConnection()
    for line in lines:
        request = connection.receive(line)
        if request is not None:
            return request
    raise AssertionError("the head did not end")


def status_of(*lines: bytes) -> int:
    with pytest.raises(HttpError) as caught:
        head(*lines)
    return caught.value.status


def test_a_plain_get_is_read_whole() -> None:
    request = head(b"GET /api/status?token=abc HTTP/1.1\r\n", b"Host: 127.0.0.1:8080\r\n",
                   b"Accept:  */* \r\n", b"X-Twice: 1\r\n", b"x-twice: 2\r\n", b"\r\n")
    assert request.method == "GET" and request.path == "/api/status"
    assert request.query == {"token": "abc"}
    assert request.headers == {"host": "127.0.0.1:8080", "accept": "*/*", "x-twice": "2"}


def test_empty_lines_before_the_request_are_skipped() -> None:
    assert head(b"\r\n", b"GET / HTTP/1.0\r\n", b"\r\n").path == "/"


@pytest.mark.parametrize("line, status", [
    (b"GET /\r\n", 400),
    (b"GET  / HTTP/1.1\r\n", 400),
    (b"GET / HTTP/2.0\r\n", 505),
    (b"get / HTTP/1.1\r\n", 400),
    (b"G\xc3\x89T / HTTP/1.1\r\n", 400),
    (b"GET " + b"a" * MAX_REQUEST_LINE_BYTES + b" HTTP/1.1\r\n", 414),
])
def test_bad_request_lines_are_refused(line: bytes, status: int) -> None:
    assert status_of(line, b"Host: localhost\r\n", b"\r\n") == status


def test_an_unknown_method_is_left_for_the_router_to_answer_405() -> None:
    assert head(b"DELETE / HTTP/1.1\r\n", b"Host: localhost\r\n", b"\r\n").method == "DELETE"


def test_an_http_1_1_request_without_host_is_400() -> None:
    # RFC 9112 3.2; an HTTP/1.0 client may leave it out.
    assert status_of(b"GET / HTTP/1.1\r\n", b"\r\n") == 400
    assert head(b"GET / HTTP/1.0\r\n", b"\r\n").headers == {}


def test_too_many_header_lines_or_bytes_are_431() -> None:
    many = [b"X-A: b\r\n"] * MAX_HEADER_LINES
    assert status_of(b"GET / HTTP/1.1\r\n", b"Host: localhost\r\n", *many, b"\r\n") == 431
    assert head(b"GET / HTTP/1.1\r\n", *many[1:], b"Host: localhost\r\n", b"\r\n")
    big = b"X-Big: " + b"x" * 4000 + b"\r\n"
    lines = [big] * (MAX_HEAD_BYTES // len(big) + 1)
    assert status_of(b"GET / HTTP/1.1\r\n", b"Host: localhost\r\n", *lines, b"\r\n") == 431
    # Far beyond: refused before the head ends.
    assert status_of(b"GET / HTTP/1.1\r\n", b"X-Huge: " + b"x" * 40_000) == 431


@pytest.mark.parametrize("line", [b"no colon\r\n", b"Bad Name: x\r\n", b": x\r\n",
                                  b"X: a\x01b\r\n", b" X: folded\r\n"])
def test_malformed_header_lines_are_400(line: bytes) -> None:
    assert status_of(b"GET / HTTP/1.1\r\n", line, b"Host: localhost\r\n", b"\r\n") == 400


@pytest.mark.parametrize("header", [b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n"])
def test_a_request_with_a_body_is_refused(header: bytes) -> None:
    assert status_of(b"GET / HTTP/1.1\r\n", b"Host: localhost\r\n", header, b"\r\n") == 400


def test_paths_are_decoded_and_only_the_token_parameter_is_known() -> None:
    assert parse_target("/static/a%20b.js") == ("/static/a b.js", {})
    assert parse_target("/?token=") == ("/", {"token": ""})
    for target in ("/?x=1", "/?token=a&x=1", "http://evil/", "/a%00b", "*", "/%ff"):
        with pytest.raises(HttpError):
            parse_target(target)


def request_with(headers: dict[str, str] | None = None,
                 query: dict[str, str] | None = None) -> Request:
    return Request("GET", "/", query or {}, headers or {})


def test_an_open_swarm_asks_for_no_token() -> None:
    assert authorized(request_with(), None)


def test_a_keyed_swarm_takes_the_token_from_the_header_or_the_query() -> None:
    token = http_token(KEY)
    assert token is not None
    assert authorized(request_with({"authorization": f"Bearer {token}"}), token)
    assert authorized(request_with({"authorization": f"bearer  {token}"}), token)
    assert authorized(request_with(query={"token": token}), token)
    assert not authorized(request_with(), token)
    assert not authorized(request_with({"authorization": "Bearer " + "0" * 64}), token)
    assert not authorized(request_with({"authorization": f"Basic {token}"}), token)
    assert not authorized(request_with(query={"token": "é"}), token)
    assert authorized(request_with({"cookie": f"a=b; swarm_token={token}"}), token)
    assert not authorized(request_with({"cookie": "swarm_token=nope"}), token)


def test_the_token_is_an_hmac_of_a_fixed_label_under_the_key() -> None:
    expected = hmac.new(bytes.fromhex(KEY), b"swarm http token v1", hashlib.sha256).hexdigest()
    assert http_token(KEY) == expected
    assert http_token("22" * 32) != expected
    assert http_token("") is None
    with pytest.raises(SwarmKeyError):
        http_token("abc")


def test_a_loopback_server_answers_only_loopback_names() -> None:
    for host in ("127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.2", "localhost"):
        assert host_allowed(request_with({"host": host}), bound_loopback=True), host
    for host in ("evil.example:8080", "10.0.0.7:8080", "[::2]:80"):
        assert not host_allowed(request_with({"host": host}), bound_loopback=True), host
    assert host_allowed(request_with({"host": "evil.example"}), bound_loopback=False)


def test_the_http_address_setting() -> None:
    assert http_host_port("8080") == ("127.0.0.1", 8080)
    assert http_host_port("0") == ("127.0.0.1", 0)
    assert http_host_port("0.0.0.0:80") == ("0.0.0.0", 80)
    assert http_host_port("[::1]:8080") == ("::1", 8080)
    assert http_host_port(":9000") == ("127.0.0.1", 9000)
    for bad in ("http", "1:2:x", "65536", "[::1:80", "a b:80"):
        with pytest.raises(ConfigError):
            http_host_port(bad)
    assert load_settings(environ={"SWARM_HTTP_ADDRESS": "8080"}).settings.http_address == "8080"
    with pytest.raises(ConfigError):
        load_settings(environ={"SWARM_HTTP_ADDRESS": "nope"})


def test_assets_are_a_fixed_map_of_the_visible_files(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>hi</p>")
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "chart.js").write_text("x")
    (tmp_path / ".hidden.js").write_text("secret")
    assets = load_assets(tmp_path)
    assert assets == {"index.html": (b"<p>hi</p>", "text/html; charset=utf-8"),
                      "vendor/chart.js": (b"x", "text/javascript; charset=utf-8")}
    assert load_assets(tmp_path / "missing") == {}


def test_an_sse_message_is_an_id_and_one_data_line() -> None:
    message = sse_message(FeedEntry(7, {"event": "join", "name": "a\nb"}))
    lines = message.decode().split("\n")
    assert lines[:2] == ["id: 7", 'data: {"event":"join","name":"a\\nb"}'] and lines[2:] == ["", ""]
    assert json.loads(lines[1][6:]) == {"event": "join", "name": "a\nb"}


def test_a_method_we_do_not_serve_is_read_for_a_405_even_with_a_body() -> None:
    request = head(b"POST / HTTP/1.1\r\n", b"Host: x\r\n", b"Content-Length: 3\r\n", b"\r\n")
    assert request.method == "POST"
