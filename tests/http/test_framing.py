"""A connection's HTTP/1.1 framing (h11 under our limits), without sockets:
bytes in, requests and errors out; answers in, bytes out."""

from __future__ import annotations

import pytest

from swarm.http.framing import HttpConnection
from swarm.http.request import MAX_REQUEST_LINE_BYTES, HttpError, Request

GET = b"GET /api/status HTTP/1.1\r\nHost: localhost\r\n\r\n"


def answered(connection: HttpConnection, body: bytes = b"{}") -> bytes:
    return connection.answer(200, {"Content-Type": "application/json"}, body)


def test_a_head_sent_a_byte_at_a_time_is_read_once_whole() -> None:
    connection = HttpConnection()
    assert not connection.started
    for byte in GET[:-1]:
        assert connection.receive(bytes([byte])) is None
        assert connection.started
    request = connection.receive(GET[-1:])
    assert request == Request("GET", "/api/status", {}, {"host": "localhost"})


def test_an_answer_has_its_length_and_none_for_head() -> None:
    connection = HttpConnection()
    connection.receive(GET)
    wire = answered(connection, b'{"a":1}')
    assert wire.startswith(b"HTTP/1.1 200 OK\r\n") and wire.endswith(b"\r\n\r\n{\"a\":1}")
    assert b"Content-Length: 7\r\n" in wire and b"Connection" not in wire  # kept alive
    head_request = HttpConnection()
    head_request.receive(b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    wire = head_request.answer(200, {}, b"body", head_only=True)
    assert wire.endswith(b"Content-Length: 4\r\n\r\n")


def test_a_kept_alive_connection_serves_request_after_request() -> None:
    connection = HttpConnection()
    assert connection.receive(GET) is not None
    answered(connection)
    assert connection.next_cycle() and not connection.started
    assert connection.receive(GET) is not None
    answered(connection)
    assert connection.next_cycle()


def test_a_request_sent_behind_another_waits_its_turn() -> None:
    connection = HttpConnection()
    first = connection.receive(GET + GET.replace(b"/api/status", b"/metrics"))
    assert first is not None and first.path == "/api/status"
    answered(connection)
    assert connection.next_cycle() and connection.started
    second = connection.next_request()
    assert second is not None and second.path == "/metrics"


@pytest.mark.parametrize("request_bytes", [
    b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
])
def test_a_client_that_says_close_or_speaks_http_1_0_is_not_kept(request_bytes: bytes) -> None:
    connection = HttpConnection()
    assert connection.receive(request_bytes) is not None
    assert b"Connection: close\r\n" in answered(connection)
    assert not connection.next_cycle()


def test_an_error_answer_closes_the_connection() -> None:
    connection = HttpConnection()
    with pytest.raises(HttpError):
        connection.receive(b"GET / HTTP/1.1\r\nno colon\r\n\r\n")
    wire = connection.answer(400, {"Connection": "close"}, b"bad\n")
    assert wire.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert not connection.next_cycle()


def test_a_method_we_do_not_serve_leaves_its_body_unread_and_the_connection_closes() -> None:
    connection = HttpConnection()
    request = connection.receive(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    assert request is not None and request.method == "POST"
    connection.answer(405, {"Allow": "GET, HEAD", "Connection": "close"})
    assert not connection.next_cycle()


def test_a_request_line_is_too_long_before_it_ends() -> None:
    connection = HttpConnection()
    connection.receive(b"GET /" + b"a" * (MAX_REQUEST_LINE_BYTES - 20))
    with pytest.raises(HttpError) as caught:
        connection.receive(b"a" * 100)  # still no line end
    assert caught.value.status == 414
    # The answer can still be sent.
    assert connection.answer(414, {"Connection": "close"}).startswith(b"HTTP/1.1 414 ")


def test_a_head_of_its_whole_limit_is_read() -> None:
    line = b"GET /" + b"a" * (MAX_REQUEST_LINE_BYTES - 20) + b" HTTP/1.1\r\n"
    headers = b"Host: localhost\r\n" + b"X-Big: " + b"x" * 15_000 + b"\r\n\r\n"
    request = HttpConnection().receive(line + headers)
    assert request is not None and len(request.path) == MAX_REQUEST_LINE_BYTES - 19


def test_empty_lines_before_a_request_are_not_its_start() -> None:
    connection = HttpConnection()
    assert connection.receive(b"\r\n\r\n") is None and not connection.started
    assert connection.receive(GET) is not None


def test_a_stream_is_chunked_for_http_1_1_and_ended_by_closing_for_http_1_0() -> None:
    connection = HttpConnection()
    connection.receive(b"GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
    head = connection.start_stream(200, {"Content-Type": "text/event-stream",
                                         "Connection": "close"})
    assert b"Transfer-Encoding: chunked\r\n" in head
    assert connection.stream(b"data: 1\n\n") == b"9\r\ndata: 1\n\n\r\n"
    assert connection.stream(b"") == b""
    assert connection.end_stream() == b"0\r\n\r\n"
    assert connection.end_stream() == b""  # ended once, however often asked
    old = HttpConnection()
    old.receive(b"GET /api/events HTTP/1.0\r\n\r\n")
    assert b"Transfer-Encoding" not in old.start_stream(200, {"Connection": "close"})
    assert old.stream(b"data: 1\n\n") == b"data: 1\n\n"
    assert not old.next_cycle()


def test_a_client_that_closes_between_requests_is_no_error() -> None:
    connection = HttpConnection()
    assert connection.receive(b"") is None
