"""The allocator is told to keep large freed buffers, where it can be; the
cycle collector runs less often and skips what the imports made."""

from __future__ import annotations

import gc
import platform
from collections.abc import Iterator

import pytest

from swarm.io.common.memory import YOUNG_COLLECTION_ALLOCATIONS, collect_less, keep_freed_buffers


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


@pytest.fixture
def collector_restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("collector_restored")
def test_the_collector_sets_the_start_aside_and_runs_less_often() -> None:
    _, older, oldest = gc.get_threshold()
    collect_less()
    assert gc.get_freeze_count() > 1000  # the modules' objects
    assert gc.get_threshold() == (YOUNG_COLLECTION_ALLOCATIONS, older, oldest)
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1  # cycles made since are still collected
