"""The dashboard server's routing and its page files, without sockets."""

from __future__ import annotations

from pathlib import Path

from swarm.http.request import Request
from swarm.io.http.assets import PLACEHOLDER
from swarm.io.http.feed import DashboardFeed
from swarm.io.http.server import HttpServer

TOKEN = "ab" * 32


def server(tmp_path: Path, token: str | None = None, host: str = "127.0.0.1") -> HttpServer:
    (tmp_path / "index.html").write_text("<p>page</p>")
    (tmp_path / "app.js").write_text("go()")
    return HttpServer(DashboardFeed(), host, 0, token, assets_dir=tmp_path)


def status(srv: HttpServer, method: str, path: str, headers: dict[str, str] | None = None,
           query: dict[str, str] | None = None) -> int:
    code, _ = srv.route(Request(method, path, query or {}, headers or {"host": "localhost"}))
    return code


def test_known_paths_are_served_and_nothing_else(tmp_path: Path) -> None:
    srv = server(tmp_path)
    for path in ("/", "/static/app.js", "/static/index.html", "/api/status", "/api/events",
                 "/metrics"):
        assert status(srv, "GET", path) == 200, path
        assert status(srv, "HEAD", path) == 200, path
    for path in ("/static/", "/static/missing.js", "/static/../app.js", "/app.js",
                 "/../../etc/passwd", "/api", "/api/status/", "//"):
        assert status(srv, "GET", path) == 404, path


def test_every_other_method_is_405(tmp_path: Path) -> None:
    srv = server(tmp_path)
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"):
        assert status(srv, method, "/") == 405


def test_a_keyed_server_wants_the_token_everywhere(tmp_path: Path) -> None:
    srv = server(tmp_path, TOKEN)
    for path in ("/", "/static/app.js", "/api/status", "/api/events", "/metrics", "/missing"):
        assert status(srv, "GET", path) == 401, path
        assert status(srv, "GET", path, query={"token": TOKEN}) in (200, 404), path


def test_a_loopback_server_refuses_other_host_names(tmp_path: Path) -> None:
    assert status(server(tmp_path), "GET", "/", {"host": "evil.example"}) == 421
    assert status(server(tmp_path, host="0.0.0.0"), "GET", "/", {"host": "evil.example"}) == 200


def test_the_page_is_a_placeholder_until_its_files_are_installed(tmp_path: Path) -> None:
    srv = HttpServer(DashboardFeed(), "127.0.0.1", 0, None, assets_dir=tmp_path / "none")
    assert srv.assets == {}
    assert b"not installed" in PLACEHOLDER
    assert status(srv, "GET", "/") == 200
    assert status(srv, "GET", "/static/dashboard.js") == 404
