"""One file being fetched, as the plan sees it: which pieces are held, in
flight, and where; the order its missing pieces are asked in (rarest
first, random tie-breaks), and which late requests the end-game may ask
again of a second holder.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from swarm.peer.source import PendingRequest, Source
from swarm.protocol.chunks import Layout
from swarm.protocol.meta import FileMeta

# End-game: a duplicate is sent only for a request this much later than
# its source's usual reply time, so a healthy swarm does not fetch twice.
ENDGAME_LATE_FACTOR = 2.0
ENDGAME_MIN_WAIT_S = 0.3
ENDGAME_SCAN_S = 0.1  # requests sent after a scan are looked at again this soon


class Download:
    """One file being fetched: which pieces are held, in flight, and where.

    ``have[p]`` is 0 (missing), 2 (verified, being stored) or 1 (stored);
    ``in_flight[p]`` counts requests out for it (at most 2).  ``unrequested``
    counts pieces with neither, so "is every missing piece in flight?" costs
    O(1).
    """

    def __init__(self, meta: FileMeta, held_pieces: Iterable[int], rng: random.Random) -> None:
        self.meta = meta
        self.layout: Layout = meta.layout
        pieces = self.layout.pieces
        self.have = bytearray(pieces)
        for piece in held_pieces:
            self.have[piece] = 1
        self.missing = pieces - sum(self.have)
        self.resumed_pieces = pieces - self.missing  # held before this run fetched any
        self.unrequested = self.missing
        self.in_flight = bytearray(pieces)
        self.requests_by_piece: dict[int, list[PendingRequest]] = {}
        self.complete_holders: set[int] = set()
        self.partial_holders: dict[int, bytearray] = {}
        self.unwanted: set[tuple[int, int]] = set()  # (source, piece) that failed
        self.order: list[int] = []
        self.position: dict[int, int] = {}
        self.cursors: dict[int, int] = {}
        self._late: list[int] = []
        self._late_next_scan_s = float("-inf")
        self._rng = rng
        self.rebuild_order()

    @property
    def digest(self) -> bytes:
        return self.meta.digest

    @property
    def done(self) -> bool:
        return self.missing == 0

    def holds(self, source: int, piece: int) -> bool:
        if (source, piece) in self.unwanted:
            return False
        if source in self.complete_holders:
            return True
        bitmap = self.partial_holders.get(source)
        return bitmap is not None and bitmap[piece] == 1

    def sources(self) -> set[int]:
        return self.complete_holders | set(self.partial_holders)

    def held_pieces(self) -> list[int]:
        return [i for i, held in enumerate(self.have) if held == 1]

    def set_partial_holder(self, source: int, ranges: Iterable[tuple[int, int]]) -> None:
        bitmap = bytearray(self.layout.pieces)
        for piece in self.layout.whole_pieces_in(ranges):
            bitmap[piece] = 1
        self.partial_holders[source] = bitmap

    def drop_holder(self, source: int) -> None:
        self.complete_holders.discard(source)
        self.partial_holders.pop(source, None)
        self.cursors.pop(source, None)

    def rebuild_order(self) -> None:
        """Missing pieces, rarest first, ties in random order."""
        counts = [len(self.complete_holders)] * self.layout.pieces
        for bitmap in self.partial_holders.values():
            for piece, held in enumerate(bitmap):
                counts[piece] += held
        # Pieces being stored (have == 2) stay in the order: if storing fails
        # they must be found again.
        order = [p for p in range(self.layout.pieces) if self.have[p] != 1]
        self._rng.shuffle(order)
        order.sort(key=counts.__getitem__)
        self.order = order
        self.position = {piece: i for i, piece in enumerate(order)}
        self.cursors.clear()

    # Every change to have/in_flight goes through these, to keep the counters.

    def request_added(self, piece: int) -> None:
        if not self.in_flight[piece] and not self.have[piece]:
            self.unrequested -= 1
        self.in_flight[piece] += 1

    def request_dropped(self, piece: int) -> None:
        self.in_flight[piece] -= 1
        if not self.in_flight[piece] and not self.have[piece]:
            self.unrequested += 1
            self._rewind_to(piece)

    def mark_verified(self, piece: int) -> None:
        if not self.in_flight[piece]:
            self.unrequested -= 1
        self.have[piece] = 2

    def mark_stored(self, piece: int) -> None:
        self.have[piece] = 1
        self.missing -= 1

    def mark_lost(self, piece: int) -> None:
        self.have[piece] = 0
        if not self.in_flight[piece]:
            self.unrequested += 1
            self._rewind_to(piece)

    def _rewind_to(self, piece: int) -> None:
        """A piece became free again: sources past it must look back."""
        where = self.position.get(piece)
        if where is None:
            return
        for source, cursor in self.cursors.items():
            if cursor > where:
                self.cursors[source] = where

    def next_piece_for(self, source: int) -> int | None:
        order, have, in_flight = self.order, self.have, self.in_flight
        i = self.cursors.get(source, 0)
        while i < len(order):
            piece = order[i]
            i += 1
            if not have[piece] and not in_flight[piece] and self.holds(source, piece):
                self.cursors[source] = i
                return piece
        self.cursors[source] = i
        return None

    def late_pieces(self, now_s: float, sources: dict[int, Source]) -> list[int]:
        """Pieces whose only request is late: end-game candidates.

        The scan remembers when the next request will turn late, and runs
        again only then (or after ENDGAME_SCAN_S, for requests sent since):
        many sources asking in one pump cost one scan, not one each.
        """
        if self._late or now_s < self._late_next_scan_s:
            return self._late
        late = []
        next_late = now_s + ENDGAME_SCAN_S
        for piece, pending in self.requests_by_piece.items():
            if len(pending) != 1 or self.have[piece]:
                continue
            first = pending[0]
            other = sources.get(first.source)
            usual = other.latency_s if other and other.latency_s else ENDGAME_MIN_WAIT_S
            late_at = first.sent_at_s + max(ENDGAME_MIN_WAIT_S, ENDGAME_LATE_FACTOR * usual)
            if now_s >= late_at:
                late.append(piece)
            else:
                next_late = min(next_late, late_at)
        self._late = late
        self._late_next_scan_s = next_late
        return late

    def endgame_piece_for(
        self, source: int, now_s: float, sources: dict[int, Source]
    ) -> int | None:
        late = self.late_pieces(now_s, sources)
        for i, piece in enumerate(late):
            pending = self.requests_by_piece.get(piece, [])
            if len(pending) != 1 or self.have[piece]:
                continue
            if pending[0].source != source and self.holds(source, piece):
                del late[i]
                return piece
        return None
