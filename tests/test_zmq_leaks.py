"""The leak check of tests/conftest.py catches what it is there to catch: a
check that cannot fail is worse than none."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq

from tests.conftest import check_zmq_leaks

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parent / "conftest.py"


def test_a_socket_left_open_is_a_leak() -> None:
    kept: list[zmq.Socket[bytes]] = []

    def leaky() -> None:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        kept.append(ctx.socket(zmq.DEALER))  # and the context is not terminated

    leaks = check_zmq_leaks(leaky)
    assert len(leaks) == 2, leaks
    assert "a DEALER socket made at" in leaks[0] and "still open" in leaks[0]
    assert "test_zmq_leaks.py" in leaks[0] and "(leaky)" in leaks[0]
    assert "a context made at" in leaks[1] and "never terminated" in leaks[1]
    assert kept[0].closed, "the check closes what it found open"


def test_a_context_not_terminated_is_a_leak() -> None:
    def leaky() -> None:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        ctx.socket(zmq.PUB).close()

    (leak,) = check_zmq_leaks(leaky)
    assert "a context made at" in leak and "never terminated" in leak


def test_a_monitor_socket_left_open_is_a_leak() -> None:
    def leaky() -> None:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sock = ctx.socket(zmq.SUB)
        sock.get_monitor_socket()
        sock.disable_monitor()  # this does not close the monitor's PAIR socket
        sock.close()  # (and ctx.term() would wait for the PAIR socket for ever)

    leaks = check_zmq_leaks(leaky)
    assert len(leaks) == 2, leaks
    assert "a PAIR socket made at" in leaks[0] and "still open" in leaks[0]
    assert "never terminated" in leaks[1]


def test_what_is_closed_and_terminated_is_no_leak() -> None:
    def clean() -> None:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sock = ctx.socket(zmq.ROUTER)
        sock.bind_to_random_port("tcp://127.0.0.1")
        sock.close(linger=0)
        ctx.term()
        with zmq.Context() as other:  # destroy() on exit closes its sockets
            other.socket(zmq.PAIR)

    assert check_zmq_leaks(clean) == []


def test_the_autouse_fixture_fails_a_leaking_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_sample='''
        import zmq

        kept = []

        def test_leaks_a_socket():
            ctx = zmq.Context()
            kept.append(ctx.socket(zmq.REQ))
            kept.append(ctx)

        def test_forgets_a_context():
            kept.append(zmq.Context())

        def test_cleans_up():
            ctx = zmq.Context()
            ctx.socket(zmq.REP).close()
            ctx.term()

        def test_without_zmq():
            pass
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_leaks_a_socket*",
        "*the test leaked ZeroMQ resources:",
        "*a REQ socket made at *test_sample.py:7 (test_leaks_a_socket), still open",
        "*a context made at *test_sample.py:6 (test_leaks_a_socket), never terminated",
    ])
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_forgets_a_context*",
        "*a context made at *test_sample.py:11 (test_forgets_a_context), never terminated",
    ])
