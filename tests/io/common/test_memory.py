"""The allocator is told to keep large freed buffers, where it can be."""

from __future__ import annotations

import platform

import pytest

from swarm.io.common.memory import keep_freed_buffers


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_glibc_takes_the_thresholds() -> None:
    assert keep_freed_buffers()
    assert keep_freed_buffers()  # again: harmless


def test_large_buffers_still_work_after_it() -> None:
    keep_freed_buffers()
    for _ in range(20):
        buffer = bytearray(1 << 20)
        buffer[-1] = 1
        assert sum(buffer) == 1
