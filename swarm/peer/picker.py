"""Which piece to ask of whom: the peer's download plan, free of sockets.

A request asks one source for one whole piece (64..2048 chunks), so a reply
can be verified the moment it arrives.  Each source has a credit of bytes in
flight that follows its measured rate (the zguide's fileio3 credit flow);
pieces go out rarest first with random tie-breaks; every request has a deadline
that follows the source's rate, and a missed one frees the piece for another
holder.  When every missing piece of every file is in flight, a piece whose
request is late may also be asked of a second holder (end-game), and the loser
is cancelled.

Cost: picking walks a per-source cursor over an order rebuilt when holder
information changes, so a round of picks over P pieces costs O(P) per source,
never O(P) per pick.
"""

from __future__ import annotations

import enum
import heapq
import random
from collections.abc import Iterable

from swarm.protocol.chunks import CHUNK_SIZE_BYTES, MIN_PIECE_CHUNKS, Layout
from swarm.protocol.meta import FileMeta
from swarm.protocol.record import Record, field

# Credit: bytes in flight per source, counted in the smallest pieces so a
# source is never left with less than one request's worth.
MIN_PIECE_BYTES = MIN_PIECE_CHUNKS * CHUNK_SIZE_BYTES
INITIAL_WINDOW_BYTES = 4 * MIN_PIECE_BYTES
MIN_WINDOW_BYTES = MIN_PIECE_BYTES
MAX_WINDOW_BYTES = 4 << 20  # enough to fill loopback; bounds reply buffering
MAX_TOTAL_IN_FLIGHT_BYTES = 16 << 20  # bounds a peer's memory across sources
QUEUE_TARGET_S = 0.5  # keep about this much transfer queued at a source

# Deadlines.
ASSUMED_RATE_BPS = 1 << 20  # before a source has been measured
MIN_TIMEOUT_S = 1.5  # below this, a busy machine's scheduling noise trips it
MAX_TIMEOUT_S = 30.0
TIMEOUT_FACTOR = 3.0  # a request may take this many times its expected time
LATE_REPLY_GRACE_S = 60.0  # a timed-out request still accepts its late reply

# End-game: a duplicate is sent only for a request this much later than
# its source's usual reply time, so a healthy swarm does not fetch twice.
ENDGAME_LATE_FACTOR = 2.0
ENDGAME_MIN_WAIT_S = 0.3
ENDGAME_SCAN_S = 0.1  # requests sent after a scan are looked at again this soon

# Trust (as libtorrent): -2 per bad piece, +1 per good piece up to 8; banned at -7.
TRUST_BAD_PIECE = -2
TRUST_GOOD_PIECE = 1
TRUST_MAX = 8
TRUST_BAN_AT = -7

RATE_SAMPLE_S = 0.25
RATE_SMOOTHING = 0.3


class PendingRequest(Record, frozen=False):
    request_id: int
    source: int
    digest: bytes
    piece: int
    first_chunk: int
    chunk_count: int
    size_bytes: int
    sent_at_s: float
    deadline_s: float
    released: bool = False


class Source:
    """A remote peer we fetch from: credit, measured rate, trust."""

    def __init__(self, peer_id: int, now_s: float,
                 max_window_bytes: int = MAX_WINDOW_BYTES) -> None:
        self.peer_id = peer_id
        self.max_window_bytes = max_window_bytes
        self.window_bytes = min(INITIAL_WINDOW_BYTES, max_window_bytes)
        self.in_flight_bytes = 0
        self.requests: dict[int, PendingRequest] = {}
        self.trust = 0
        self.banned = False
        self.rate_bps: float | None = None
        self.latency_s: float | None = None
        self._sample_bytes = 0
        self._sample_start_s = now_s
        # Snubbed (libtorrent's word): it missed a deadline, so it gets one
        # request at a time until it answers one in time.
        self.snubbed = False
        self.down = False  # its connection is lost: ask it nothing until it is back

    @property
    def free_bytes(self) -> int:
        if self.snubbed:
            return 0 if self.in_flight_bytes else 1
        return self.window_bytes - self.in_flight_bytes

    def expected_rate_bps(self) -> float:
        return self.rate_bps if self.rate_bps else ASSUMED_RATE_BPS

    def timeout_s(self, queued_bytes: int) -> float:
        expected = queued_bytes / self.expected_rate_bps() + (self.latency_s or 0.0)
        return min(MAX_TIMEOUT_S, max(MIN_TIMEOUT_S, TIMEOUT_FACTOR * expected))

    def record_reply(self, size_bytes: int, request: PendingRequest | None, now_s: float) -> None:
        self._sample_bytes += size_bytes
        elapsed = now_s - self._sample_start_s
        if elapsed >= RATE_SAMPLE_S:
            sample = self._sample_bytes / elapsed
            self.rate_bps = sample if self.rate_bps is None else (
                RATE_SMOOTHING * sample + (1 - RATE_SMOOTHING) * self.rate_bps
            )
            self._sample_bytes = 0
            self._sample_start_s = now_s
            self.window_bytes = int(min(self.max_window_bytes,
                                        max(MIN_WINDOW_BYTES, self.rate_bps * QUEUE_TARGET_S)))
        if request is not None and not request.released:
            took = now_s - request.sent_at_s
            self.latency_s = took if self.latency_s is None else 0.7 * self.latency_s + 0.3 * took
            self.snubbed = False

    def mark_idle(self, now_s: float) -> None:
        """Nothing is in flight: restart the rate sample so idle time is not
        counted as slowness."""
        if not self.in_flight_bytes:
            self._sample_bytes = 0
            self._sample_start_s = now_s

    def record_timeout(self) -> None:
        self.snubbed = True
        self.window_bytes = max(MIN_WINDOW_BYTES, self.window_bytes // 2)


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


class DataVerdict(enum.Enum):
    GOOD = "good"  # verified: write it, then call piece_stored
    BAD = "bad"  # failed verification: the source lost trust
    UNWANTED = "unwanted"  # not asked for, or already held: dropped


class DataOutcome(Record, frozen=False):
    verdict: DataVerdict
    download: Download | None = None
    piece: int = -1
    cancels: list[PendingRequest] = field(default_factory=list)
    banned: bool = False
    why: str = ""  # what was wrong with bad data


class TransferPlan:
    def __init__(self, rng: random.Random, max_window_bytes: int = MAX_WINDOW_BYTES) -> None:
        self.rng = rng  # tie-breaks among equally rare pieces; injected
        self.max_window_bytes = max_window_bytes
        self.downloads: dict[bytes, Download] = {}
        self.sources: dict[int, Source] = {}
        self._next_request_id = 1
        self._source_rotation = 0
        self._deadlines: list[tuple[float, int, PendingRequest]] = []
        # Timed-out requests whose late replies are still welcome until then.
        self._forget_at: list[tuple[float, int, PendingRequest]] = []
        # Figures for the summary a peer logs when it leaves.
        self.duplicate_requests = 0  # end-game requests for a piece already asked for
        self.bad_pieces = 0
        self.timeouts = 0
        self.pieces_good = 0
        self.chunks_good = 0
        self.chunks_wasted = 0  # arrived, but the piece was already held: fetched twice

    # --- what to fetch, and from whom ---------------------------------------

    def add_download(self, meta: FileMeta, held_pieces: Iterable[int] = ()) -> Download:
        download = Download(meta, held_pieces, self.rng)
        self.downloads[meta.digest] = download
        return download

    def remove_download(self, digest: bytes) -> list[PendingRequest]:
        """Stop fetching a file; returns its outstanding requests (to cancel)."""
        download = self.downloads.pop(digest, None)
        if download is None:
            return []
        cancelled = [r for reqs in download.requests_by_piece.values() for r in reqs]
        for request in cancelled:
            self._forget(request)
        return cancelled

    def source(self, peer_id: int, now_s: float) -> Source:
        source = self.sources.get(peer_id)
        if source is None:
            source = self.sources[peer_id] = Source(peer_id, now_s, self.max_window_bytes)
        return source

    def set_holders(self, digest: bytes, complete: Iterable[int],
                    partial: dict[int, list[tuple[int, int]]], now_s: float) -> None:
        """Fresh holder information for one file (from the tracker)."""
        download = self.downloads.get(digest)
        if download is None:
            return
        download.complete_holders = {pid for pid in complete if not self._banned(pid)}
        download.partial_holders.clear()
        for pid, ranges in partial.items():
            if pid not in download.complete_holders and not self._banned(pid):
                download.set_partial_holder(pid, ranges)
        for pid in download.sources():
            self.source(pid, now_s)
        download.unwanted.clear()
        download.rebuild_order()

    def source_down(self, peer_id: int) -> list[PendingRequest]:
        """The connection to a source broke: its requests will not be answered."""
        source = self.sources.get(peer_id)
        if source is None:
            return []
        source.down = True
        released = [r for r in source.requests.values() if not r.released]
        for request in released:
            self._release(request, source)
        return released

    def source_up(self, peer_id: int) -> None:
        source = self.sources.get(peer_id)
        if source is not None:
            source.down = False

    def drop_source(self, peer_id: int) -> list[PendingRequest]:
        """A peer left: forget it everywhere; returns its outstanding requests."""
        source = self.sources.pop(peer_id, None)
        for download in self.downloads.values():
            download.drop_holder(peer_id)
        if source is None:
            return []
        released = list(source.requests.values())
        for request in released:
            self._release(request, source)
        return released

    def _banned(self, peer_id: int) -> bool:
        source = self.sources.get(peer_id)
        return source is not None and source.banned

    def starving(self) -> list[Download]:
        """Downloads with missing pieces that no known source can supply now."""
        return [
            d for d in self.downloads.values()
            if not d.done and not any(d.requests_by_piece.values()) and not d.sources()
        ]

    # --- requests -------------------------------------------------------------

    def pump(self, now_s: float, more_files_to_come: bool = False,
             budget_bytes: float = float("inf")) -> list[PendingRequest]:
        """New requests to send, as far as credit allows, and while the bytes
        asked for in this call do not exceed ``budget_bytes`` (a download
        limit's balance: the last request may overrun it, as debt).

        End-game duplicates go out only at the end of the whole job: while
        any file has a piece nobody was asked for, or files wait for a
        download slot (``more_files_to_come``), a source with credit to
        spare has real work coming, and a late request is left to its
        deadline.  On a busy machine every reply is late by the usual
        measure, and duplicating them spent a seventh of a 64-peer swarm's
        transfers on pieces that came twice.
        """
        new: list[PendingRequest] = []
        active = [d for d in self.downloads.values() if not d.done]
        if not active:
            return new
        endgame = not more_files_to_come and not any(d.unrequested for d in active)
        # The files with the fewest pieces left to ask for go first: a small
        # file is whole (verified, placed, served on) before a big one takes
        # the credit, instead of every file crawling along together.
        active.sort(key=lambda d: d.unrequested)
        total_in_flight = sum(s.in_flight_bytes for s in self.sources.values())
        sources = [s for s in self.sources.values() if not s.banned and not s.down]
        if not sources:
            return new
        # Each pump starts with another source, so none always gets first
        # pick of the rarest pieces.
        self._source_rotation = (self._source_rotation + 1) % len(sources)
        sources = sources[self._source_rotation:] + sources[: self._source_rotation]
        asked_bytes = 0
        for source in sources:
            while (source.free_bytes > 0 and total_in_flight < MAX_TOTAL_IN_FLIGHT_BYTES
                   and asked_bytes <= budget_bytes):
                request = self._pick(source, active, now_s, endgame)
                if request is None:
                    break
                total_in_flight += request.size_bytes
                asked_bytes += request.size_bytes
                new.append(request)
            if not source.in_flight_bytes:
                source.mark_idle(now_s)
        return new

    def _pick(self, source: Source, active: list[Download], now_s: float,
              endgame: bool) -> PendingRequest | None:
        peer_id = source.peer_id
        # Only the files this source holds something of: a peer fetching
        # many files from many sources must not scan every file per source.
        held = [d for d in active
                if peer_id in d.complete_holders or peer_id in d.partial_holders]
        for download in held:
            piece = download.next_piece_for(source.peer_id)
            if piece is not None:
                return self._issue(source, download, piece, now_s)
        if not endgame:
            return None
        for download in held:
            piece = download.endgame_piece_for(source.peer_id, now_s, self.sources)
            if piece is not None:
                self.duplicate_requests += 1
                return self._issue(source, download, piece, now_s)
        return None


    def _issue(
        self, source: Source, download: Download, piece: int, now_s: float
    ) -> PendingRequest:
        first, end = download.layout.piece_chunk_range(piece)
        _, size = download.layout.piece_byte_range(piece)
        source.in_flight_bytes += size
        request = PendingRequest(
            request_id=self._next_request_id,
            source=source.peer_id,
            digest=download.digest,
            piece=piece,
            first_chunk=first,
            chunk_count=end - first,
            size_bytes=size,
            sent_at_s=now_s,
            deadline_s=now_s + source.timeout_s(source.in_flight_bytes),
        )
        self._next_request_id += 1
        source.requests[request.request_id] = request
        heapq.heappush(self._deadlines, (request.deadline_s, request.request_id, request))
        download.request_added(piece)
        download.requests_by_piece.setdefault(piece, []).append(request)
        return request

    def _release(self, request: PendingRequest, source: Source | None) -> None:
        """The request no longer holds credit or its piece."""
        if request.released:
            return  # released when it timed out
        request.released = True
        if source is not None:
            source.in_flight_bytes -= request.size_bytes
        download = self.downloads.get(request.digest)
        if download is not None:
            pending = download.requests_by_piece.get(request.piece, [])
            if request in pending:
                pending.remove(request)
            if not pending:
                download.requests_by_piece.pop(request.piece, None)
            download.request_dropped(request.piece)

    def _forget(self, request: PendingRequest) -> None:
        source = self.sources.get(request.source)
        self._release(request, source)
        if source is not None:
            source.requests.pop(request.request_id, None)

    def expire(self, now_s: float) -> list[PendingRequest]:
        """Requests past their deadline; their pieces are free for others.

        Deadlines sit in a heap; answered requests are skipped when they
        surface (lazy deletion), so this costs O(log n) per request, not a
        scan of everything in flight on every call.
        """
        expired = []
        heap = self._deadlines
        while heap and heap[0][0] <= now_s:
            _, _, request = heapq.heappop(heap)
            if request.released:
                continue
            source = self.sources.get(request.source)
            expired.append(request)
            self._release(request, source)
            if source is not None:
                source.record_timeout()
                heapq.heappush(self._forget_at, (request.sent_at_s + LATE_REPLY_GRACE_S,
                                                 request.request_id, request))
        forget = self._forget_at
        while forget and forget[0][0] <= now_s:
            _, request_id, request = heapq.heappop(forget)
            source = self.sources.get(request.source)
            if source is not None:
                source.requests.pop(request_id, None)
        self.timeouts += len(expired)
        return expired

    def next_deadline_s(self) -> float | None:
        heap = self._deadlines
        while heap and heap[0][2].released:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    # --- replies ----------------------------------------------------------------

    def on_data(self, peer_id: int, request_id: int, digest: bytes, first_chunk: int,
                chunk_count: int, payload: bytes | memoryview, now_s: float) -> DataOutcome:
        source = self.sources.get(peer_id)
        request = source.requests.pop(request_id, None) if source else None
        if source is None or request is None:
            self.chunks_wasted += chunk_count  # e.g. a cancelled duplicate that came anyway
            return DataOutcome(DataVerdict.UNWANTED)
        # The request says which file was asked for; the reply must agree.
        download = self.downloads.get(request.digest)
        if download is None:  # no longer fetched: the answer is not wanted
            self._release(request, source)
            self.chunks_wasted += chunk_count
            return DataOutcome(DataVerdict.UNWANTED)
        if (request.digest, request.first_chunk, request.chunk_count) != (
            digest, first_chunk, chunk_count
        ):
            self._release(request, source)
            return self._bad(source, download, request.piece,
                             "the reply does not match the request")
        source.record_reply(len(payload), request, now_s)
        piece = request.piece
        if download.have[piece]:
            self._release(request, source)
            self.chunks_wasted += chunk_count
            return DataOutcome(DataVerdict.UNWANTED)
        if not download.meta.piece_ok(piece, payload):
            self._release(request, source)
            return self._bad(source, download, piece, "its bytes fail verification")
        source.trust = min(TRUST_MAX, source.trust + TRUST_GOOD_PIECE)
        self.pieces_good += 1
        self.chunks_good += chunk_count
        # Reserved before the request is released, so the piece never looks
        # free (and nobody rewinds to it) while it is being stored.
        download.mark_verified(piece)
        self._release(request, source)
        losers = list(download.requests_by_piece.get(piece, []))
        for loser in losers:
            self._forget(loser)
        return DataOutcome(DataVerdict.GOOD, download, piece, cancels=losers)

    def _bad(self, source: Source, download: Download, piece: int, why: str) -> DataOutcome:
        self.bad_pieces += 1
        source.trust += TRUST_BAD_PIECE
        download.unwanted.add((source.peer_id, piece))
        outcome = DataOutcome(DataVerdict.BAD, download, piece, why=why)
        if source.trust <= TRUST_BAN_AT and not source.banned:
            source.banned = True
            outcome.banned = True
            for request in list(source.requests.values()):
                self._forget(request)
                outcome.cancels.append(request)
            for d in self.downloads.values():
                d.drop_holder(source.peer_id)
        return outcome

    def piece_stored(self, download: Download, piece: int) -> None:
        download.mark_stored(piece)

    def piece_lost(self, download: Download, piece: int) -> None:
        """A verified piece could not be stored: fetch it again."""
        download.mark_lost(piece)

    def on_refused(self, peer_id: int, request_id: int) -> PendingRequest | None:
        source = self.sources.get(peer_id)
        request = source.requests.pop(request_id, None) if source else None
        if request is None:
            return None
        self._release(request, source)
        download = self.downloads.get(request.digest)
        if download is not None:
            download.unwanted.add((peer_id, request.piece))
        return request
