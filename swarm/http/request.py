"""Reading one HTTP/1.1 request head, pure: bytes in, a ``Request`` or an
``HttpError`` out.  No sockets here; ``swarm.io.http.server`` feeds it lines.

Only what a read-only dashboard needs: a request line, headers, a path and
a few known query parameters.  Anything else is refused with the status a
client can act on, never guessed at.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import parse_qsl, unquote, urlsplit

from swarm.protocol.record import Record

MAX_REQUEST_LINE_BYTES = 8 << 10
MAX_HEAD_BYTES = 16 << 10  # the header lines together, after the request line
MAX_HEADER_LINES = 100
ALLOWED_METHODS = ("GET", "HEAD")
# The key-derived token, for what a browser cannot send with a header (a
# page it opens, an EventSource).
QUERY_PARAMS = frozenset({"token"})


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Request(Record):
    method: str
    path: str  # percent-decoded
    query: dict[str, str]
    headers: dict[str, str]  # names lowercased; a repeated header keeps its last value


def parse_request_line(line: bytes) -> tuple[str, str]:
    """(method, target) of ``GET /path HTTP/1.1``; a method we do not serve
    is not an error here (it gets 405, with Allow)."""
    if len(line) > MAX_REQUEST_LINE_BYTES:
        raise HttpError(414, "request line too long")
    try:
        text = line.decode("ascii").rstrip("\r\n")
    except UnicodeDecodeError:
        raise HttpError(400, "request line is not ASCII") from None
    parts = text.split(" ")
    if len(parts) != 3 or not all(parts):
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(505, "only HTTP/1.0 and HTTP/1.1")
    if not method.isalpha() or not method.isupper():
        raise HttpError(400, "malformed method")
    return method, target


def parse_header_line(line: bytes) -> tuple[str, str]:
    try:
        text = line.decode("latin-1").rstrip("\r\n")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise HttpError(400, "bad header") from None
    name, colon, value = text.partition(":")
    if not colon or not name or name != name.strip() or any(c in name for c in " \t"):
        raise HttpError(400, "malformed header line")
    if any(ord(c) < 32 and c != "\t" for c in value):
        raise HttpError(400, "control character in a header")
    return name.lower(), value.strip()


class HeadParser:
    """Takes the head's lines one by one, holding the limits as it goes."""

    def __init__(self) -> None:
        self.request_line: tuple[str, str] | None = None
        self.headers: dict[str, str] = {}
        self.head_bytes = 0
        self.lines = 0

    def feed(self, line: bytes) -> bool:
        """Take one line (with its line ending); True once the head is whole."""
        if self.request_line is None:
            if line in (b"\r\n", b"\n"):  # RFC 9112: ignore empty lines before a request
                return False
            self.request_line = parse_request_line(line)
            return False
        if line in (b"\r\n", b"\n"):
            return True
        self.head_bytes += len(line)
        self.lines += 1
        if self.head_bytes > MAX_HEAD_BYTES or self.lines > MAX_HEADER_LINES:
            raise HttpError(431, "request header fields too large")
        name, value = parse_header_line(line)
        self.headers[name] = value
        return False

    def request(self) -> Request:
        assert self.request_line is not None
        method, target = self.request_line
        path, query = parse_target(target)
        if method not in ALLOWED_METHODS:
            return Request(method, path, query, self.headers)  # 405, its body left unread
        if "transfer-encoding" in self.headers or self.headers.get("content-length", "0") != "0":
            # Read-only: no request has a body, and one we would have to skip
            # is a way to smuggle a second request past us.
            raise HttpError(400, "a request body is not accepted")
        return Request(method, path, query, self.headers)


def parse_target(target: str) -> tuple[str, dict[str, str]]:
    if not target.startswith("/"):
        raise HttpError(400, "the target must be a path")
    parts = urlsplit(target)
    try:
        path = unquote(parts.path, errors="strict") if parts.path else "/"
    except UnicodeDecodeError:  # %-escapes that are not UTF-8
        raise HttpError(400, "the path is not UTF-8") from None
    if "\0" in path:
        raise HttpError(400, "NUL in the path")
    query: dict[str, str] = {}
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query),
                          max_num_fields=len(QUERY_PARAMS) + 1)
    except ValueError:
        raise HttpError(400, "malformed query") from None
    for name, value in pairs:
        if name not in QUERY_PARAMS:
            raise HttpError(400, f"unknown query parameter {name[:40]!r}")
        query[name] = value
    return path, query


TOKEN_COOKIE = "swarm_token"


def bearer_token(request: Request) -> str | None:
    """The token a request carries: the Authorization header's, else the
    query's, else the cookie a page opened with ``?token=`` was given (so
    its scripts, styles and event stream carry it too)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if "token" in request.query:
        return request.query["token"]
    for pair in request.headers.get("cookie", "").split(";"):
        name, _, value = pair.strip().partition("=")
        if name == TOKEN_COOKIE:
            return value
    return None


def authorized(request: Request, token: str | None) -> bool:
    """Every request carries ``token`` when there is one (a keyed swarm)."""
    if token is None:
        return True
    given = bearer_token(request)
    # Constant time: how long a wrong token takes to refuse says nothing of the right one.
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"),
                                                     token.encode("ascii"))


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_allowed(request: Request, bound_loopback: bool) -> bool:
    """A server bound to loopback answers only requests addressed to a
    loopback name: a web page elsewhere that rebinds its own DNS name to
    127.0.0.1 cannot read the swarm through a browser on this machine."""
    if not bound_loopback:
        return True
    host = request.headers.get("host")
    if host is None:
        return True  # HTTP/1.0 clients; a browser always sends Host
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return is_loopback(name)
