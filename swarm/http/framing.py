"""One connection's HTTP/1.1, server side, pure: bytes in, a ``Request`` or
an ``HttpError`` out; answers in, bytes out.

h11 does the framing (request lines, header lines, bodies, keep-alive,
chunked streams); on top of it go our limits, which h11 does not tell
apart (a request line over 8 KiB is 414, header fields over their bounds
431), and the rules of ``swarm.http.request``.  No sockets here: the
server reads and writes, this decides.
"""

from __future__ import annotations

import h11

from swarm.http.request import (
    ALLOWED_METHODS,
    MAX_HEAD_BYTES,
    MAX_REQUEST_LINE_BYTES,
    REASONS,
    HttpError,
    Request,
    request_from,
)

# What h11 may buffer of an unfinished head: the request line and the header
# lines at their limits, each with its line end, and the blank line.
MAX_BUFFERED_HEAD_BYTES = MAX_REQUEST_LINE_BYTES + MAX_HEAD_BYTES + 4


class HttpConnection:
    """The server's side of one connection, request after request."""

    def __init__(self) -> None:
        self._h11 = h11.Connection(h11.SERVER,
                                   max_incomplete_event_size=MAX_BUFFERED_HEAD_BYTES)
        self._line_bytes = 0  # of the request line so far, until its line end
        self._line_done = False
        self.started = False  # a byte of the current request has come

    def receive(self, data: bytes) -> Request | None:
        """Take what the client sent (``b""``: it closed its side); a
        request once its head is whole, else None.  Raises ``HttpError``
        for a request that gets an error answer."""
        if not self._line_done and data:
            data = self._request_line(data)
            if not data:
                return None
        self._h11.receive_data(data)
        return self.next_request()

    def next_request(self) -> Request | None:
        """A request already received whole (sent behind the last one), or None."""
        try:
            event = self._h11.next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:  # its buffer full: the head is too long
                raise HttpError(431, "request header fields too large") from None
            raise HttpError(400, "malformed request") from None
        if not isinstance(event, h11.Request):
            return None  # more is needed, or the client closed between requests
        request = request_from(event.method, event.target, event.http_version,
                               event.headers.raw_items())
        if request.method in ALLOWED_METHODS:
            # Served, so without a body (request_from refuses one): the
            # request is over, and h11 says so at once.
            ended = self._h11.next_event()
            assert isinstance(ended, h11.EndOfMessage), ended
        # Any other method is answered 405 and the connection closed, its
        # body (if any) left unread.
        return request

    def _request_line(self, data: bytes) -> bytes:
        """``data`` less the empty lines before a request (RFC 9112 2.2: a
        server ignores them), counting the request line against its limit."""
        if not self.started:
            data = data.lstrip(b"\r\n")
            if not data:
                return b""
            self.started = True
        line_end = data.find(b"\n")
        self._line_bytes += len(data) if line_end < 0 else line_end + 1
        if self._line_bytes > MAX_REQUEST_LINE_BYTES + 2:
            raise HttpError(414, "request line too long")
        self._line_done = line_end >= 0
        return data

    def answer(self, status: int, headers: dict[str, str], body: bytes = b"",
               head_only: bool = False) -> bytes:
        """A whole answer: ``body`` after ``headers`` (Content-Length given
        here), none for a HEAD request."""
        out = self._head(status, {**headers, "Content-Length": str(len(body))})
        if body and not head_only:
            out += self._send(h11.Data(data=body))
        return out + self._send(h11.EndOfMessage())

    def start_stream(self, status: int, headers: dict[str, str]) -> bytes:
        """The head of an answer of unknown length (chunked for HTTP/1.1
        clients; for HTTP/1.0 ones, ended by closing); ``stream`` then
        frames each part, ``end_stream`` ends it."""
        return self._head(status, headers)

    def stream(self, data: bytes) -> bytes:
        return self._send(h11.Data(data=data)) if data else b""

    def end_stream(self) -> bytes:
        """The end of a stream's answer; nothing once it has ended."""
        if self._h11.our_state is not h11.SEND_BODY:
            return b""
        return self._send(h11.EndOfMessage())

    def next_cycle(self) -> bool:
        """After an answer: ready for the connection's next request (True),
        or the connection must close (the client or the answer said so, an
        HTTP/1.0 client, a body left unread)."""
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            # A request sent behind the last one is already under way (its
            # request line h11's to bound, with the rest of its head).
            self.started = bool(self._h11.trailing_data[0])
            self._line_bytes, self._line_done = 0, self.started
            return True
        return False

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        reason = REASONS.get(status, "Error").encode("ascii")
        return self._send(h11.Response(status_code=status, reason=reason,
                                       headers=list(headers.items())))

    def _send(self, event: h11.Response | h11.Data | h11.EndOfMessage) -> bytes:
        sent = self._h11.send(event)
        assert sent is not None  # None only for ConnectionClosed, never sent here
        return sent
