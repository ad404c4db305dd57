"""The exact stdout blocks of the contract (sans-IO).

Blocks are plain records the state machines return; ``render`` turns them
into the contract's text.  ``swarm.io.stdout`` writes them, a batch in one
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


def render(block: Block) -> str:
    if isinstance(block, Acquired):
        # One line per chunk, and a 32 MiB file is 65,536 lines: the numbers
        # of a range are joined once and the rest of each line put around
        # them by one replace (a quarter faster than formatting each line).
        prefix = f"PEER {block.peer_id} ACQUIRED: CHUNK "
        suffix = f"/{block.total_chunks} {block.name}\n"
        glue = suffix + prefix
        return "".join(
            prefix + "\n".join(map(str, range(start + 1, end + 1))).replace("\n", glue) + suffix
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
