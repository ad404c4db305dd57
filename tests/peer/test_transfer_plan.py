"""TransferPlan, with the Downloads and Sources it keeps: which piece to ask
of whom, driven by a seeded rng and a fake clock."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, SupportsIndex

import pytest

from swarm.peer.download import ENDGAME_LATE_FACTOR, ENDGAME_MIN_WAIT_S, Download
from swarm.peer.source import TRUST_BAD_PIECE, PendingRequest, Source
from swarm.peer.transfer_plan import (
    MAX_TOTAL_IN_FLIGHT_BYTES,
    DataOutcome,
    DataVerdict,
    TransferPlan,
)
from swarm.protocol.chunks import PIECE_BYTES, PIECE_CHUNKS, Layout
from swarm.protocol.meta import HASH_BYTES, FileMeta, file_digest, meta_of_bytes

# With no latency measured yet, a request counts as late after this long.
ENDGAME_LATE_S = max(ENDGAME_MIN_WAIT_S, ENDGAME_LATE_FACTOR * ENDGAME_MIN_WAIT_S)


def make_file(pieces: int, seed: int = 0) -> tuple[FileMeta, bytes]:
    """A file of ``pieces`` pieces, the last one 100 bytes short."""
    data = random.Random(seed).randbytes(pieces * PIECE_BYTES - 100)
    return meta_of_bytes("file.bin", data), data


def new_plan(meta: FileMeta, complete: Iterable[int] = (),
             partial: dict[int, list[tuple[int, int]]] | None = None,
             seed: int = 7) -> tuple[TransferPlan, Download]:
    plan = TransferPlan(random.Random(seed))
    download = plan.add_download(meta)
    plan.set_holders(meta.digest, complete, partial or {}, 0.0)
    return plan, download


def piece_of(meta: FileMeta, data: bytes, piece: int) -> bytes:
    offset, length = meta.layout.piece_byte_range(piece)
    return data[offset : offset + length]


def reply(plan: TransferPlan, request: PendingRequest, payload: bytes,
          now_s: float = 0.0) -> DataOutcome:
    return plan.on_data(request.source, request.request_id, request.digest,
                        request.first_chunk, request.chunk_count, payload, now_s)


def deliver(plan: TransferPlan, download: Download, data: bytes, request: PendingRequest,
            now_s: float = 0.0) -> DataOutcome:
    """The source sends the right bytes; a verified piece is stored at once."""
    outcome = reply(plan, request, piece_of(download.meta, data, request.piece), now_s)
    if outcome.verdict is DataVerdict.GOOD:
        plan.piece_stored(download, request.piece)
    return outcome


def pieces_of(meta: FileMeta, *pieces: int) -> list[tuple[int, int]]:
    return meta.layout.pieces_to_chunk_ranges(pieces)


def assert_at_most_two_per_piece(download: Download) -> None:
    for piece, pending in download.requests_by_piece.items():
        assert len(pending) <= 2, piece
        assert download.in_flight[piece] <= 2


# --- what gets requested, and from whom --------------------------------------------------


def test_pump_requests_only_pieces_a_source_holds() -> None:
    meta, _ = make_file(12)
    held = {1: {0, 1, 2, 3}, 2: {4, 5, 9}, 3: {11}}
    partial = {pid: pieces_of(meta, *pieces) for pid, pieces in held.items()}
    plan, _ = new_plan(meta, partial=partial)
    for source in plan.sources.values():
        source.window_bytes = 16 * PIECE_BYTES  # credit for everything each holds
    requests = plan.pump(0.0)
    assert requests
    for request in requests:
        assert request.piece in held[request.source]
        first, end = meta.layout.piece_chunk_range(request.piece)
        assert (request.first_chunk, request.chunk_count) == (first, end - first)
    # Nobody holds pieces 6, 7, 8 and 10: they stay unrequested.
    assert {r.piece for r in requests} == set().union(*held.values())


def test_pump_skips_pieces_already_held() -> None:
    meta, _ = make_file(6)
    plan = TransferPlan(random.Random(1))
    download = plan.add_download(meta, held_pieces=[0, 2, 5])
    plan.set_holders(meta.digest, [1], {}, 0.0)
    plan.sources[1].window_bytes = 16 * PIECE_BYTES
    assert sorted(r.piece for r in plan.pump(0.0)) == [1, 3, 4]
    assert download.missing == 3


def test_pump_respects_each_source_credit() -> None:
    meta, data = make_file(200)
    plan, download = new_plan(meta, complete=[1, 2, 3])
    for _ in range(4):
        plan.pump(0.0)
        for source in plan.sources.values():
            pending = [r for r in source.requests.values() if not r.released]
            in_flight = sum(r.size_bytes for r in pending)
            assert in_flight == source.in_flight_bytes
            # A source is topped up while it has credit: one piece may overshoot.
            assert in_flight <= source.window_bytes + PIECE_BYTES
            assert in_flight > source.window_bytes - PIECE_BYTES
            # Answer half of it, so the next round has credit to refill.
            for request in pending[: len(pending) // 2]:
                deliver(plan, download, data, request)
    assert_at_most_two_per_piece(download)


def test_rarest_piece_goes_first() -> None:
    meta, _ = make_file(10)
    rare = 6
    common = [p for p in range(10) if p != rare]
    # Source 1 holds everything; sources 2 and 3 hold all but the rare piece.
    partial = {1: pieces_of(meta, *range(10)), 2: pieces_of(meta, *common),
               3: pieces_of(meta, *common)}
    plan, download = new_plan(meta, partial=partial)
    assert download.order[0] == rare
    for source in plan.sources.values():
        source.window_bytes = 1  # exactly one request each
    requests = {r.source: r.piece for r in plan.pump(0.0)}
    assert requests[1] == rare
    assert rare not in (requests[2], requests[3])


def test_rarity_order_sorts_by_holder_count() -> None:
    meta, _ = make_file(3)
    partial = {1: pieces_of(meta, 0, 1, 2), 2: pieces_of(meta, 1, 2), 3: pieces_of(meta, 2)}
    _, download = new_plan(meta, partial=partial)
    assert download.order == [0, 1, 2]


def test_the_file_with_the_fewest_pieces_left_is_asked_for_first() -> None:
    big, _ = make_file(10, seed=1)
    small, _ = make_file(1, seed=2)
    plan = TransferPlan(random.Random(3))
    plan.add_download(small)
    plan.add_download(big)
    for meta in (small, big):
        plan.set_holders(meta.digest, [1], {}, 0.0)
    plan.sources[1].window_bytes = 2 * PIECE_BYTES
    first, *rest = plan.pump(0.0)
    assert first.digest == small.digest
    assert rest and all(r.digest == big.digest for r in rest)


# --- end-game -----------------------------------------------------------------------------


def endgame_setup() -> tuple[TransferPlan, Download, bytes, PendingRequest]:
    """Source 1 holds everything; source 2 holds only the piece source 1 was asked
    for first, so source 2 can only ever duplicate that request."""
    meta, data = make_file(3)
    plan, download = new_plan(meta, complete=[1])
    plan.sources[1].window_bytes = 1
    [first] = plan.pump(0.0)
    plan.set_holders(meta.digest, [1], {2: pieces_of(meta, first.piece)}, 0.0)
    return plan, download, data, first


def test_no_duplicates_while_some_missing_piece_is_not_in_flight() -> None:
    plan, download, _, _ = endgame_setup()
    # Late, and source 2 has credit, but two pieces are still unrequested.
    assert plan.pump(10.0) == []
    assert download.unrequested == 2
    assert plan.duplicate_requests == 0


def test_duplicate_only_when_everything_is_in_flight_and_late() -> None:
    plan, download, data, first = endgame_setup()
    plan.sources[1].window_bytes = 10 * PIECE_BYTES
    rest = [r for r in plan.pump(0.1) if r.source == 1]
    assert len(rest) == 2 and download.unrequested == 0
    assert plan.pump(ENDGAME_LATE_S - 0.01) == []  # in flight everywhere, but not late
    [duplicate] = plan.pump(ENDGAME_LATE_S)
    assert (duplicate.source, duplicate.piece) == (2, first.piece)
    assert plan.duplicate_requests == 1
    assert plan.pump(ENDGAME_LATE_S + 5.0) == []  # never a third request for a piece
    assert_at_most_two_per_piece(download)

    # The duplicate wins: the first request is the loser to cancel.
    won = deliver(plan, download, data, duplicate, ENDGAME_LATE_S + 0.1)
    assert won.verdict is DataVerdict.GOOD and won.piece == first.piece
    assert won.cancels == [first]
    assert first.piece not in download.requests_by_piece
    # The cancelled request's bytes, if they still come, are not wanted.
    assert deliver(plan, download, data, first).verdict is DataVerdict.UNWANTED
    for request in rest:
        assert deliver(plan, download, data, request).verdict is DataVerdict.GOOD
    assert download.done
    assert all(s.in_flight_bytes == 0 for s in plan.sources.values())


def everything_in_flight_and_late() -> tuple[TransferPlan, Download]:
    """endgame_setup with every piece asked of source 1: source 2 could
    duplicate the late first request, were the end of the job reached."""
    plan, download, _, _ = endgame_setup()
    plan.sources[1].window_bytes = 10 * PIECE_BYTES
    plan.pump(0.1)
    assert download.unrequested == 0
    return plan, download


def test_no_duplicates_while_another_file_has_pieces_nobody_was_asked_for() -> None:
    plan, _ = everything_in_flight_and_late()
    # A second file that only a third source holds, which has no credit:
    # its pieces stay unrequested, so the job is not at its end.
    other, _ = make_file(2, seed=1)
    other_download = plan.add_download(other)
    plan.set_holders(other.digest, [3], {}, 0.1)
    plan.sources[3].window_bytes = 0
    assert plan.pump(ENDGAME_LATE_S + 5.0) == []
    assert other_download.unrequested == 2
    assert plan.duplicate_requests == 0


def test_no_duplicates_while_files_wait_for_a_download_slot() -> None:
    plan, _ = everything_in_flight_and_late()
    assert plan.pump(ENDGAME_LATE_S + 5.0, more_files_to_come=True) == []
    assert plan.duplicate_requests == 0
    # The last file started: the end-game may begin.
    [duplicate] = plan.pump(ENDGAME_LATE_S + 5.1)
    assert duplicate.source == 2 and plan.duplicate_requests == 1


# --- bad data and trust ---------------------------------------------------------------------


def test_bad_pieces_cost_trust_and_four_ban_the_source() -> None:
    meta, _ = make_file(8)  # 8 MiB: what a peer may have in flight
    plan, download = new_plan(meta, complete=[1])
    plan.sources[1].window_bytes = 16 * PIECE_BYTES  # all eight pieces in one pump
    first_round = plan.pump(0.0)
    assert len(first_round) == 8
    plan.set_holders(meta.digest, [1, 2], {}, 0.0)  # a second holder, known from now
    plan.sources[2].window_bytes = 16 * PIECE_BYTES
    for count, request in enumerate(first_round[:4], start=1):
        outcome = reply(plan, request, b"x" * request.size_bytes)
        assert outcome.verdict is DataVerdict.BAD
        assert plan.sources[1].trust == count * TRUST_BAD_PIECE
        assert outcome.banned is (count == 4)
        assert not download.holds(1, request.piece)
    assert plan.sources[1].banned and plan.sources[1].trust == -8
    # The ban cancels everything else the source was asked for.
    assert sorted(r.request_id for r in outcome.cancels) == sorted(
        r.request_id for r in first_round[4:]
    )
    assert plan.sources[1].in_flight_bytes == 0
    again = plan.pump(1.0)
    assert {r.source for r in again} == {2}
    assert sorted(r.piece for r in again) == list(range(8))
    # Fresh holder lists from the tracker do not bring a banned source back.
    plan.set_holders(meta.digest, [1, 2], {}, 2.0)
    assert download.sources() == {2}
    assert plan.bad_pieces == 4


def test_short_or_mismatched_reply_is_bad() -> None:
    meta, data = make_file(4)
    plan, _ = new_plan(meta, complete=[1])
    plan.sources[1].window_bytes = 4 * PIECE_BYTES
    first, second, *_ = plan.pump(0.0)
    assert reply(plan, first, piece_of(meta, data, first.piece)[:-1]).verdict is DataVerdict.BAD
    wrong_range = plan.on_data(1, second.request_id, second.digest, second.first_chunk + 1,
                               second.chunk_count, piece_of(meta, data, second.piece), 0.0)
    assert wrong_range.verdict is DataVerdict.BAD
    assert plan.sources[1].trust == 2 * TRUST_BAD_PIECE


def test_unasked_data_is_unwanted() -> None:
    meta, data = make_file(2)
    plan, _ = new_plan(meta, complete=[1])
    plan.pump(0.0)
    outcome = plan.on_data(1, 999, meta.digest, 0, PIECE_CHUNKS, piece_of(meta, data, 0), 0.0)
    assert outcome.verdict is DataVerdict.UNWANTED
    stranger = plan.on_data(5, 1, meta.digest, 0, PIECE_CHUNKS, b"", 0.0)
    assert stranger.verdict is DataVerdict.UNWANTED


# --- timeouts, departures, refusals --------------------------------------------------------------


def test_expired_requests_are_freed_and_asked_of_another_source() -> None:
    meta, data = make_file(8)  # 8 MiB: what a peer may have in flight
    plan, download = new_plan(meta, complete=[1])
    plan.sources[1].window_bytes = 16 * PIECE_BYTES  # all eight pieces in one pump
    first_round = plan.pump(0.0)
    plan.set_holders(meta.digest, [1, 2], {}, 0.0)  # a second holder, known from now
    first_deadline = plan.next_deadline_s()
    assert first_deadline == min(r.deadline_s for r in first_round)
    assert plan.expire(first_deadline - 0.01) == []
    deadline = max(r.deadline_s for r in first_round)
    expired = plan.expire(deadline)
    assert sorted(r.piece for r in expired) == list(range(8))
    assert plan.next_deadline_s() is None
    assert download.unrequested == 8 and plan.sources[1].in_flight_bytes == 0
    for source in plan.sources.values():  # credit enough for all eight again
        source.window_bytes = 16 * PIECE_BYTES
    again = plan.pump(deadline + 0.1)
    assert sorted(r.piece for r in again) == list(range(8))
    assert any(r.source == 2 for r in again)
    # A timed-out request still takes its late reply; the re-request is then cancelled.
    late = first_round[0]
    outcome = deliver(plan, download, data, late, deadline + 0.2)
    assert outcome.verdict is DataVerdict.GOOD
    assert [(r.piece, r.request_id) for r in outcome.cancels] == [
        (r.piece, r.request_id) for r in again if r.piece == late.piece
    ]


def test_drop_source_releases_its_requests() -> None:
    meta, _ = make_file(6)
    plan, download = new_plan(meta, complete=[1])
    sent = plan.pump(0.0)
    plan.set_holders(meta.digest, [1, 2], {}, 0.0)  # a second holder, known from now
    released = plan.drop_source(1)
    assert sorted(r.request_id for r in released) == sorted(r.request_id for r in sent)
    assert 1 not in plan.sources and download.sources() == {2}
    assert download.unrequested == 6 and download.requests_by_piece == {}
    assert {r.source for r in plan.pump(0.1)} == {2}


def test_refusal_excludes_that_source_for_that_piece() -> None:
    meta, _ = make_file(10)
    plan, download = new_plan(meta, complete=[1, 2])
    plan.source_down(2)  # until the refusal: everything is asked of source 1
    plan.sources[1].window_bytes = 16 * PIECE_BYTES  # eight pieces: all that may be in flight
    sent = plan.pump(0.0)
    assert {r.source for r in sent} == {1}
    refused = plan.on_refused(1, sent[3].request_id)
    assert refused is sent[3]
    assert not download.holds(1, refused.piece)
    assert plan.on_refused(1, sent[3].request_id) is None  # already answered
    plan.source_up(2)
    [retry] = plan.pump(0.1)
    assert (retry.source, retry.piece) == (2, refused.piece)


def test_piece_lost_after_a_holder_refresh_is_fetched_again() -> None:
    meta, data = make_file(4)
    plan, download = new_plan(meta, complete=[1])
    request = plan.pump(0.0)[0]
    assert reply(plan, request, piece_of(meta, data, request.piece)).verdict is DataVerdict.GOOD
    plan.set_holders(meta.digest, [1], {}, 0.1)  # while the piece is being stored
    plan.piece_lost(download, request.piece)
    assert [r.piece for r in plan.pump(0.2)] == [request.piece]


# --- a whole download, and the cost of picking ------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_random_swarm_completes_with_at_most_two_requests_per_piece(seed: int) -> None:
    rng = random.Random(seed)
    meta, data = make_file(40, seed)
    partial = {pid: pieces_of(meta, *rng.sample(range(40), 25)) for pid in (2, 3, 4)}
    plan, download = new_plan(meta, complete=[1], partial=partial, seed=seed)
    arrivals: list[tuple[float, PendingRequest]] = []
    now_s = 0.0
    while not download.done:
        assert now_s < 120.0, "download stalled"
        arrivals += [(now_s + rng.uniform(0.01, 2.5), r) for r in plan.pump(now_s)]
        assert_at_most_two_per_piece(download)
        for due_s, request in sorted(arrivals, key=lambda a: a[0]):
            if due_s <= now_s:
                deliver(plan, download, data, request, now_s)
        arrivals = [(due, r) for due, r in arrivals if due > now_s]
        plan.expire(now_s)
        now_s += 0.1
    assert download.held_pieces() == list(range(40))


class UncheckedMeta(FileMeta):
    """Metadata whose pieces always verify: hashing a 1 GiB file here would
    dominate the suite, and verification has tests of its own."""

    def piece_ok(self, piece: int, data: bytes | memoryview) -> bool:
        return True


class CountingList(list[int]):
    """Counts reads by index: each one is a step of the picker's scan."""

    reads = 0

    def __getitem__(self, index: SupportsIndex | slice) -> object:  # type: ignore[override]
        CountingList.reads += 1
        return super().__getitem__(index)


def test_picking_a_1024_piece_download_from_8_sources_is_not_quadratic() -> None:
    size_bytes = 1 << 30  # the smallest size that cuts into 1024 pieces
    layout = Layout.for_size(size_bytes)
    hashes = bytes(HASH_BYTES) * layout.pieces
    meta = UncheckedMeta("big.iso", size_bytes,
                         file_digest("big.iso", size_bytes, layout.piece_chunks, hashes), hashes)
    plan, download = new_plan(meta, complete=range(1, 9))
    pieces, sources = layout.pieces, len(plan.sources)
    assert pieces == 1024
    download.order = CountingList(download.order)
    CountingList.reads = 0
    requested: Counter[int] = Counter()
    while not download.done:
        batch: Sequence[PendingRequest] = plan.pump(0.0)
        assert batch
        for request in batch:
            requested[request.piece] += 1
            assert reply(plan, request, b"").verdict is DataVerdict.GOOD
            plan.piece_stored(download, request.piece)
    assert set(requested.values()) == {1}
    # One pass over the order per source is linear; a scan from the start
    # for every pick would be about pieces**2 / 2 = 524,288 reads.
    assert CountingList.reads <= 4 * pieces * sources


def test_a_pump_looks_only_at_the_holders_of_what_is_being_fetched(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A peer of a wide swarm has fetched from hundreds of peers; a pump for
    # the one file left looks at its two holders, not at them all.
    meta, _ = make_file(4)
    plan = TransferPlan(random.Random(1))
    for peer_id in range(1, 501):
        plan.source(peer_id, 0.0)
    plan.add_download(meta)
    plan.set_holders(meta.digest, [7, 300], {}, 0.0)
    looked_at: list[int] = []
    pick = TransferPlan._pick

    def counted_pick(self: TransferPlan, source: Source, *rest: Any) -> PendingRequest | None:
        looked_at.append(source.peer_id)
        return pick(self, source, *rest)

    monkeypatch.setattr(TransferPlan, "_pick", counted_pick)
    requests = plan.pump(1.0)
    assert {r.source for r in requests} == {7, 300}
    assert set(looked_at) == {7, 300}


def test_a_source_idle_for_long_is_measured_from_its_next_request() -> None:
    meta, data = make_file(1)
    plan, download = new_plan(meta, complete=[1])
    (request,) = plan.pump(100.0)  # nothing asked of it for 100 s
    deliver(plan, download, data, request, now_s=100.5)
    # Its rate is a piece per half second, not a piece per 100.5 s.
    rate = plan.sources[1].rate_bps
    assert rate is not None and rate == pytest.approx(request.size_bytes / 0.5)


def test_bytes_in_flight_over_every_source_stay_bounded() -> None:
    meta, data = make_file(40)
    plan, download = new_plan(meta, complete=list(range(1, 21)))
    for source in plan.sources.values():
        source.window_bytes = 4 * PIECE_BYTES
    requests = plan.pump(0.0)
    asked = sum(r.size_bytes for r in requests)
    assert MAX_TOTAL_IN_FLIGHT_BYTES <= asked < MAX_TOTAL_IN_FLIGHT_BYTES + PIECE_BYTES
    for request in requests[:3]:
        deliver(plan, download, data, request)
    more = plan.pump(0.0)  # the three answered make room for about three more
    assert 2 <= len(more) <= 4


def test_a_source_asked_one_piece_at_a_time_has_its_rate_measured() -> None:
    # Each reply lands and the next request goes at once: nothing is in
    # flight for a moment between them, and that is not idleness.
    meta, data = make_file(40)
    plan, download = new_plan(meta, complete=[1])
    source = plan.sources[1]
    assert source.window_bytes == PIECE_BYTES  # one request at a time, until measured
    now_s = 0.0
    for _ in range(5):  # a quarter of a second: one rate sample
        (request,) = plan.pump(now_s)
        now_s += 0.05
        deliver(plan, download, data, request, now_s)
    assert source.rate_bps == pytest.approx(PIECE_BYTES / 0.05, rel=0.01)
    assert source.window_bytes > PIECE_BYTES  # so its window has grown past one piece
