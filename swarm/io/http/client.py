"""One connection to the dashboard's server: its stream, its HTTP framing
(``swarm.http.framing``), its place in the server's table of connections
(``swarm.http.admission``), and how it is closed to make room."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from swarm.http.admission import Admission, Phase
from swarm.http.framing import HttpConnection

log = logging.getLogger("swarm.http")

WRITE_TIMEOUT_S = 10.0  # a client that stops reading is dropped after this long
READ_BYTES = 16 << 10  # read at a time; h11 holds at most a head's worth beyond it
FULL_REPORT_EVERY_S = 10.0  # while the server is full, one line per this long
COMMON_HEADERS = {
    # Scripts and styles come from the tracker only; the token in a page's
    # URL is never sent on as a Referer.
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'",
    "Cache-Control": "no-store",
}


class Client:
    """A connection, with what the server needs to close it for another."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 table: Admission[Client]) -> None:
        self.reader = reader
        self.writer = writer
        self.table = table
        self.http = HttpConnection()
        self.task = asyncio.current_task()
        self.reading_head = False  # a half-sent head is told 408 when it makes room
        self.streaming = False

    async def read(self) -> bytes:
        return await self.reader.read(READ_BYTES)

    def enter(self, phase: Phase) -> None:
        ended = self.table.enter(self, phase, asyncio.get_running_loop().time())
        if ended is not None:
            ended.make_room()

    def make_room(self) -> None:
        """Closed for another connection, at once: a half-sent head is told
        408, an event stream is ended as a stream ends; then the connection
        is closed and its handler stopped (it is out of the table already)."""
        transport = self.writer.transport
        if not transport.is_closing():
            if self.streaming:
                transport.write(self.http.end_stream())
            elif self.reading_head and self.http.started:
                transport.write(self.http.answer(408, {**COMMON_HEADERS, "Connection": "close",
                                                       "Content-Type": "text/plain"},
                                                 b"closed for another connection\n"))
            if transport.get_write_buffer_size():  # not reading: nothing to wait for
                transport.abort()
            else:
                transport.close()
        if self.task is not None:
            self.task.cancel()

    async def write(self, data: bytes) -> None:
        """Write, and wait while the client reads it; a client that does not
        read is waited on, like one that does not send, and may be closed
        for room (an event stream is bounded otherwise)."""
        self.writer.write(data)
        _, high = self.writer.transport.get_write_buffer_limits()
        if self.streaming or self.writer.transport.get_write_buffer_size() <= high:
            await self.drain()
            return
        self.enter(Phase.WAITING)
        await self.drain()
        self.enter(Phase.ANSWERING)

    async def drain(self) -> None:
        async with asyncio.timeout(WRITE_TIMEOUT_S):
            await self.writer.drain()


class FullReport:
    """What the server did while full, said at info level at most every
    FULL_REPORT_EVERY_S: connections closed for room, and refused."""

    def __init__(self) -> None:
        self.made_room = 0
        self.refused = 0
        self._next_report_s = 0.0

    def note(self, made_room: bool, connections: int, now_s: float) -> None:
        if made_room:
            self.made_room += 1
        else:
            self.refused += 1
        if now_s < self._next_report_s:
            return
        log.info("the dashboard is full (%d connections): %d closed to make room for new ones "
                 "(they waited longest), %d refused (none waiting)", connections,
                 self.made_room, self.refused)
        self.made_room = self.refused = 0
        self._next_report_s = now_s + FULL_REPORT_EVERY_S


async def linger(reader: asyncio.StreamReader, seconds: float, most_bytes: int) -> None:
    """Read and drop what the client still sends, for ``seconds`` or
    ``most_bytes`` at most."""
    dropped = 0
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(seconds):
            while dropped < most_bytes:
                chunk = await reader.read(64 << 10)
                if not chunk:
                    break
                dropped += len(chunk)
