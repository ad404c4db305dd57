"""Which piece to ask of whom: the peer's download plan, free of sockets.

A request asks one source for one whole piece (64..2048 chunks), so a reply
can be verified the moment it arrives.  Each source has a credit of bytes in
flight that follows its measured rate (the zguide's fileio3 credit flow);
pieces go out rarest first with random tie-breaks; every request has a deadline
that follows the source's rate, and a missed one frees the piece for another
holder.  When every missing piece of every file is in flight, a piece whose
request is late may also be asked of a second holder (end-game), and the loser
is cancelled.  A source (``source.py``) and a download (``download.py``) keep
their own books; the plan ties them together.

Cost: picking walks a per-source cursor over an order rebuilt when holder
information changes, so a round of picks over P pieces costs O(P) per source,
never O(P) per pick; and a pump looks only at the holders of the files being
fetched, however many peers the swarm has.
"""

from __future__ import annotations

import enum
import heapq
import random
from collections.abc import Iterable

from swarm.peer.download import Download
from swarm.peer.source import (
    MAX_WINDOW_BYTES,
    TRUST_BAD_PIECE,
    TRUST_BAN_AT,
    TRUST_GOOD_PIECE,
    TRUST_MAX,
    PendingRequest,
    Source,
)
from swarm.protocol.meta import FileMeta
from swarm.protocol.record import Record, field

# Bounds a peer's memory across sources: replies land in buffers of their
# own.  8 MiB rather than 16: at 8 x 32 MiB the busiest peer's peak resident
# memory went from 61 to 54 MiB at the same speed, and 64 x 1 MiB (sixty-three
# sources, each a piece at a time) took 4 % less CPU, touching less memory.
MAX_TOTAL_IN_FLIGHT_BYTES = 8 << 20
LATE_REPLY_GRACE_S = 60.0  # a timed-out request still accepts its late reply


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
        self._in_flight_bytes = 0  # of the requests not yet released, over every source
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
            source.linked = True

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
        total_in_flight = self._in_flight_bytes
        # Only the sources that hold something of an active download: a peer
        # that has fetched from every other peer of a wide swarm must not walk
        # them all on every pump.
        holders: set[int] = set()
        for download in active:
            holders |= download.sources()
        sources = [source for source in map(self.sources.get, sorted(holders))
                   if source is not None and not source.banned and not source.down]
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
        source.asked_after_idling(now_s)
        source.in_flight_bytes += size
        self._in_flight_bytes += size
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
        self._in_flight_bytes -= request.size_bytes
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
