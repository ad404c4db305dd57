"""The exact stdout blocks of the contract (sans-IO).

Blocks are plain records the state machines return; ``encoded`` turns them
into the contract's text, in pieces of whole lines (``render``: whole).
``swarm.io.common.stdout`` writes them, a batch at a time, from one
thread, so no block is ever interleaved with another or a line cut in two.
Diagnostics never come here: they go to ``logging`` (stderr).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

from swarm.protocol.record import Record

FILE_LINE_INDENT = "    "  # four spaces between the peer id and a file name


class Connect(Record):
    peer_id: int
    offers: Sequence[tuple[str, int]]  # (name, chunk count), sorted by name


class Acquired(Record):
    peer_id: int
    name: str
    total_chunks: int
    ranges: Sequence[tuple[int, int]]  # 0-based [start, end)
    # Kept from the peer's earlier run and shown as it joins, rather than
    # fetched: not printed, but tools (--events) want it.
    brought: bool = False


class Disconnect(Record):
    peer_id: int
    received: Sequence[str]  # sorted
    reason: str = "goodbye"  # or "expired"; not printed, but tools (--events) want it


class Shutdown(Record):
    peer_id: int
    holds: Sequence[str]  # sorted


Block = Connect | Acquired | Disconnect | Shutdown


def _file_lines(peer_id: int, names: Iterable[str]) -> Iterator[str]:
    return (f"{peer_id}{FILE_LINE_INDENT}{name}\n" for name in names)


class _Numbers:
    """The chunk numbers of every ACQUIRED line ("1", "2", "3", ... one per
    line), formatted once per process and sliced per range.  Formatting them
    for each line was most of the tracker's cost of printing (a 64-peer swarm
    of 1 MiB files prints 8 million lines); a slice and a replace cost a
    tenth of that."""

    def __init__(self) -> None:
        self._text = b""
        self._last = 0  # the highest number in _text

    def between(self, first: int, last: int) -> bytes:
        """The numbers first..last (1-based, inclusive), newline-separated."""
        if last > self._last:
            self._last = max(last, 2 * self._last, 4096)
            self._text = b"\n".join(b"%d" % n for n in range(1, self._last + 1))
        return self._text[_offset(first):_offset(last) + len(str(last))]


def _offset(number: int) -> int:
    """Where ``number`` starts in the text of ``_Numbers``: the widths of the
    numbers before it, each plus its newline, counted by digit count."""
    offset = 0
    width = 1
    low = 1  # the smallest number of this width
    while number >= low * 10:
        offset += 9 * low * (width + 1)
        width += 1
        low *= 10
    return offset + (number - low) * (width + 1)


_NUMBERS = _Numbers()


def render(block: Block) -> str:
    """A block's text, whole."""
    return b"".join(encoded(block, 1 << 20)).decode("utf-8")


def encoded(block: Block, max_bytes: int) -> Iterator[bytes]:
    """A block's text in UTF-8, in pieces of whole lines of at most
    ``max_bytes`` each (a longer line alone in its piece).

    A batch of a 64-peer swarm holds megabytes of ACQUIRED lines: made
    whole, each batch's text (and each copy of it) is a buffer larger than
    the C allocator keeps for reuse, on pages faulted in afresh -- most of
    what printing cost the tracker.  Pieces of a bounded size reuse the
    same few buffers, batch after batch.
    """
    if isinstance(block, Acquired):
        yield from _acquired(block, max_bytes)
        return
    if isinstance(block, Connect):
        head = f"PEER {block.peer_id} CONNECT: OFFERS {len(block.offers)}\n"
        lines: Iterable[str] = (f"{block.peer_id}{FILE_LINE_INDENT}{name} {chunks}\n"
                                for name, chunks in block.offers)
    elif isinstance(block, Disconnect):
        head = f"PEER {block.peer_id} DISCONNECT: RECEIVED {len(block.received)}\n"
        lines = _file_lines(block.peer_id, block.received)
    else:
        head = f"PEER {block.peer_id} SHUTDOWN: HAS {len(block.holds)}\n"
        lines = _file_lines(block.peer_id, block.holds)
    yield from _gathered(itertools.chain((head,), lines), max_bytes)


def _acquired(block: Acquired, max_bytes: int) -> Iterator[bytes]:
    # One line per chunk, and a 32 MiB file is 65,536 lines: the numbers of
    # a run of lines come as one slice and the rest of each line is put
    # around them by one replace.
    prefix = f"PEER {block.peer_id} ACQUIRED: CHUNK ".encode()
    suffix = f"/{block.total_chunks} {block.name}\n".encode()
    glue = suffix + prefix
    longest = len(prefix) + len(str(block.total_chunks)) + len(suffix)
    lines_per_piece = max(1, max_bytes // longest)
    for start, end in block.ranges:
        for first in range(start, end, lines_per_piece):
            last = min(end, first + lines_per_piece)
            yield b"".join((prefix, _NUMBERS.between(first + 1, last).replace(b"\n", glue),
                            suffix))


def _gathered(lines: Iterable[str], max_bytes: int) -> Iterator[bytes]:
    """Lines, encoded and gathered into pieces of at most ``max_bytes``."""
    piece: list[bytes] = []
    size = 0
    for line in lines:
        data = line.encode()
        if piece and size + len(data) > max_bytes:
            yield b"".join(piece)
            piece.clear()
            size = 0
        piece.append(data)
        size += len(data)
    if piece:
        yield b"".join(piece)

