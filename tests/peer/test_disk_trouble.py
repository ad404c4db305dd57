"""DiskTrouble: when to try a refused write again, and what is said."""

from __future__ import annotations

import errno

from swarm.peer.actions import WritePiece
from swarm.peer.disk_trouble import FIRST_RETRY_S, MAX_RETRY_S, RELAPSE_WINDOW_S, DiskTrouble
from swarm.protocol.output import Level, Outbox
from tests.peer.said import levels, said

FULL = OSError(errno.ENOSPC, "No space left on device")


def test_the_delay_doubles_up_to_its_cap() -> None:
    out = Outbox()
    trouble = DiskTrouble(out)
    assert not trouble.paused and not trouble.due(0.0)
    delays = []
    now = 0.0
    for _ in range(8):
        trouble.failed(FULL, now)
        delays.append(trouble.delay_s)
        now = trouble.retry_at_s
        assert trouble.due(now) and not trouble.due(now - 0.01)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, MAX_RETRY_S, MAX_RETRY_S, MAX_RETRY_S]
    actions = out.take()
    assert levels(actions).count(Level.ERROR) == 1, "said once at error level, then counted"
    assert "(8 failed tries)" in said(actions)[-1]


def test_a_relapse_soon_after_a_recovery_is_the_same_trouble() -> None:
    out = Outbox()
    trouble = DiskTrouble(out)
    trouble.excused.update({"a", "b"})
    trouble.failed(FULL, 0.0)
    trouble.failed(FULL, 1.0)
    assert trouble.recovered(3.0) == ["a", "b"]
    assert not trouble.paused and trouble.excused == set()
    trouble.failed(FULL, 5.0)  # the disk hovers at full
    assert trouble.delay_s == 4.0, "the delay goes on from where it was"
    actions = out.take()
    assert levels(actions).count(Level.ERROR) == 1
    assert any("takes writes again" in line for line in said(actions))
    # Long after a recovery, a new trouble starts afresh, and is said again.
    trouble.recovered(6.0)
    out.take()
    trouble.failed(FULL, 6.0 + RELAPSE_WINDOW_S)
    assert trouble.delay_s == FIRST_RETRY_S
    assert levels(out.take()) == [Level.ERROR]


def refused_twice(digest: bytes) -> DiskTrouble:
    """A trouble that keeps a piece and a placement of one download."""
    trouble = DiskTrouble(Outbox())
    trouble.unstored = (digest, 3, b"data")
    trouble.unplaced.add(digest)
    return trouble


def test_a_dropped_download_is_not_tried_again() -> None:
    trouble = refused_twice(b"d" * 32)
    trouble.forget(b"e" * 32)
    assert trouble.unstored is not None and trouble.unplaced == {b"d" * 32}
    trouble = refused_twice(b"d" * 32)
    trouble.forget(b"d" * 32)
    assert trouble.unstored is None
    assert trouble.unplaced == set()


def test_only_the_first_refusal_and_the_retry_count_as_tries() -> None:
    trouble = DiskTrouble(Outbox())
    first, late, probe = (WritePiece(b"d" * 32, piece, b"data") for piece in range(3))
    assert trouble.refused(first, FULL, 0.0)
    assert not trouble.refused(late, FULL, 0.1)  # it was on its way before the pause
    assert trouble.failures == 1
    trouble.probe = probe  # what is tried again when the backoff is over
    assert trouble.refused(probe, FULL, trouble.retry_at_s)
    assert trouble.failures == 2 and trouble.probe is None
