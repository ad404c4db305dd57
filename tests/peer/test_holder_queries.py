"""HolderQueries: when a peer asks the tracker who holds a download, on a
fake clock; values in, HoldersQuery actions out."""

from __future__ import annotations

import random

from swarm.peer.actions import ToTracker
from swarm.peer.holder_queries import (
    MAX_HOLDERS_REFRESH_S,
    QUERY_RETRY_S,
    STARVING_REFRESH_S,
    HolderQueries,
)
from swarm.peer.transfer_plan import TransferPlan
from swarm.protocol.chunks import CHUNK_SIZE_BYTES, PIECE_CHUNKS
from swarm.protocol.messages import HoldersQuery
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.protocol.output import Outbox

REFRESH_S = 1.0


def setup(holder: bool = True) -> tuple[Outbox, TransferPlan, HolderQueries, FileMeta]:
    """One download; with ``holder``, a source that holds all of it."""
    meta = meta_of_bytes("f.bin", random.Random(1).randbytes(4 * PIECE_CHUNKS
                                                             * CHUNK_SIZE_BYTES))
    out, plan = Outbox(), TransferPlan(random.Random(2))
    plan.add_download(meta)
    if holder:
        plan.set_holders(meta.digest, [7], {}, 0.0)
    return out, plan, HolderQueries(out, plan, REFRESH_S, 0.0), meta


def asked(out: Outbox) -> int:
    return sum(1 for a in out.take()
               if isinstance(a, ToTracker) and isinstance(a.message, HoldersQuery))


def test_a_question_out_is_not_asked_again_until_it_is_long_overdue() -> None:
    out, _, queries, meta = setup()
    queries.ask(meta.digest, 0.0)
    queries.ask(meta.digest, QUERY_RETRY_S - 0.1)
    queries.refresh(QUERY_RETRY_S - 0.1)
    assert asked(out) == 1
    queries.refresh(QUERY_RETRY_S + STARVING_REFRESH_S)  # the next look after the wait
    assert asked(out) == 1  # unanswered that long: a busy tracker, asked once more


def test_each_answer_naming_someone_doubles_the_wait_up_to_a_cap() -> None:
    out, _, queries, meta = setup()
    queries.ask(meta.digest, 0.0)
    assert asked(out) == 1
    now, waits = 0.0, []
    for _ in range(6):
        queries.answered(meta.digest, True, now)
        answered_at = now
        while not asked(out):
            now += STARVING_REFRESH_S  # as often as it looks
            queries.refresh(now)
        waits.append(now - answered_at)
    assert waits == [REFRESH_S, 2.0, 4.0, MAX_HOLDERS_REFRESH_S, MAX_HOLDERS_REFRESH_S,
                     MAX_HOLDERS_REFRESH_S]


def test_an_answer_naming_nobody_starts_the_wait_again() -> None:
    out, _, queries, meta = setup()
    for named in (True, True, False):
        queries.ask(meta.digest, 0.0)
        queries.answered(meta.digest, named, 0.0)
    out.take()
    queries.refresh(REFRESH_S)
    assert asked(out) == 1


def test_a_download_no_source_can_feed_asks_sooner() -> None:
    out, _, queries, meta = setup(holder=False)
    queries.ask(meta.digest, 0.0)
    queries.answered(meta.digest, False, 0.0)
    out.take()
    queries.refresh(STARVING_REFRESH_S)
    assert asked(out) == 1


def test_a_dropped_download_is_asked_about_no_more() -> None:
    out, plan, queries, meta = setup()
    queries.ask(meta.digest, 0.0)
    queries.answered(meta.digest, True, 0.0)
    plan.remove_download(meta.digest)
    queries.forget(meta.digest)
    out.take()
    queries.refresh(100.0)
    assert asked(out) == 0
    assert queries.next_deadline_s() == float("inf")


def test_a_tracker_that_forgot_the_peer_is_asked_again_at_once() -> None:
    out, _, queries, meta = setup()
    queries.ask(meta.digest, 0.0)
    out.take()
    queries.tracker_forgot_us()
    queries.refresh(0.5)
    assert asked(out) == 1
