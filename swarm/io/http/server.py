"""The tracker's read-only HTTP server: the dashboard page, its JSON and
event stream, and Prometheus metrics.

It runs on its own thread with its own asyncio loop, and touches the tracker
only through a ``DashboardFeed``: the tracker's loop never waits on it.  One
request per connection (``Connection: close``); every limit a hostile client
could lean on is bounded (see ``swarm.http.request`` for the head's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from swarm.config import http_host_port
from swarm.http.request import (
    ALLOWED_METHODS,
    MAX_HEAD_BYTES,
    MAX_REQUEST_LINE_BYTES,
    TOKEN_COOKIE,
    HeadParser,
    HttpError,
    Request,
    authorized,
    host_allowed,
    is_loopback,
)
from swarm.io.http.feed import RECENT_ENTRIES, DashboardFeed, FeedEntry, StatusSnapshot

log = logging.getLogger("swarm.http")

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboard"
HEAD_TIMEOUT_S = 10.0  # the whole request head; a slowloris client is cut off here
WRITE_TIMEOUT_S = 10.0  # a client that stops reading is dropped after this long
MAX_CONNECTIONS = 64  # beyond, a new connection is closed at once
KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies and browsers from timing out
MAX_UNSENT_BYTES = 1 << 20  # an SSE client this far behind is dropped, not buffered for
FRESH_STATUS_S = 1.0  # an older status makes /api/status wait for the next one ...
STATUS_WAIT_S = 2.0  # ... this long at most
STOP_TIMEOUT_S = 3.0
LINGER_S = 2.0  # after an error answer, the client's leftovers are read this long ...
LINGER_BYTES = 1 << 20  # ... or this much, then the connection is closed

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
PLACEHOLDER = (b"The swarm dashboard page is not installed (swarm/io/http/dashboard/ is empty).\n"
               b"/api/status, /api/events and /metrics work.\n")
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 414: "URI Too Long",
           421: "Misdirected Request", 431: "Request Header Fields Too Large",
           503: "Service Unavailable", 505: "HTTP Version Not Supported"}
# Scripts and styles come from the tracker only; the token in a page's URL
# is never sent on as a Referer.
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'",
    "Cache-Control": "no-store",
}

Asset = tuple[bytes, str]  # body, content type
MetricsRenderer = Callable[[], tuple[bytes, str]]
Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


def load_assets(folder: Path) -> dict[str, Asset]:
    """Every visible file under ``folder``, by its path relative to it: the
    fixed map requests are looked up in, so no request path ever reaches the
    file system."""
    assets: dict[str, Asset] = {}
    if not folder.is_dir():
        return assets
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        assets[relative.as_posix()] = (path.read_bytes(), content_type)
    return assets


def sse_message(item: FeedEntry) -> bytes:
    data = json.dumps(item.entry, ensure_ascii=False, separators=(",", ":"))
    return f"id: {item.entry_id}\ndata: {data}\n\n".encode()


def response_head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in {**COMMON_HEADERS, **headers}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HttpServer:
    """Started and stopped by the tracker's loop (``start``, ``close``)."""

    def __init__(self, feed: DashboardFeed, host: str, port: int, token: str | None,
                 metrics: MetricsRenderer | None = None,
                 assets_dir: Path = DASHBOARD_DIR) -> None:
        self.feed = feed
        self.host = host
        self.port = port
        self.token = token
        self.metrics = metrics
        self.assets = load_assets(assets_dir)
        self.bound_loopback = is_loopback(host)
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._tick: asyncio.Future[None] | None = None
        self._encoded: tuple[StatusSnapshot, bytes] | None = None
        self._sse_encoded: dict[int, bytes] = {}  # entry id -> its SSE message

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        """Bind (raising OSError here, in the tracker's thread, when the
        address is taken) and serve on a thread of its own."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            try:
                asyncio.run(self._serve(ready))
            except Exception as exc:
                if ready.is_set():  # after the start: the tracker goes on without it
                    log.exception("the dashboard's server stopped")
                else:  # binding: raised in the tracker's thread, by start
                    failure.append(exc)
                    ready.set()

        self._thread = threading.Thread(target=serve, name="swarm-http", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]

    def close(self) -> None:
        self.feed.listen(None)
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._tick = self._loop.create_future()
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port,
            limit=max(MAX_REQUEST_LINE_BYTES, MAX_HEAD_BYTES) + 2)
        self.port = self._server.sockets[0].getsockname()[1]
        loop = self._loop

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # closed while a publish was under way
                loop.call_soon_threadsafe(self._feed_changed)

        self.feed.listen(wake)
        ready.set()
        async with self._server:
            await self._stopped.wait()
            self._feed_changed()  # event streams see the stop and end
        # Handlers still running (a client still sending its head) are
        # cancelled as the loop ends.

    def _feed_changed(self) -> None:
        self.feed.acknowledge()
        assert self._loop is not None and self._tick is not None
        tick, self._tick = self._tick, self._loop.create_future()
        tick.set_result(None)

    def _next_change(self) -> asyncio.Future[None]:
        """Done at the feed's next change.  Taken before looking at the feed,
        so a change while the looker is busy is not missed."""
        assert self._tick is not None
        return self._tick

    @staticmethod
    async def _changed(change: asyncio.Future[None], timeout_s: float) -> None:
        """Until ``change`` (from ``_next_change``), or ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(change), timeout_s)

    # -- one connection ------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        if self.connections >= MAX_CONNECTIONS:
            writer.transport.abort()
            return
        self.connections += 1
        try:
            await self._answer(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # The server is stopping.  Ended here, not raised: the stream
            # machinery would report a cancelled handler as an error.
            pass
        except Exception:
            log.exception("dashboard request failed")
        finally:
            self.connections -= 1
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(HEAD_TIMEOUT_S):
                request = await self._read_head(reader)
        except TimeoutError:
            await self._refuse(reader, writer, 408, "the request head took too long\n")
            return
        except HttpError as exc:
            await self._refuse(reader, writer, exc.status, exc.reason + "\n")
            return
        status, handler = self.route(request)
        if handler is not None:
            await handler(request, writer)
            return
        extra = {"Allow": ", ".join(ALLOWED_METHODS)} if status == 405 else {}
        if status == 401:
            extra["WWW-Authenticate"] = 'Bearer realm="swarm"'
        await self._refuse(reader, writer, status, REASONS[status] + "\n", extra,
                           head_only=request.method == "HEAD")

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      status: int, reason: str, extra: dict[str, str] | None = None,
                      head_only: bool = False) -> None:
        """An error answer, then a lingering close: what the client still
        sends (the rest of a huge header, a body) is read and dropped for a
        moment, since closing with it unread resets the connection and can
        lose the answer before the client reads it."""
        await self._send(writer, status, reason.encode(), "text/plain; charset=utf-8",
                         head_only, extra)
        if writer.can_write_eof():
            writer.write_eof()
        dropped = 0
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(LINGER_S):
                while dropped < LINGER_BYTES:
                    chunk = await reader.read(64 << 10)
                    if not chunk:
                        break
                    dropped += len(chunk)

    async def _read_head(self, reader: asyncio.StreamReader) -> Request:
        parser = HeadParser()
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                status = 414 if parser.request_line is None else 431
                raise HttpError(status, "line too long") from None
            if parser.feed(line):
                return parser.request()

    def route(self, request: Request) -> tuple[int, Handler | None]:
        if request.method not in ALLOWED_METHODS:
            return 405, None
        if not host_allowed(request, self.bound_loopback):
            return 421, None
        if not authorized(request, self.token):
            return 401, None
        if request.path == "/":
            return 200, self._page
        if request.path.startswith("/static/") and request.path[8:] in self.assets:
            return 200, self._static
        if request.path == "/api/status":
            return 200, self._status
        if request.path == "/api/events":
            return 200, self._entry_stream
        if request.path == "/metrics":
            return 200, self._metrics
        return 404, None

    # -- the routes ----------------------------------------------------------

    async def _page(self, request: Request, writer: asyncio.StreamWriter) -> None:
        body, content_type = self.assets.get("index.html",
                                             (PLACEHOLDER, "text/plain; charset=utf-8"))
        extra = {}
        if self.token is not None and "token" in request.query:
            # The page's own requests (its script, its styles) cannot carry
            # a header: the browser keeps the token for this server instead.
            extra["Set-Cookie"] = (f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; "
                                   "SameSite=Strict")
        await self._send(writer, 200, body, content_type, request.method == "HEAD", extra)

    async def _static(self, request: Request, writer: asyncio.StreamWriter) -> None:
        body, content_type = self.assets[request.path[len("/static/"):]]
        await self._send(writer, 200, body, content_type, request.method == "HEAD")

    async def _status(self, request: Request, writer: asyncio.StreamWriter) -> None:
        change = self._next_change()
        self.feed.want_status()
        snapshot = self.feed.status()
        if snapshot is None or self.feed.status_age_s(snapshot) > FRESH_STATUS_S:
            # Nobody watched until now: the tracker builds one within a pass.
            clock = asyncio.get_running_loop().time
            deadline = clock() + STATUS_WAIT_S
            while clock() < deadline:
                await self._changed(change, deadline - clock())
                change = self._next_change()
                newer = self.feed.status()
                if newer is not None and newer is not snapshot:
                    snapshot = newer
                    break
        if snapshot is None:
            await self._send(writer, 503, b"no status yet\n", "text/plain; charset=utf-8",
                             request.method == "HEAD")
            return
        await self._send(writer, 200, self._status_body(snapshot), "application/json",
                         request.method == "HEAD")

    def _sse_bytes(self, item: FeedEntry) -> bytes:
        """Each entry encoded once for every stream that sends it."""
        encoded = self._sse_encoded.get(item.entry_id)
        if encoded is None:
            encoded = self._sse_encoded[item.entry_id] = sse_message(item)
            if len(self._sse_encoded) > 2 * RECENT_ENTRIES:  # the oldest half goes
                for entry_id in list(self._sse_encoded)[:RECENT_ENTRIES]:
                    del self._sse_encoded[entry_id]
        return encoded

    def _status_body(self, snapshot: StatusSnapshot) -> bytes:
        """Encoded once per status, however many read it: encoding holds the
        interpreter, and with it the tracker's loop, for as long as it takes."""
        if self._encoded is None or self._encoded[0] is not snapshot:
            self._encoded = (snapshot, json.dumps(snapshot.status, ensure_ascii=False).encode())
        return self._encoded[1]

    async def _metrics(self, request: Request, writer: asyncio.StreamWriter) -> None:
        if self.metrics is None:
            await self._send(writer, 503, b"metrics not available\n",
                             "text/plain; charset=utf-8", request.method == "HEAD")
            return
        body, content_type = self.metrics()
        await self._send(writer, 200, body, content_type, request.method == "HEAD")

    async def _entry_stream(self, request: Request, writer: asyncio.StreamWriter) -> None:
        """/api/events: the entries of the tracker's --events log as they come
        (server-sent events, resumed after Last-Event-ID)."""
        writer.write(response_head(200, {"Content-Type": "text/event-stream; charset=utf-8",
                                         "Connection": "close"}))
        if request.method == "HEAD":
            await self._drain(writer)
            return
        resume = request.headers.get("last-event-id", "")
        last = int(resume) if resume.isdigit() and len(resume) < 19 else 0
        writer.write(b"retry: 2000\n\n")
        clock = asyncio.get_running_loop().time
        written_s = clock()
        while True:
            change = self._next_change()
            batch = self.feed.entries_after(last)
            if batch:
                writer.write(b"".join(self._sse_bytes(item) for item in batch))
                last = batch[-1].entry_id
                written_s = clock()
            elif clock() - written_s >= KEEPALIVE_S:
                writer.write(b": keep-alive\n\n")
                written_s = clock()
            if writer.transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
                return  # not reading: dropped, it reconnects with Last-Event-ID
            await self._drain(writer)
            await self._changed(change, max(0.0, written_s + KEEPALIVE_S - clock()))
            if self._stopped is not None and self._stopped.is_set():
                return

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: bytes,
                    content_type: str, head_only: bool,
                    extra: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": content_type, "Content-Length": str(len(body)),
                   "Connection": "close", **(extra or {})}
        writer.write(response_head(status, headers) + (b"" if head_only else body))
        await self._drain(writer)

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(WRITE_TIMEOUT_S):
            await writer.drain()


def start_http_server(feed: DashboardFeed, address: str, token: str | None,
                      metrics: MetricsRenderer | None) -> HttpServer:
    host, port = http_host_port(address)
    if token is None and not is_loopback(host):
        log.warning("the dashboard at %s is open to anyone who can reach it: set a swarm key "
                    "(swarm keygen) to require a token", address)
    server = HttpServer(feed, host, port, token, metrics)
    server.start()
    return server

