"""How much goes into the page cache per write call, for everything swarm
writes in bulk: the data of downloads and the tracker's stdout.

A larger write lets the kernel back it with large folios, which on a
machine that hands free memory back to its host (virtio-balloon free page
reporting, common in VMs) come from cold memory the host must supply
afresh: 600 MiB written as 1 MiB calls took 0.8-1.0 s of CPU, as 512 KiB
calls 0.35-0.63 s, as 256 KiB calls 0.13-0.16 s (fresh files, 3 s apart,
on the 2-core VM the benchmarks run on).  A system call per 256 KiB costs
nothing next to that, and nothing on a machine without the effect.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

WRITE_BLOCK_BYTES = 256 << 10


def write_lines(stream: BinaryIO, data: bytes) -> None:
    """Write ``data`` in calls of at most WRITE_BLOCK_BYTES, each ending at
    the end of a line, so a reader never sees a line cut in two by us."""
    view = memoryview(data)
    start = 0
    while len(data) - start > WRITE_BLOCK_BYTES:
        end = data.rfind(b"\n", start, start + WRITE_BLOCK_BYTES) + 1
        if end <= start:  # a line longer than a block: it goes in one piece
            end = data.find(b"\n", start + WRITE_BLOCK_BYTES) + 1 or len(data)
        stream.write(view[start:end])
        start = end
    if start < len(data):
        stream.write(view[start:])


def write_pieces(stream: BinaryIO, pieces: Iterable[bytes]) -> None:
    """Write pieces of whole lines, gathered into calls of at most
    WRITE_BLOCK_BYTES (a longer piece goes by ``write_lines``), so a
    reader never sees a line cut in two by us."""
    held: list[bytes] = []
    size = 0
    for piece in pieces:
        if held and size + len(piece) > WRITE_BLOCK_BYTES:
            stream.write(held[0] if len(held) == 1 else b"".join(held))
            held.clear()
            size = 0
        if len(piece) > WRITE_BLOCK_BYTES:
            write_lines(stream, piece)
            continue
        held.append(piece)
        size += len(piece)
    if held:
        stream.write(held[0] if len(held) == 1 else b"".join(held))
