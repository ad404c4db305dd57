"""The exact stdout blocks of the contract (sans-IO).

Blocks are plain records the state machines return; ``render`` turns them
into the contract's text.  ``swarm.io.common.stdout`` writes them, a batch in one
write, so no block is ever split or interleaved.  Diagnostics never come
here: they go to ``logging`` (stderr).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


def _file_lines(peer_id: int, names: Iterable[str]) -> str:
    return "".join(f"{peer_id}{FILE_LINE_INDENT}{name}\n" for name in names)


class _Numbers:
    """The chunk numbers of every ACQUIRED line ("1", "2", "3", ... one per
    line), formatted once per process and sliced per range.  Formatting them
    for each line was most of the tracker's cost of printing (a 64-peer swarm
    of 1 MiB files prints 8 million lines); a slice and a replace cost a
    tenth of that."""

    def __init__(self) -> None:
        self._text = ""
        self._last = 0  # the highest number in _text

    def between(self, first: int, last: int) -> str:
        """The numbers first..last (1-based, inclusive), newline-separated."""
        if last > self._last:
            self._last = max(last, 2 * self._last, 4096)
            self._text = "\n".join(map(str, range(1, self._last + 1)))
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
    if isinstance(block, Acquired):
        # One line per chunk, and a 32 MiB file is 65,536 lines: the numbers
        # of a range come as one slice and the rest of each line is put
        # around them by one replace.
        prefix = f"PEER {block.peer_id} ACQUIRED: CHUNK "
        suffix = f"/{block.total_chunks} {block.name}\n"
        glue = suffix + prefix
        return "".join(
            prefix + _NUMBERS.between(start + 1, end).replace("\n", glue) + suffix
            for start, end in block.ranges
            if end > start
        )
    if isinstance(block, Connect):
        head = f"PEER {block.peer_id} CONNECT: OFFERS {len(block.offers)}\n"
        return head + "".join(
            f"{block.peer_id}{FILE_LINE_INDENT}{name} {chunks}\n" for name, chunks in block.offers
        )
    if isinstance(block, Disconnect):
        head = f"PEER {block.peer_id} DISCONNECT: RECEIVED {len(block.received)}\n"
        return head + _file_lines(block.peer_id, block.received)
    head = f"PEER {block.peer_id} SHUTDOWN: HAS {len(block.holds)}\n"
    return head + _file_lines(block.peer_id, block.holds)
