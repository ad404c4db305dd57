"""Fetching, a peer's half that takes files in (pure).

Which files to fetch, their hash lists and holders from the tracker, the
requests the ``TransferPlan`` picks, what arrives from sources, reports of
verified chunks to the tracker, and finished files placed in Shared.  Driven
by ``PeerState``; what it wants done goes into the shared ``Outbox`` as
actions, and the disk's answers come back through ``on_*`` methods.

A file this peer cannot take -- something else has its name in Shared, or
the disk refuses the writes -- is never waited for: the peer tells the
tracker it cannot hold it (``CannotHold``), and the others are excused from
waiting.  A refused write pauses all fetching (``DiskTrouble``); when the
backoff is over, the first thing refused is tried again, and once it works
the peer takes its excuses back (``CanHoldAgain``) and goes on.
"""

from __future__ import annotations

from typing import Any

from swarm.peer.actions import (
    DropPartial,
    DropPeer,
    Place,
    Reply,
    ServeFile,
    StartPartial,
    ToPeer,
    ToTracker,
    WritePiece,
)
from swarm.peer.disk import PlaceResult
from swarm.peer.disk_trouble import DiskTrouble
from swarm.peer.holdings import Holdings
from swarm.peer.leave_check import LeaveCheck
from swarm.peer.mode import Mode
from swarm.peer.progress import FileProgress
from swarm.peer.punch import Punches
from swarm.peer.rate_limit import TokenBucket
from swarm.peer.reversal import Reversals
from swarm.peer.settings import PeerSettings
from swarm.peer.source import PendingRequest
from swarm.peer.swarm_view import SwarmView
from swarm.peer.transfer_plan import DataVerdict, TransferPlan
from swarm.protocol.chunks import pairs
from swarm.protocol.fields import MAX_TEXT
from swarm.protocol.message_parts import HaveReport
from swarm.protocol.messages import (
    CanHoldAgain,
    CannotHold,
    Complaint,
    Complete,
    Have,
    Holders,
    HoldersQuery,
    Message,
    MetaQuery,
    ReverseRequest,
)
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Action, Observe, Outbox
from swarm.protocol.peer_messages import Cancel, ChunkData, ChunkRefused, ChunkRequest

# A holder or metadata query unanswered this long is sent again.  Queries
# are not lost on a live connection, so a late answer means a busy tracker,
# and asking again would only make it busier.
QUERY_RETRY_S = 30.0
STARVING_REFRESH_S = 0.25  # holder refresh when no known source has anything
# Each answer doubles the wait before the next question, up to this (an
# answer naming nobody starts again from holders_refresh_s): a long download
# in a wide swarm asks a few times a minute, not every second.  (Asking
# again whenever an answer names someone new would never slow down: the
# tracker draws the holders it names afresh each time.)
MAX_HOLDERS_REFRESH_S = 8.0
# Files fetched at once (the others wait, and start in random order as these
# finish): enough to keep every source busy, few enough that a peer joining
# a swarm of hundreds of files does not put hundreds of questions to the
# tracker at once, and that a file's first holder is not asked by every
# peer at the same moment.
MAX_ACTIVE_DOWNLOADS = 8


class Fetcher:
    def __init__(self, settings: PeerSettings, out: Outbox, view: SwarmView, holdings: Holdings,
                 plan: TransferPlan, reversals: Reversals, punches: Punches,
                 leftovers: list[tuple[FileMeta, list[int]]], now_s: float,
                 leave_check: LeaveCheck, mode: Mode) -> None:
        self.settings = settings
        # Which of the swarm's files to fetch: all of them, unless this is a
        # get (the files it names) or a seed (none).
        self.mode = mode
        self.out = out
        self.view = view
        self.holdings = holdings
        self.plan = plan
        self.reversals = reversals
        self.punches = punches
        self.leave_check = leave_check  # told of what changes that the leave rule reads
        self.active = False  # requests go out only while the peer is in the swarm
        # Every download this peer has a partial file of: under way, finished
        # and not placed yet, or a leftover -- one an earlier run left, not
        # yet taken up again (with the pieces verified in it, which become
        # the download's resumed pieces when it is).
        self.partials: dict[bytes, FileMeta] = {meta.digest: meta for meta, _ in leftovers}
        self._leftovers = {meta.digest: pieces for meta, pieces in leftovers}
        self._meta_asked: dict[bytes, float] = {}
        self._waiting: set[str] = set()  # names to fetch once a download slot frees
        self._holders_asked: dict[bytes, float] = {}
        self._holders_due: dict[bytes, float] = {}
        self._holders_answered: dict[bytes, float] = {}
        self._holders_interval: dict[bytes, float] = {}
        self._pending_have: dict[bytes, set[int]] = {}
        self._next_report_s = now_s
        self._next_holders_check_s = now_s
        self._pump_due = False
        limit = settings.download_limit_bytes_s
        self.download_limit = TokenBucket(limit, now_s) if limit else None
        self._budget_due_s = float("inf")  # when a limited pump may go on
        # Where each source serves, from the holder answers: the tracker
        # names the holders a peer needs, so it need not follow who joins.
        self.endpoints: dict[int, str] = {}
        self.disk = DiskTrouble(out)
        self._probe: Action | None = None  # what was tried again when the backoff ended

    # --- excuses ------------------------------------------------------------------

    def excuse(self, name: str, reason: str, now_s: float) -> None:
        """This peer cannot take the swarm's ``name``: nobody is to wait for it."""
        if not self.holdings.excuse(name):
            return
        self.out.put(ToTracker(CannotHold(name, reason[:MAX_TEXT])))
        self.leave_check.news(now_s)

    def _excuse_for_disk(self, name: str, now_s: float) -> None:
        if name not in self.holdings.excused:
            self.disk.excused.add(name)
            self.excuse(name, "its disk refuses the writes", now_s)

    def name_taken_locally(self, name: str, what: str, now_s: float) -> None:
        """Something that is not ours to share has ``name`` in Shared (a
        folder, a link, another file): the swarm's file cannot go there."""
        summary = self.view.files.get(name)
        if summary is None or name in self.holdings.local or name in self.holdings.excused:
            return
        if summary.digest in self.partials:
            self.out.warning("%s appeared in Shared under %r: fetching the swarm's %r stops, and "
                             "the other peers will not wait for this one to take it",
                             what, name, name)
            self.drop(summary.digest)
        else:
            self.out.warning("not fetching %r: %s has that name in Shared; the other peers will "
                             "not wait for this one to take it", name, what)
        self.excuse(name, f"{what} has that name in its Shared folder", now_s)

    # --- what to fetch ------------------------------------------------------------

    def consider(self, name: str, now_s: float) -> None:
        """Start fetching ``name`` if we should, and feed in complete holders."""
        summary = self.view.files.get(name)
        if summary is None or name in self.holdings.excused or not self.mode.fetches(summary):
            return
        local = self.holdings.local.get(name)
        if local is not None:
            if local.digest != summary.digest:
                self.out.error("the swarm's %r differs from ours; keeping ours", name)
                self.excuse(name, "it holds other content under that name", now_s)
            return
        if summary.digest not in self.plan.downloads:
            if summary.digest in self.disk.unplaced or summary.digest in self.disk.unstarted:
                return  # waiting for the disk
            what = self.holdings.taken.get(name)
            if what is not None:
                self.name_taken_locally(name, what, now_s)
            elif self.disk.paused:
                self._excuse_for_disk(name, now_s)
            elif summary.digest in self._leftovers:
                self._start(self.partials[summary.digest], now_s)
            elif summary.digest in self._meta_asked:
                self._ask_meta(summary.digest, now_s)
            elif self._busy_slots() >= MAX_ACTIVE_DOWNLOADS:
                self._waiting.add(name)
            else:
                self._waiting.discard(name)
                self._ask_meta(summary.digest, now_s)

    def _start_waiting(self, now_s: float) -> None:
        """Files waiting for a slot, taken in random order (so the peers of
        a swarm do not all start with the same files), each considered
        afresh: it may have gone, or arrived some other way, meanwhile."""
        while self._waiting and self._busy_slots() < MAX_ACTIVE_DOWNLOADS:
            name = self.plan.rng.choice(sorted(self._waiting))
            self._waiting.discard(name)
            self.consider(name, now_s)

    def _busy_slots(self) -> int:
        """Download slots taken: questions about files to start, and
        downloads of files the swarm can still supply.  A download whose
        holders are all gone keeps its partial data but not its slot, or a
        few such files would keep every other file from ever starting."""
        files = self.view.files
        return len(self._meta_asked) + sum(
            1 for d in self.plan.downloads.values()
            if (summary := files.get(d.meta.name)) is not None and summary.available)

    def _ask_meta(self, digest: bytes, now_s: float) -> None:
        asked = self._meta_asked.get(digest)
        if asked is None or now_s - asked > QUERY_RETRY_S:
            self._meta_asked[digest] = now_s
            self.out.put(ToTracker(MetaQuery(digest)))

    def meta_arrived(self, meta: FileMeta, now_s: float) -> None:
        self._meta_asked.pop(meta.digest, None)
        summary = self.view.files.get(meta.name)
        if summary is None or summary.digest != meta.digest:
            return
        if meta.digest in self.plan.downloads or meta.name in self.holdings.local:
            return
        self._start(meta, now_s)

    def _start(self, meta: FileMeta, now_s: float) -> StartPartial | None:
        """Start fetching a file: its partial file is created (the disk's
        answer comes to ``on_started``), and the requests can go out."""
        if meta.name in self.holdings.local or meta.name in self.holdings.excused:
            return None
        self.disk.unstarted.pop(meta.digest, None)
        held = self._leftovers.pop(meta.digest, [])
        self.partials[meta.digest] = meta
        # Said before the partial file is made: a refusal of it comes after.
        self.out.info("fetching %r (%d bytes, %d of %d pieces held)", meta.name, meta.size_bytes,
                      len(held), meta.layout.pieces)
        start = StartPartial(meta)
        self.out.put(start)
        download = self.plan.add_download(meta, held)
        if download.done:
            self._finish(meta.digest, now_s)
        else:
            self.consider(meta.name, now_s)
            self._ask_holders(meta.digest, now_s)
        return start

    def on_started(self, action: StartPartial, error: OSError | None, now_s: float) -> None:
        """The disk's answer to a StartPartial."""
        if error is None:
            if action is self._probe:
                self._recovered(now_s)
            return
        meta = action.meta
        self._drop_download(meta.digest)
        self.partials.pop(meta.digest, None)
        self.disk.unstarted[meta.digest] = meta
        self._disk_refused(action, error, now_s)
        self._excuse_for_disk(meta.name, now_s)

    def tracker_forgot_us(self) -> None:
        """Questions put to a tracker that no longer knows us (it expired us
        or restarted) will not be answered: they are asked again at once."""
        self._meta_asked.clear()
        self._holders_asked.clear()
        for digest in self._holders_due:
            self._holders_due[digest] = 0.0

    def _drop_download(self, digest: bytes) -> None:
        """Stop fetching a file: its requests are cancelled, its timers go."""
        self._cancel(self.plan.remove_download(digest))
        for table in (self._holders_due, self._holders_answered, self._holders_interval):
            table.pop(digest, None)

    def _ask_holders(self, digest: bytes, now_s: float) -> None:
        asked = self._holders_asked.get(digest)
        if asked is not None and now_s - asked < QUERY_RETRY_S:
            return
        self._holders_asked[digest] = now_s
        self._holders_due[digest] = now_s + QUERY_RETRY_S  # set anew by the answer
        self.out.put(ToTracker(HoldersQuery(digest, 0, 0)))

    def holders_arrived(self, holders: Holders, now_s: float) -> None:
        digest = holders.digest
        self._holders_asked.pop(digest, None)
        download = self.plan.downloads.get(digest)
        if download is None:
            return
        known = download.sources()
        base = self.settings.holders_refresh_s
        interval = self._holders_interval.get(digest)
        if interval is None or not holders.holders:
            interval = base
        else:
            interval = min(max(base, MAX_HOLDERS_REFRESH_S), 2 * interval)
        self._holders_interval[digest] = interval
        self._holders_answered[digest] = now_s
        self._holders_due[digest] = now_s + interval
        chunks = download.meta.chunks
        complete, partial = [], {}
        for holder in holders.holders:
            if holder.peer_id == self.view.self_id:
                continue
            self.endpoints[holder.peer_id] = holder.endpoint
            ranges = pairs(holder.ranges)
            if ranges == [(0, chunks)]:
                complete.append(holder.peer_id)
            else:
                partial[holder.peer_id] = ranges
        self.plan.set_holders(holders.digest, complete, partial, now_s)
        self._forget_sources_of_nothing(known - download.sources())
        self.schedule_pump()

    def _forget_sources_of_nothing(self, candidates: set[int]) -> None:
        """Of the peers an answer no longer names for its file, those no
        other download names either, with nothing asked of them, are gone or
        of no use: their connections are closed."""
        downloads = self.plan.downloads.values()
        for peer_id in candidates:
            source = self.plan.sources.get(peer_id)
            if source is None or source.in_flight_bytes:
                continue
            if not any(peer_id in d.complete_holders or peer_id in d.partial_holders
                       for d in downloads):
                self.drop_source(peer_id)

    def _refresh_holders(self, now_s: float) -> None:
        """Ask again who holds what, for downloads that are due (sooner for
        those that no known source can feed)."""
        self._next_holders_check_s = now_s + STARVING_REFRESH_S
        starving = {d.digest for d in self.plan.starving()}
        for digest, download in self.plan.downloads.items():
            if download.done:
                continue
            due = self._holders_due.get(digest, now_s)
            if digest in starving:
                due = min(due, self._holders_answered.get(digest, now_s) + STARVING_REFRESH_S)
            if now_s >= due:
                self._ask_holders(digest, now_s)

    # --- requests -----------------------------------------------------------------

    def schedule_pump(self) -> None:
        """Requests may go out: credit was freed, or sources or pieces came.
        The picking itself waits for ``flush``, once per batch of messages."""
        self._pump_due = True

    def flush(self, now_s: float) -> None:
        """Send the requests that the messages handled since the last call
        made possible (the IO loop calls this after each batch), and start
        waiting files where download slots are free."""
        if self._waiting and self.active:
            self._start_waiting(now_s)
        if not self._pump_due or not self.active or self.disk.paused:
            return
        budget = self._download_budget(now_s)
        if budget < 0:
            return
        self._pump_due = False
        requests = self.plan.pump(now_s, more_files_to_come=bool(self._waiting),
                                  budget_bytes=budget)
        for request in requests:
            self._send(request.source, ChunkRequest(
                request.request_id, request.digest, request.first_chunk, request.chunk_count))
        if self.download_limit is not None and requests:
            self.download_limit.spend(sum(r.size_bytes for r in requests), now_s)
            self._pump_due = self._download_budget(now_s) < 0  # cut short, perhaps

    def _download_budget(self, now_s: float) -> float:
        """Bytes the download limit lets this pump ask for; negative while in
        debt, with ``_budget_due_s`` set to when the debt is paid."""
        if self.download_limit is None:
            return float("inf")
        budget = self.download_limit.balance_bytes(now_s)
        self._budget_due_s = self.download_limit.ready_at_s(now_s) if budget < 0 else float("inf")
        return budget

    def _send(self, peer_id: int, message: Message) -> None:
        route = self.reversals.routes.get(peer_id)
        if route is not None:  # it connected to us: ask over that connection
            self.out.put(Reply(route, message))
            return
        endpoint = self.endpoints.get(peer_id)
        if endpoint is not None:
            self.out.put(ToPeer(peer_id, endpoint, message))

    def _cancel(self, requests: list[PendingRequest]) -> None:
        for request in requests:
            self._send(request.source, Cancel(request.request_id))

    def link_down(self, peer_id: int) -> None:
        """The connection to a source broke (it may be gone for good): its
        pieces go to other holders now, not at their deadlines."""
        released = self.plan.source_down(peer_id)
        if released:
            self.out.info("lost the connection to peer %d; %d request(s) go elsewhere",
                          peer_id, len(released))
        self.schedule_pump()

    def link_up(self, peer_id: int) -> None:
        self.plan.source_up(peer_id)
        self.schedule_pump()

    def link_unreachable(self, peer_id: int, now_s: float) -> None:
        """Our connection to a source never came up: it cannot be reached
        from here.  Its requests go elsewhere, and the tracker is asked to
        have it connect to us instead (or to have us both punch through);
        a punched link that never came up is asked for again, a few times."""
        self.plan.source_down(peer_id)
        if self.punches.punched(peer_id):
            if self.punches.failed(peer_id, now_s):
                self.out.put(ToTracker(ReverseRequest(peer_id)))
        elif self.reversals.should_ask(peer_id) and peer_id in self.endpoints:
            self.out.info("cannot reach peer %d; asking the tracker to reverse the connection",
                          peer_id)
            self.out.put(ToTracker(ReverseRequest(peer_id)))
        self.schedule_pump()

    def drop_source(self, peer_id: int) -> None:
        self.plan.drop_source(peer_id)
        self.reversals.forget(peer_id)
        self.endpoints.pop(peer_id, None)
        if not self.punches.punched(peer_id):
            # A punched link stays: the other side may fetch from us over it,
            # and it could not be made again without the tracker.
            self.out.put(DropPeer(peer_id))

    def file_removed(self, name: str, now_s: float) -> None:
        """The swarm no longer has ``name``: what we fetched of it is of no use,
        and whatever kept us from taking it no longer matters."""
        current = self.view.files.get(name)
        for digest, meta in list(self.partials.items()):
            if meta.name == name and (current is None or current.digest != digest):
                self.out.info("dropping what was fetched of %r: the swarm no longer has it", name)
                self.drop(digest)
        self.holdings.unexcuse(name)
        self.disk.excused.discard(name)
        self.leave_check.news(now_s)

    # --- what arrives ---------------------------------------------------------------

    def on_reply(self, peer_id: int, message: Message, payload: memoryview | None,
                 now_s: float) -> None:
        if isinstance(message, ChunkData) and payload is not None:
            self._chunk_data(peer_id, message, payload, now_s)
        elif isinstance(message, ChunkRefused):
            if self.plan.on_refused(peer_id, message.request_id) is not None:
                self.out.info("peer %d refused a request: %s", peer_id, message.reason)
        else:
            self.out.warning("peer %d sent %s on a fetch link; dropped", peer_id,
                             type(message).__name__)
        self.schedule_pump()

    def _chunk_data(self, peer_id: int, data: ChunkData, payload: memoryview,
                    now_s: float) -> None:
        outcome = self.plan.on_data(peer_id, data.request_id, data.digest, data.first_chunk,
                                    data.chunk_count, payload, now_s)
        self._cancel(outcome.cancels)
        if outcome.verdict is DataVerdict.BAD and outcome.download is not None:
            name = outcome.download.meta.name
            self.out.warning("peer %d sent bad data for piece %d of %r: %s", peer_id, outcome.piece,
                             name, outcome.why)
            self.out.put(ToTracker(Complaint(peer_id, outcome.download.digest,
                                             f"piece {outcome.piece}: {outcome.why}")))
            if outcome.banned:
                self.out.warning("peer %d banned after repeated bad data", peer_id)
                self.out.put(DropPeer(peer_id))  # and whatever else it sends is not read
            return
        if outcome.verdict is not DataVerdict.GOOD or outcome.download is None:
            return
        if self.disk.paused:  # it would fail too: fetched again once writes work
            self.plan.piece_lost(outcome.download, outcome.piece)
            return
        self.out.put(WritePiece(outcome.download.digest, outcome.piece, payload))

    def on_written(self, action: WritePiece, error: OSError | None, now_s: float) -> None:
        """The disk's answer to a WritePiece."""
        download = self.plan.downloads.get(action.digest)
        if download is None or download.have[action.piece] != 2:
            return  # dropped meanwhile
        if error is not None:
            if self._disk_refused(action, error, now_s):
                # Kept, verified, to be written again when the backoff is over.
                self.disk.unstored = (action.digest, action.piece, bytes(action.data))
            else:
                self.plan.piece_lost(download, action.piece)  # fetched again later
            return
        self.plan.piece_stored(download, action.piece)
        self._pending_have.setdefault(download.digest, set()).add(action.piece)
        if download.done:
            self._finish(download.digest, now_s)
        if action is self._probe:
            self._recovered(now_s)

    # --- a disk that refuses writes ---------------------------------------------------

    def _disk_refused(self, action: Action, error: OSError, now_s: float) -> bool:
        """The disk refused an action.  True when that is a try that counts:
        the first refusal, which pauses fetching, or the retry at the end of
        a backoff, which lengthens it.  Other actions refused meanwhile were
        on their way before the pause and are no new tries."""
        if self.disk.paused and action is not self._probe:
            return False
        first = not self.disk.paused
        self._probe = None
        self.disk.failed(error, now_s)
        if first:
            for download in self.plan.downloads.values():
                if not download.done:
                    self._excuse_for_disk(download.meta.name, now_s)
        return True

    def _retry_disk(self, now_s: float) -> None:
        """The backoff is over: try again the first thing the disk refused.
        Its answer ends the pause (``_recovered``) or lengthens it."""
        disk = self.disk
        disk.retry_at_s = float("inf")  # until the answer comes
        probe: Action | None = None
        if disk.unstored is not None:
            digest, piece, data = disk.unstored
            disk.unstored = None
            download = self.plan.downloads.get(digest)
            if download is not None and download.have[piece] == 2:
                probe = WritePiece(digest, piece, data)
            if probe is not None:
                self.out.put(probe)
        if probe is None and disk.unstarted:
            probe = self._start(next(iter(disk.unstarted.values())), now_s)
        if probe is None and disk.unplaced:
            digest = next(iter(disk.unplaced))
            disk.unplaced.discard(digest)
            probe = Place(digest, self.partials[digest].name)
            self.out.put(probe)
        if probe is None:
            self._recovered(now_s)
        else:
            self._probe = probe

    def _recovered(self, now_s: float) -> None:
        self._probe = None
        names = self.disk.recovered(now_s)
        for name in names:
            self.holdings.unexcuse(name)
            self.out.put(ToTracker(CanHoldAgain(name)))
        for meta in list(self.disk.unstarted.values()):
            self._start(meta, now_s)
        for digest in list(self.disk.unplaced):
            self.disk.unplaced.discard(digest)
            self.out.put(Place(digest, self.partials[digest].name))
        for name in names:
            self.consider(name, now_s)
        self.leave_check.news(now_s)
        self.schedule_pump()

    # --- finished files -----------------------------------------------------------------

    def _finish(self, digest: bytes, now_s: float) -> None:
        """Every piece is verified and stored: into Shared with it (the
        disk's answer comes to ``on_placed``)."""
        self.flush_have(only=digest)
        self._drop_download(digest)
        self.out.put(Place(digest, self.partials[digest].name))

    def on_placed(self, action: Place, result: PlaceResult | OSError, what: str | None,
                  now_s: float) -> None:
        """The disk's answer to a Place; ``what`` names what has the name
        when it was taken."""
        digest = action.digest
        meta = self.partials.get(digest)
        if meta is None:
            return
        if isinstance(result, OSError):
            self.disk.unplaced.add(digest)
            self._disk_refused(action, result, now_s)
            self._excuse_for_disk(meta.name, now_s)
            return
        if action is self._probe:
            self._recovered(now_s)
        if result is PlaceResult.NAME_TAKEN:
            what = what or "another file"
            self.out.error("%s appeared in Shared under %r while it was fetched: the swarm's copy "
                           "is discarded, what is there is kept, and the other peers will not "
                           "wait for this one to take it", what, meta.name)
            self.out.put(DropPartial(digest))
            del self.partials[digest]
            self.disk.excused.discard(meta.name)
            self.holdings.unexcuse(meta.name)
            self.excuse(meta.name, f"{what} has that name in its Shared folder", now_s)
            return
        if result is PlaceResult.SAME_FILE_THERE:
            self.out.put(DropPartial(digest))
        del self.partials[digest]
        self.holdings.hold(meta)
        self.out.put(ServeFile(meta))
        self.out.put(ToTracker(Complete(digest)))
        self.out.put(Observe("complete", {"file": meta.name, "size": meta.size_bytes}))
        self.leave_check.news(now_s)
        self.out.info("%r complete", meta.name)

    def drop(self, digest: bytes) -> None:
        """Stop fetching a file and forget what was fetched of it (a copy of
        it, or something else under its name, appeared in Shared; or the
        swarm no longer has it)."""
        self._drop_download(digest)
        self.out.put(DropPartial(digest))
        self.partials.pop(digest, None)
        self._leftovers.pop(digest, None)
        self.disk.forget(digest)

    # --- reports and time ---------------------------------------------------------

    def flush_have(self, only: bytes | None = None) -> None:
        """Report verified chunks to the tracker, all files in one message."""
        digests = [only] if only is not None else list(self._pending_have)
        reports = []
        for digest in digests:
            pieces = self._pending_have.pop(digest, None)
            meta = self.partials.get(digest)
            if not pieces or meta is None:
                continue
            ranges = meta.layout.pieces_to_chunk_ranges(pieces)
            reports.append(HaveReport(digest, tuple(x for pair in ranges for x in pair)))
            self.out.put(Observe("chunks", {"file": meta.name,
                                            "chunks": sum(e - s for s, e in ranges),
                                            "ranges": [list(r) for r in ranges]}))
        if reports:
            self.out.put(ToTracker(Have(tuple(reports))))

    def on_timer(self, now_s: float) -> None:
        if self.disk.due(now_s):
            self._retry_disk(now_s)
        expired = self.plan.expire(now_s)
        for request in expired:
            self.out.info("request to peer %d for piece %d timed out", request.source,
                          request.piece)
        if expired:
            self.schedule_pump()
        if now_s >= self._next_holders_check_s:
            self._refresh_holders(now_s)
        if now_s >= self._next_report_s:
            self.flush_have()
            self._next_report_s = now_s + self.settings.report_interval_s
        for peer_id in self.punches.due(now_s):
            self.out.put(ToTracker(ReverseRequest(peer_id)))

    def next_deadline_s(self) -> float:
        candidates = [self._next_report_s if self._pending_have else float("inf"),
                      self.disk.retry_at_s, self.punches.next_deadline_s()]
        if self.plan.downloads:
            candidates.append(self._next_holders_check_s)
        deadline = self.plan.next_deadline_s()
        if deadline is not None:
            candidates.append(deadline)
        if self._pump_due:
            candidates.append(self._budget_due_s)
        return min(candidates)

    def held_pieces(self, digest: bytes) -> list[int]:
        """Pieces of a download held (for a Join after a restart or a rejoin)."""
        download = self.plan.downloads.get(digest)
        return download.held_pieces() if download else self._leftovers.get(digest, [])

    @property
    def fetching(self) -> bool:
        return any(not d.done for d in self.plan.downloads.values())

    def progress(self) -> list[FileProgress]:
        """The downloads under way, for progress bars."""
        out = []
        for digest, download in self.plan.downloads.items():
            layout = download.layout
            held = min(layout.size_bytes, (layout.pieces - download.missing) * layout.piece_bytes)
            resumed = min(layout.size_bytes, download.resumed_pieces * layout.piece_bytes)
            out.append(FileProgress(digest, download.meta.name, layout.size_bytes, held,
                                    len(download.sources()), download.done, resumed))
        return out

    @property
    def queued(self) -> int:
        """Files to fetch once a download slot frees."""
        return len(self._waiting)

    def summary_fields(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "pieces": plan.pieces_good, "chunks": plan.chunks_good,
            "twice": plan.chunks_wasted, "bad": plan.bad_pieces, "timeouts": plan.timeouts,
            "duplicates": plan.duplicate_requests,
            "banned": sorted(pid for pid, s in plan.sources.items() if s.banned),
        }
