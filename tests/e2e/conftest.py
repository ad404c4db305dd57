from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Swarm


@pytest.fixture
def swarm(tmp_path: Path) -> Iterator[Swarm]:
    """A swarm under a temporary folder; every process it started is killed
    (by process group) when the test ends, whatever happened."""
    s = Swarm(tmp_path)
    try:
        yield s
    finally:
        s.cleanup()
