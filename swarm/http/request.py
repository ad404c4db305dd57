"""The dashboard's rules for a request, pure: its limits, its path and
query, its token, its Host.  The framing is h11's (``swarm.http.framing``).

Only what a read-only dashboard needs: a method, a path, a few known query
parameters, headers.  Anything else is refused with the status a client can
act on, never guessed at.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from swarm.protocol.record import Record

MAX_REQUEST_LINE_BYTES = 8 << 10
MAX_HEAD_BYTES = 16 << 10  # the header lines together, after the request line
MAX_HEADER_LINES = 100
ALLOWED_METHODS = ("GET", "HEAD")
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 414: "URI Too Long",
           421: "Misdirected Request", 431: "Request Header Fields Too Large",
           503: "Service Unavailable", 505: "HTTP Version Not Supported"}
# The key-derived token, for what a browser cannot send with a header (a
# page it opens, an EventSource).
QUERY_PARAMS = frozenset({"token"})
CONTROL_CHARACTERS = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # all but the tab


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


def request_from(method: bytes, target: bytes, version: bytes,
                 headers: list[tuple[bytes, bytes]]) -> Request:
    """Our request from a head h11 has read whole (its framing and syntax
    checked), held to our rules: the statuses a client can act on."""
    name = method.decode("ascii")  # h11 lets only a token through
    if not name.isalpha() or not name.isupper():
        raise HttpError(400, "malformed method")
    if version not in (b"1.1", b"1.0"):
        raise HttpError(505, "only HTTP/1.0 and HTTP/1.1")
    head_bytes = sum(len(field) + len(value) + 4 for field, value in headers)  # ": ", CRLF
    if len(headers) > MAX_HEADER_LINES or head_bytes > MAX_HEAD_BYTES:
        raise HttpError(431, "request header fields too large")
    if any(CONTROL_CHARACTERS.search(value) for _, value in headers):
        raise HttpError(400, "control character in a header")  # h11 lets them through
    # A repeated header keeps its last value.
    fields = {field.decode("ascii").lower(): value.decode("latin-1") for field, value in headers}
    path, query = parse_target(target.decode("ascii"))  # h11 lets only visible ASCII through
    if name in ALLOWED_METHODS and ("transfer-encoding" in fields
                                    or fields.get("content-length", "0") != "0"):
        # Read-only: no request has a body, and one we would have to skip
        # is a way to smuggle a second request past us.
        raise HttpError(400, "a request body is not accepted")
    return Request(name, path, query, fields)  # another method: 405, its body left unread


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
