"""The rate limits: the token bucket on a fake clock, the picker's budget,
and a simulated swarm whose receiver holds to its download limit."""

from __future__ import annotations

import random

import pytest

from swarm.config import Settings
from swarm.peer.rate_limit import BURST_S, TokenBucket
from swarm.peer.transfer_plan import TransferPlan
from swarm.protocol.chunks import PIECE_BYTES
from swarm.protocol.meta import meta_of_bytes
from tests.swarms.sim import Simulation

KIB = 1 << 10
MIB = 1 << 20


def test_a_bucket_lets_one_piece_go_then_owes_it() -> None:
    bucket = TokenBucket(1000, now_s=0.0)
    assert bucket.try_take(5000, 0.0)  # a balance of 0 is not debt
    assert not bucket.try_take(1, 0.0)
    assert bucket.ready_at_s(0.0) == pytest.approx(5.0)
    assert not bucket.try_take(1, 4.9)
    assert bucket.try_take(1, 5.001)


def test_a_bucket_saves_no_more_than_a_short_burst() -> None:
    bucket = TokenBucket(1000, now_s=0.0)
    assert bucket.balance_bytes(3600.0) == pytest.approx(1000 * BURST_S)


def test_spending_a_batch_puts_the_bucket_in_debt_until_paid() -> None:
    bucket = TokenBucket(2000, now_s=0.0)
    bucket.spend(3000, 0.5)
    assert bucket.balance_bytes(0.5) == pytest.approx(2000 * BURST_S - 3000)
    assert bucket.ready_at_s(0.5) == pytest.approx(0.5 + (3000 - 2000 * BURST_S) / 2000)
    assert bucket.balance_bytes(2.0) >= 0


def test_a_bucket_over_a_long_run_allows_its_rate_and_no_more() -> None:
    rate = 256 * KIB
    bucket = TokenBucket(rate, now_s=0.0)
    sent, now = 0, 0.0
    while now < 60.0:
        if bucket.try_take(PIECE_BYTES, now):
            sent += PIECE_BYTES
            assert sent <= rate * now + rate * BURST_S + PIECE_BYTES
        now += 0.01
    assert sent >= rate * 59.0


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 0.0)


def plan_with_one_source(pieces: int) -> TransferPlan:
    data = random.Random(1).randbytes(pieces * PIECE_BYTES)
    meta = meta_of_bytes("f.bin", data)
    plan = TransferPlan(random.Random(2))
    plan.add_download(meta)
    plan.set_holders(meta.digest, [5], {}, 0.0)
    plan.sources[5].window_bytes = pieces * PIECE_BYTES  # credit for every piece
    return plan


def test_the_picker_asks_for_no_more_than_its_budget_allows() -> None:
    unlimited = plan_with_one_source(8).pump(0.0)
    assert len(unlimited) > 1  # the source's credit allows several
    assert len(plan_with_one_source(8).pump(0.0, budget_bytes=0)) == 1  # not in debt: one
    assert len(plan_with_one_source(8).pump(0.0, budget_bytes=PIECE_BYTES)) == 2
    assert plan_with_one_source(8).pump(0.0, budget_bytes=-1) == []


def receive_curve(settings: Settings, size_bytes: int) -> list[tuple[float, int]]:
    """(time, bytes the receiver was sent so far), tick by tick, for a
    two-peer swarm that moves one file to the second peer."""
    sim = Simulation(settings)
    content = random.Random(3).randbytes(size_bytes)
    sim.add_peer({"f.bin": content})
    receiver = sim.add_peer({})
    curve = []
    while receiver.store.shared.get("f.bin") != content:
        if sim.now_s > 120:
            raise AssertionError("the file never came")
        sim.step()
        curve.append((sim.now_s, sim.received_bytes[receiver.index]))
    return curve


def test_a_limited_receiver_is_sent_no_faster_than_its_limit() -> None:
    size, limit = 2 * MIB, 256 * KIB
    unlimited = receive_curve(Settings(), size)
    limited = receive_curve(Settings(download_limit_bytes_s=limit), size)
    # Everything the receiver hears counts here, messages from the tracker
    # too: a little room over one piece and the bucket's burst.
    slack = PIECE_BYTES + limit * BURST_S + 64 * KIB
    for now_s, received in limited:
        assert received <= limit * now_s + slack, now_s
    assert limited[-1][0] >= (size - slack) / limit
    assert unlimited[-1][0] < limited[-1][0] / 4  # the limit, not the swarm, set the pace
