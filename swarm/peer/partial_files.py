"""The partial files of a peer's downloads, in its state folder (pure), and
what of them the tracker has yet to hear.

Every download has one: under way, finished and waiting to be placed in
Shared, or a *leftover* -- a download an earlier run left, with the pieces
verified in it at start, not yet taken up again.  When the swarm lists its
file, a leftover is taken up as a download like any other, and the pieces
it brings are that download's resumed pieces.  The Join offers what the
partial files hold; verified chunks stored since are reported in batches
(``Have``; the last ones of a file with its ``Complete``), each batch an
entry of the ``--events`` log too.
"""

from __future__ import annotations

from swarm.peer.actions import ToTracker
from swarm.peer.transfer_plan import TransferPlan
from swarm.protocol.message_parts import HaveReport, PartialOffer
from swarm.protocol.messages import Have
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Observe, Outbox


class PartialFiles:
    def __init__(self, out: Outbox, plan: TransferPlan,
                 leftovers: list[tuple[FileMeta, list[int]]], report_interval_s: float,
                 now_s: float) -> None:
        """``leftovers``: the downloads an earlier run left, with the pieces
        verified in them; ``report_interval_s``: stored chunks are reported at
        most this far apart."""
        self.out = out
        self.plan = plan
        self.report_interval_s = report_interval_s
        self.by_digest: dict[bytes, FileMeta] = {meta.digest: meta for meta, _ in leftovers}
        self._leftovers = {meta.digest: pieces for meta, pieces in leftovers}
        self._unreported: dict[bytes, set[int]] = {}  # pieces stored, not reported yet
        self._next_report_s = now_s

    def is_leftover(self, digest: bytes) -> bool:
        return digest in self._leftovers

    def take_up(self, meta: FileMeta) -> list[int]:
        """A download starts: its partial file is made (or kept); returns the
        pieces a leftover brings to it."""
        self.by_digest[meta.digest] = meta
        return self._leftovers.pop(meta.digest, [])

    def forget(self, digest: bytes) -> None:
        """The partial file is gone: dropped, placed, or never made."""
        self.by_digest.pop(digest, None)
        self._leftovers.pop(digest, None)

    def held_pieces(self, digest: bytes) -> list[int]:
        """Pieces of a partial file held (for a Join after a restart or a rejoin)."""
        download = self.plan.downloads.get(digest)
        return download.held_pieces() if download else self._leftovers.get(digest, [])

    def offers(self) -> tuple[PartialOffer, ...]:
        """What the partial files hold, for the Join."""
        offers = []
        for digest, meta in self.by_digest.items():
            ranges = meta.layout.pieces_to_chunk_ranges(self.held_pieces(digest))
            if ranges:
                flat = tuple(x for pair in ranges for x in pair)
                offers.append(PartialOffer(meta, flat))
        return tuple(offers)

    def kept(self) -> dict[bytes, tuple[int, int]]:
        """Per partial file, the pieces it holds and the file's piece count."""
        return {digest: (len(self.held_pieces(digest)), meta.layout.pieces)
                for digest, meta in self.by_digest.items()}

    def empty(self) -> list[bytes]:
        """Partial files that never stored a piece: nothing in them to resume."""
        return [digest for digest in self.by_digest if not self.held_pieces(digest)]

    # --- reports --------------------------------------------------------------------

    def stored(self, digest: bytes, piece: int) -> None:
        """A verified piece is on disk: the tracker hears of it with the next batch."""
        self._unreported.setdefault(digest, set()).add(piece)

    def report(self, only: bytes | None = None) -> None:
        """Report stored chunks to the tracker, all files in one message."""
        reports = self._take_reports([only] if only is not None else list(self._unreported))
        if reports:
            self.out.put(ToTracker(Have(tuple(reports))))

    def final_report(self, digest: bytes) -> tuple[HaveReport, ...]:
        """The chunks of a file just placed that the tracker has yet to
        hear: they go with its Complete, not in a Have of their own."""
        return tuple(self._take_reports([digest]))

    def _take_reports(self, digests: list[bytes]) -> list[HaveReport]:
        """The unreported chunks of these files, now counted as reported
        (each file's batch an entry of the ``--events`` log)."""
        reports = []
        for digest in digests:
            pieces = self._unreported.pop(digest, None)
            meta = self.by_digest.get(digest)
            if not pieces or meta is None:
                continue
            ranges = meta.layout.pieces_to_chunk_ranges(pieces)
            reports.append(HaveReport(digest, tuple(x for pair in ranges for x in pair)))
            self.out.put(Observe("chunks", {"file": meta.name,
                                            "chunks": sum(e - s for s, e in ranges),
                                            "ranges": [list(r) for r in ranges]}))
        return reports

    def on_timer(self, now_s: float) -> None:
        if now_s >= self._next_report_s:
            self.report()
            self._next_report_s = now_s + self.report_interval_s

    def next_deadline_s(self) -> float:
        return self._next_report_s if self._unreported else float("inf")
