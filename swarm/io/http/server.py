"""The tracker's read-only HTTP server: the dashboard page, its JSON and
event stream, and Prometheus metrics.

It runs on its own thread with its own asyncio loop, and touches the tracker
only through a ``DashboardFeed``: the tracker's loop never waits on it.
HTTP/1.1 is framed by h11 (``swarm.http.framing``), connections are kept
alive between requests, and every limit a hostile client could lean on is
bounded: the head's (``swarm.http.request``), the time to send it, and the
connections at once, where the one that has waited longest on its client
makes room for a new one (``swarm.http.admission``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from swarm.config import http_host_port
from swarm.http.admission import Admission, Phase
from swarm.http.request import (
    ALLOWED_METHODS,
    REASONS,
    TOKEN_COOKIE,
    HttpError,
    Request,
    authorized,
    host_allowed,
    is_loopback,
)
from swarm.io.common.process_limits import DASHBOARD_OWN_FDS, DashboardLimits
from swarm.io.http.assets import DASHBOARD_DIR, PLACEHOLDER, load_assets
from swarm.io.http.client import COMMON_HEADERS, Client, FullReport, linger
from swarm.io.http.feed import RECENT_ENTRIES, DashboardFeed, FeedEntry, StatusSnapshot
from swarm.io.http.listener import listen, take_connections

log = logging.getLogger("swarm.http")

# The whole request head, from when the connection began to wait for it; a
# slowloris client is cut off here, and a kept-alive one sending nothing closed.
HEAD_TIMEOUT_S = 10.0
KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies and browsers from timing out
MAX_UNSENT_BYTES = 1 << 20  # an SSE client this far behind is dropped, not buffered for
FRESH_STATUS_S = 1.0  # an older status makes /api/status wait for the next one ...
STATUS_WAIT_S = 2.0  # ... this long at most
STOP_TIMEOUT_S = 3.0
LINGER_S = 2.0  # after an error answer, the client's leftovers are read this long ...
LINGER_BYTES = 1 << 20  # ... or this much, then the connection is closed

# Without the tracker's limits (tests): the bounds the server had before
# the open-file limit set them.
DEFAULT_LIMITS = DashboardLimits(64, 16, 64 + DASHBOARD_OWN_FDS)

MetricsRenderer = Callable[[], tuple[bytes, str]]
Handler = Callable[[Request, Client], Awaitable[None]]


def sse_message(item: FeedEntry) -> bytes:
    data = json.dumps(item.entry, ensure_ascii=False, separators=(",", ":"))
    return f"id: {item.entry_id}\ndata: {data}\n\n".encode()


class HttpServer:
    """Started and stopped by the tracker's loop (``start``, ``close``)."""

    def __init__(self, feed: DashboardFeed, host: str, port: int, token: str | None,
                 metrics: MetricsRenderer | None = None,
                 assets_dir: Path = DASHBOARD_DIR,
                 limits: DashboardLimits = DEFAULT_LIMITS) -> None:
        self.feed = feed
        self.host = host
        self.port = port
        self.token = token
        self.metrics = metrics
        self.assets = load_assets(assets_dir)
        self.bound_loopback = is_loopback(host)
        self.connections: Admission[Client] = Admission(limits.connections, limits.streams)
        self.full = FullReport()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: set[asyncio.Task[None]] = set()
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
        listeners = listen(self.host, self.port)
        self.port = listeners[0].getsockname()[1]
        loop = self._loop

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # closed while a publish was under way
                loop.call_soon_threadsafe(self._feed_changed)

        self.feed.listen(wake)
        takers = [loop.create_task(take_connections(sock, self._accepted))
                  for sock in listeners]
        ready.set()
        try:
            await self._stopped.wait()
            self._feed_changed()  # event streams see the stop and end
        finally:
            for taker in takers:
                taker.cancel()
            for sock in listeners:
                sock.close()
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

    def _accepted(self, sock: socket.socket) -> None:
        task = asyncio.get_running_loop().create_task(self._connection(sock))
        self._connecting.add(task)  # held until it ends: the loop keeps only a weak reference
        task.add_done_callback(self._connecting.discard)

    async def _connection(self, sock: socket.socket) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
        except OSError:
            sock.close()
            return
        client = Client(reader, writer, self.connections)
        now_s = asyncio.get_running_loop().time()
        admitted = self.connections.admit(client, now_s)
        if admitted.evicted is not None or not admitted.admitted:
            self.full.note(admitted.admitted, len(self.connections), now_s)
        if admitted.evicted is not None:
            admitted.evicted.make_room()
        if not admitted.admitted:  # the cap is full of clients being answered
            writer.transport.abort()
            return
        try:
            await self._requests(client)
        except (ConnectionError, TimeoutError):
            pass
        except asyncio.CancelledError:
            # Closed to make room, or the server is stopping.  Ended here,
            # not raised: the stream machinery would report a cancelled
            # handler as an error.
            pass
        except Exception:
            log.exception("dashboard request failed")
        finally:
            self.connections.leave(client)
            writer.close()

    async def _requests(self, client: Client) -> None:
        """Request after request, while the connection is kept alive."""
        first = True
        while True:
            request = await self._read_request(client, first)
            if request is None:
                return
            client.enter(Phase.ANSWERING)
            status, handler = self.route(request)
            if handler is None:
                await self._refuse_routed(client, request, status)
                return
            await handler(request, client)
            if not client.http.next_cycle():
                return
            client.enter(Phase.WAITING)
            first = False

    async def _read_request(self, client: Client, first: bool) -> Request | None:
        """The next request; None when the connection is to end (the client
        closed it, or was answered an error).  A client that has sent
        nothing of a request after the first is closed quietly at the time
        limit; any other is answered 408."""
        try:
            return await self._read_head(client)
        except TimeoutError:
            if first or client.http.started:
                await self._refuse(client, 408, "the request head took too long\n")
        except HttpError as exc:
            await self._refuse(client, exc.status, exc.reason + "\n")
        return None

    @staticmethod
    async def _read_head(client: Client) -> Request | None:
        client.reading_head = True
        try:
            async with asyncio.timeout(HEAD_TIMEOUT_S):
                request = client.http.next_request()  # sent behind the last one
                while request is None:
                    data = await client.read()
                    if not data:
                        return None  # closed: nobody to answer
                    request = client.http.receive(data)
                return request
        finally:
            client.reading_head = False

    async def _refuse_routed(self, client: Client, request: Request, status: int) -> None:
        extra = {"Allow": ", ".join(ALLOWED_METHODS)} if status == 405 else {}
        if status == 401:
            extra["WWW-Authenticate"] = 'Bearer realm="swarm"'
        await self._refuse(client, status, REASONS[status] + "\n", extra,
                           head_only=request.method == "HEAD")

    async def _refuse(self, client: Client, status: int, reason: str,
                      extra: dict[str, str] | None = None, head_only: bool = False) -> None:
        """An error answer, then a lingering close: what the client still
        sends (the rest of a huge header, a body) is read and dropped for a
        moment, since closing with it unread resets the connection and can
        lose the answer before the client reads it.  Answered, the
        connection only waits on its client: it may make room meanwhile."""
        await self._send(client, status, reason.encode(), "text/plain; charset=utf-8",
                         head_only, {"Connection": "close", **(extra or {})})
        client.enter(Phase.WAITING)
        if client.writer.can_write_eof():
            client.writer.write_eof()
        await linger(client.reader, LINGER_S, LINGER_BYTES)

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

    async def _page(self, request: Request, client: Client) -> None:
        body, content_type = self.assets.get("index.html",
                                             (PLACEHOLDER, "text/plain; charset=utf-8"))
        extra = {}
        if self.token is not None and "token" in request.query:
            # The page's own requests (its script, its styles) cannot carry
            # a header: the browser keeps the token for this server instead.
            extra["Set-Cookie"] = (f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; "
                                   "SameSite=Strict")
        await self._send(client, 200, body, content_type, request.method == "HEAD", extra)

    async def _static(self, request: Request, client: Client) -> None:
        body, content_type = self.assets[request.path[len("/static/"):]]
        await self._send(client, 200, body, content_type, request.method == "HEAD")

    async def _status(self, request: Request, client: Client) -> None:
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
            await self._send(client, 503, b"no status yet\n", "text/plain; charset=utf-8",
                             request.method == "HEAD")
            return
        await self._send(client, 200, self._status_body(snapshot), "application/json",
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

    async def _metrics(self, request: Request, client: Client) -> None:
        if self.metrics is None:
            await self._send(client, 503, b"metrics not available\n",
                             "text/plain; charset=utf-8", request.method == "HEAD")
            return
        body, content_type = self.metrics()
        await self._send(client, 200, body, content_type, request.method == "HEAD")

    async def _entry_stream(self, request: Request, client: Client) -> None:
        """/api/events: the entries of the tracker's --events log as they come
        (server-sent events, resumed after Last-Event-ID).  A live stream is
        not idle; the streams are bounded apart (``Admission``)."""
        head_only = request.method == "HEAD"
        if not head_only:
            client.streaming = True
            client.enter(Phase.STREAMING)
        http = client.http
        head = http.start_stream(200, {**COMMON_HEADERS, "Connection": "close",
                                       "Content-Type": "text/event-stream; charset=utf-8"})
        if head_only:
            await client.write(head + http.end_stream())
            return
        resume = request.headers.get("last-event-id", "")
        last = int(resume) if resume.isdigit() and len(resume) < 19 else 0
        client.writer.write(head + http.stream(b"retry: 2000\n\n"))
        clock = asyncio.get_running_loop().time
        written_s = clock()
        while True:
            change = self._next_change()
            batch = self.feed.entries_after(last)
            if batch:
                client.writer.write(http.stream(b"".join(self._sse_bytes(item)
                                                         for item in batch)))
                last = batch[-1].entry_id
                written_s = clock()
            elif clock() - written_s >= KEEPALIVE_S:
                client.writer.write(http.stream(b": keep-alive\n\n"))
                written_s = clock()
            if client.writer.transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
                return  # not reading: dropped, it reconnects with Last-Event-ID
            await client.drain()
            await self._changed(change, max(0.0, written_s + KEEPALIVE_S - clock()))
            if self._stopped is not None and self._stopped.is_set():
                await client.write(http.end_stream())
                return

    async def _send(self, client: Client, status: int, body: bytes, content_type: str,
                    head_only: bool, extra: dict[str, str] | None = None) -> None:
        headers = {**COMMON_HEADERS, "Content-Type": content_type, **(extra or {})}
        await client.write(client.http.answer(status, headers, body, head_only))


def start_http_server(feed: DashboardFeed, address: str, token: str | None,
                      metrics: MetricsRenderer | None, limits: DashboardLimits,
                      fd_limit: int) -> HttpServer:
    host, port = http_host_port(address)
    if token is None and not is_loopback(host):
        log.warning("the dashboard at %s is open to anyone who can reach it: set a swarm key "
                    "(swarm keygen) to require a token", address)
    server = HttpServer(feed, host, port, token, metrics, limits=limits)
    server.start()
    log.info("dashboard: at most %d connections at once, %d of them event streams (its share "
             "of the open-file limit %d; the peers keep the rest); at the cap, the connection "
             "waiting longest on its client makes room", limits.connections, limits.streams,
             fd_limit)
    return server

