"""Bulk writes go out in calls of at most WRITE_BLOCK_BYTES, each ending at
the end of a line."""

from __future__ import annotations

import io

import pytest

from swarm.io.common.write_blocks import WRITE_BLOCK_BYTES, write_lines, write_pieces


class Calls(io.BytesIO):
    """A stream that remembers each write call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bytes] = []

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]
        self.calls.append(chunk)
        return super().write(chunk)


def lines(count: int, width: int) -> bytes:
    return b"".join(b"%0*d\n" % (width - 1, i) for i in range(count))


@pytest.mark.parametrize("data", [
    b"",
    b"one line\n",
    lines(10, 40),
    lines(WRITE_BLOCK_BYTES // 40, 40),  # exactly one block
    lines(WRITE_BLOCK_BYTES // 40 + 1, 40),  # one line more
    lines(50_000, 41),  # several blocks, lines across their bounds
])
def test_every_call_ends_a_line_and_holds_at_most_a_block(data: bytes) -> None:
    stream = Calls()
    write_lines(stream, data)
    assert stream.getvalue() == data
    assert all(call.endswith(b"\n") for call in stream.calls)
    assert all(len(call) <= WRITE_BLOCK_BYTES for call in stream.calls)
    # No more calls than it takes: every call but the last is nearly a full block.
    assert all(len(call) > WRITE_BLOCK_BYTES - 64 for call in stream.calls[:-1])
    assert len(stream.calls) == (0 if not data else max(1, -(-len(data) // WRITE_BLOCK_BYTES)))


def test_a_line_longer_than_a_block_goes_whole_in_one_call() -> None:
    long_line = b"x" * (WRITE_BLOCK_BYTES + 10) + b"\n"
    data = b"short\n" + long_line + b"tail\n"
    stream = Calls()
    write_lines(stream, data)
    assert stream.getvalue() == data
    assert long_line in stream.calls or any(long_line in call for call in stream.calls)
    assert all(call.endswith(b"\n") for call in stream.calls)


@pytest.mark.parametrize("pieces", [
    [],
    [b"one line\n"],
    [b"a\n", b"b\n", b"c\n"],  # small pieces: gathered into one call
    [lines(WRITE_BLOCK_BYTES // 40, 40)] * 3,  # full pieces: one call each
    [lines(3000, 41), lines(5, 41)] * 20,  # pieces that do not add up to a block
    [b"short\n", lines(50_000, 41), b"tail\n"],  # one longer than a block
])
def test_pieces_are_gathered_into_calls_of_at_most_a_block(pieces: list[bytes]) -> None:
    stream = Calls()
    write_pieces(stream, iter(pieces))
    assert stream.getvalue() == b"".join(pieces)
    assert all(call.endswith(b"\n") for call in stream.calls)
    assert all(len(call) <= WRITE_BLOCK_BYTES for call in stream.calls)
    # A call goes out only when the next piece would not fit in it.
    sizes = [len(call) for call in stream.calls]
    assert len(sizes) <= 2 * -(-sum(sizes) // WRITE_BLOCK_BYTES) + 1
    if pieces and sum(sizes) <= WRITE_BLOCK_BYTES:
        assert len(sizes) == 1


def test_a_piece_longer_than_a_block_still_keeps_a_long_line_whole() -> None:
    long_line = b"x" * (WRITE_BLOCK_BYTES + 10) + b"\n"
    stream = Calls()
    write_pieces(stream, [b"short\n", b"more\n" + long_line, b"tail\n"])
    assert stream.getvalue() == b"short\nmore\n" + long_line + b"tail\n"
    assert any(long_line in call for call in stream.calls)
    assert all(call.endswith(b"\n") for call in stream.calls)
