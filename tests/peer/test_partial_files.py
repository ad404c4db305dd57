"""PartialFiles: the partial files of a peer's downloads -- leftovers of an
earlier run taken up, what the Join offers, and stored chunks reported in
batches."""

from __future__ import annotations

import random

from swarm.peer.actions import ToTracker
from swarm.peer.partial_files import PartialFiles
from swarm.peer.transfer_plan import TransferPlan
from swarm.protocol.message_parts import HaveReport, PartialOffer
from swarm.protocol.messages import Have
from swarm.protocol.meta import meta_of_bytes
from swarm.protocol.output import Observe, Outbox

MIB = 1 << 20
HALF = meta_of_bytes("half.bin", random.Random(1).randbytes(4 * MIB))  # 4 pieces of 1 MiB
NEVER = meta_of_bytes("never.bin", random.Random(2).randbytes(4 * MIB))
REPORT_S = 0.1


def partial_files() -> tuple[Outbox, TransferPlan, PartialFiles]:
    out, plan = Outbox(), TransferPlan(random.Random(3))
    return out, plan, PartialFiles(out, plan, [(HALF, [0, 2]), (NEVER, [])], REPORT_S, 0.0)


def flat(*pieces: int) -> tuple[int, ...]:
    ranges = HALF.layout.pieces_to_chunk_ranges(pieces)
    return tuple(x for pair in ranges for x in pair)


def test_leftovers_are_offered_and_kept_until_taken_up() -> None:
    _, plan, partials = partial_files()
    assert partials.is_leftover(HALF.digest) and partials.is_leftover(NEVER.digest)
    assert partials.offers() == (PartialOffer(HALF, flat(0, 2)),)  # nothing held: no offer
    assert partials.kept() == {HALF.digest: (2, 4), NEVER.digest: (0, 4)}
    assert partials.empty() == [NEVER.digest]
    held = partials.take_up(HALF)
    assert held == [0, 2] and not partials.is_leftover(HALF.digest)
    download = plan.add_download(HALF, held)
    plan.piece_stored(download, 1)  # what the download holds now counts
    assert partials.held_pieces(HALF.digest) == [0, 1, 2]


def test_a_forgotten_partial_file_is_neither_offered_nor_kept() -> None:
    _, _, partials = partial_files()
    partials.forget(HALF.digest)
    assert partials.offers() == () and HALF.digest not in partials.kept()


def test_stored_pieces_are_reported_in_one_batch_at_the_interval() -> None:
    out, _, partials = partial_files()
    partials.take_up(HALF)
    partials.stored(HALF.digest, 1)
    partials.stored(HALF.digest, 3)
    assert partials.next_deadline_s() == 0.0
    partials.on_timer(0.0)
    chunks = HALF.layout.piece_chunks
    assert out.take() == [
        Observe("chunks", {"file": "half.bin", "chunks": 2 * chunks,
                           "ranges": [[chunks, 2 * chunks], [3 * chunks, 4 * chunks]]}),
        ToTracker(Have((HaveReport(HALF.digest, flat(1, 3)),))),
    ]
    assert partials.next_deadline_s() == float("inf")  # nothing left to report
    partials.stored(HALF.digest, 0)
    partials.on_timer(REPORT_S / 2)
    assert out.take() == []  # the next batch waits for the interval
    partials.on_timer(REPORT_S)
    assert [type(a) for a in out.take()] == [Observe, ToTracker]
