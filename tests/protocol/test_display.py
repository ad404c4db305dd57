"""The exact stdout blocks of the contract."""

from __future__ import annotations

import re

import pytest

from swarm.protocol.display import (
    FILE_LINE_INDENT,
    Acquired,
    Block,
    Connect,
    Disconnect,
    Shutdown,
    encoded,
    render,
)

# A file line as the contract has it: the id, exactly four spaces, the rest.
FILE_LINE = re.compile(r"^\d+ {4}\S")


def test_connect_lists_offers_with_chunk_counts() -> None:
    block = Connect(3, [("a.txt", 2), ("b c.bin", 0), ("é ü 日本.txt", 65536)])
    assert render(block) == (
        "PEER 3 CONNECT: OFFERS 3\n"
        "3    a.txt 2\n"
        "3    b c.bin 0\n"
        "3    é ü 日本.txt 65536\n"
    )


def test_connect_with_no_offers() -> None:
    assert render(Connect(1, [])) == "PEER 1 CONNECT: OFFERS 0\n"


def test_acquired_numbers_chunks_from_one() -> None:
    assert render(Acquired(2, "f.bin", 10, [(0, 1)])) == "PEER 2 ACQUIRED: CHUNK 1/10 f.bin\n"
    assert render(Acquired(2, "f.bin", 10, [(9, 10)])) == "PEER 2 ACQUIRED: CHUNK 10/10 f.bin\n"


def test_acquired_with_several_ranges() -> None:
    block = Acquired(12, "my file.txt", 10, [(0, 2), (5, 6), (8, 10)])
    assert render(block) == (
        "PEER 12 ACQUIRED: CHUNK 1/10 my file.txt\n"
        "PEER 12 ACQUIRED: CHUNK 2/10 my file.txt\n"
        "PEER 12 ACQUIRED: CHUNK 6/10 my file.txt\n"
        "PEER 12 ACQUIRED: CHUNK 9/10 my file.txt\n"
        "PEER 12 ACQUIRED: CHUNK 10/10 my file.txt\n"
    )


def test_acquired_with_no_chunks_prints_nothing() -> None:
    assert render(Acquired(1, "f", 4, [])) == ""
    assert render(Acquired(1, "f", 4, [(2, 2)])) == ""


def test_acquired_prints_one_line_per_chunk_of_a_large_file() -> None:
    text = render(Acquired(7, "big.iso", 65536, [(0, 65536)]))
    lines = text.splitlines()
    assert len(lines) == 65536
    assert lines[0] == "PEER 7 ACQUIRED: CHUNK 1/65536 big.iso"
    assert lines[-1] == "PEER 7 ACQUIRED: CHUNK 65536/65536 big.iso"
    assert text.endswith("\n")


@pytest.mark.parametrize("ranges", [
    [(0, 1)], [(8, 9)], [(9, 10)], [(0, 10)], [(98, 1003)], [(5, 7), (9, 99_999)],
    [(99_999, 100_001)], [(4095, 4097)], [(0, 4096), (4096, 9000)],
])
def test_acquired_numbers_across_digit_widths(ranges: list[tuple[int, int]]) -> None:
    # Lines for ranges that cross a digit width (9 -> 10, 99_999 -> 100_000)
    # or the end of the numbers formatted so far, against the lines built one
    # by one: the sliced numbers must never be off by a character.
    text = render(Acquired(3, "x", 200_000, ranges))
    assert text.splitlines() == [f"PEER 3 ACQUIRED: CHUNK {n + 1}/200000 x"
                                 for start, end in ranges for n in range(start, end)]


def test_disconnect_lists_received_files() -> None:
    assert render(Disconnect(4, ["a", "b b"])) == (
        "PEER 4 DISCONNECT: RECEIVED 2\n"
        "4    a\n"
        "4    b b\n"
    )
    assert render(Disconnect(4, [])) == "PEER 4 DISCONNECT: RECEIVED 0\n"


def test_shutdown_lists_held_files() -> None:
    assert render(Shutdown(5, ["empty", "x.txt"])) == (
        "PEER 5 SHUTDOWN: HAS 2\n"
        "5    empty\n"
        "5    x.txt\n"
    )
    assert render(Shutdown(5, [])) == "PEER 5 SHUTDOWN: HAS 0\n"


@pytest.mark.parametrize(
    "block",
    [
        Connect(10, [("a", 1), ("b", 2)]),
        Disconnect(10, ["a", "b"]),
        Shutdown(10, ["a", "b"]),
    ],
    ids=["connect", "disconnect", "shutdown"],
)
def test_file_lines_use_exactly_four_spaces(block: Block) -> None:
    assert FILE_LINE_INDENT == "    "
    head, *file_lines = render(block).splitlines()
    assert head.startswith("PEER 10 ")
    assert len(file_lines) == 2
    for line in file_lines:
        assert FILE_LINE.match(line), line
        assert line.startswith("10    ") and not line.startswith("10     ")


# --- the writer ----------------------------------------------------------------------------


@pytest.mark.parametrize("block", [
    Acquired(7, "big.iso", 65536, [(0, 65536)]),
    Acquired(3, "x", 200_000, [(5, 7), (9, 99_999), (150_000, 150_001)]),
    Acquired(2, "naïve ü.bin", 10_000, [(0, 10_000)]),  # bytes, not characters, count
    Connect(1, [(f"file-{n:05}.bin", n) for n in range(20_000)]),
    Disconnect(4, [f"f{n}" for n in range(30_000)]),
    Shutdown(5, []),
])
@pytest.mark.parametrize("max_bytes", [1, 100, 4096, 256 << 10])
def test_encoded_pieces_are_whole_lines_of_bounded_size(block: Block, max_bytes: int) -> None:
    pieces = list(encoded(block, max_bytes))
    assert b"".join(pieces).decode("utf-8") == render(block)
    assert all(piece.endswith(b"\n") for piece in pieces)
    for piece in pieces:
        # Over the bound only as one line that is longer by itself.
        assert len(piece) <= max_bytes or piece.count(b"\n") == 1


def test_encoded_pieces_are_as_large_as_the_bound_allows() -> None:
    # A 32 MiB file's lines in 256 KiB pieces: a few dozen pieces, not a
    # piece per line (each is a write, and each a buffer).
    pieces = list(encoded(Acquired(7, "big.iso", 65536, [(0, 65536)]), 256 << 10))
    # (Pieces are counted in lines of the longest number: shorter numbers
    # leave a few percent of a piece unused.)
    assert all(len(piece) > 0.9 * (256 << 10) for piece in pieces[:-1])
    assert len(pieces) <= 1.1 * sum(len(piece) for piece in pieces) / (256 << 10) + 1
