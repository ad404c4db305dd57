"""The writer that keeps the contract's blocks whole on stdout."""

from __future__ import annotations

import io

import pytest

from swarm.io.common.stdout import StdoutWriter
from swarm.protocol.display import Acquired, Block, Connect, Disconnect, Shutdown, render


class RecordingStream:
    """A binary stream that records each write() call, and can play a closed pipe."""

    def __init__(self, broken_on: str | None = None) -> None:
        self.writes: list[bytes] = []
        self.flushes = 0
        self.broken_on = broken_on  # "write" or "flush": raise BrokenPipeError there

    def write(self, data: bytes) -> int:
        if self.broken_on == "write":
            raise BrokenPipeError
        self.writes.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        self.flushes += 1
        if self.broken_on == "flush":
            raise BrokenPipeError

    def fileno(self) -> int:
        # No real descriptor: the writer must not redirect one of ours.
        raise io.UnsupportedOperation("fileno")


# --- rendering ---------------------------------------------------------------------


def test_writer_writes_a_batch_in_one_call() -> None:
    stream = RecordingStream()
    writer = StdoutWriter(stream)  # type: ignore[arg-type]
    blocks: list[Block] = [
        Connect(1, [("a", 1)]),
        Acquired(2, "a", 1, [(0, 1)]),
        Disconnect(2, ["a"]),
    ]
    writer.write(blocks)
    assert stream.writes == ["".join(render(b) for b in blocks).encode("utf-8")]
    assert stream.flushes >= 1


def test_writer_encodes_utf8() -> None:
    stream = RecordingStream()
    StdoutWriter(stream).write([Shutdown(1, ["日本"])])  # type: ignore[arg-type]
    assert stream.writes == ["PEER 1 SHUTDOWN: HAS 1\n1    日本\n".encode()]


def test_writer_skips_an_empty_batch() -> None:
    stream = RecordingStream()
    writer = StdoutWriter(stream)  # type: ignore[arg-type]
    writer.write([])
    writer.write([Acquired(1, "f", 3, [])])
    assert stream.writes == []


@pytest.mark.parametrize("broken_on", ["write", "flush"])
def test_writer_survives_a_broken_pipe(broken_on: str) -> None:
    stream = RecordingStream(broken_on=broken_on)
    writer = StdoutWriter(stream)  # type: ignore[arg-type]
    writer.write([Connect(1, [])])  # must not raise
    stream.broken_on = None
    writes_before = len(stream.writes)
    writer.write([Connect(2, [])])
    # Once the reader is gone, nothing more is written.
    assert len(stream.writes) == writes_before
