"""The only writer of a tracker's and a peer's stdout: whole blocks of the
contract, one batch at a time, in writes that end at the end of a line.
(The other commands -- the paths `swarm get` placed, ls, who, status,
config... -- print their own output, in swarm/cli.)"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import sys
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import BinaryIO

from swarm.io.common.write_blocks import WRITE_BLOCK_BYTES, write_pieces
from swarm.protocol.display import Block, encoded

log = logging.getLogger("swarm.display")


class StdoutWriter:
    """Writes whole blocks to a binary stream, a batch at a time (in calls
    of at most WRITE_BLOCK_BYTES, each ending at the end of a line)."""

    def __init__(self, stream: BinaryIO | None = None,
                 around: Callable[[], AbstractContextManager[None]] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._broken = False
        # Wraps each write: a live area on the same terminal steps aside.
        self._around = around or contextlib.nullcontext

    def write(self, blocks: Iterable[Block]) -> None:
        if self._broken:
            return
        # Rendered as written, a piece at a time: a batch of a wide swarm is
        # megabytes of lines, which made whole would land on fresh pages.
        pieces = (piece for block in blocks for piece in encoded(block, WRITE_BLOCK_BYTES))
        first = next(pieces, None)
        if first is None:
            return
        try:
            with self._around():
                write_pieces(self._stream, itertools.chain((first,), pieces))
                self._stream.flush()
        except BrokenPipeError:
            # Nobody reads stdout any more; keep serving, but stop writing.
            self._broken = True
            log.warning("stdout is closed; contract lines are no longer written")
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._stream.fileno())
            except (OSError, ValueError):
                pass
