"""Fetching, a peer's half that takes files in (pure): which of the swarm's
files to fetch and when, and the life of a download -- its hash list from
the tracker, its partial file, its verified pieces stored, the finished
file placed in Shared.  Driven by ``PeerState``; what it wants done goes
into the shared ``Outbox`` as actions, and the disk's answers come back
through ``on_*`` methods.  Asking sources for pieces is ``PieceRequests``'
job, keeping the partial files and reporting what they hold
``PartialFiles``'.

A file this peer cannot take -- something else has its name in Shared, or
the disk refuses the writes -- is never waited for: the peer tells the
tracker it cannot hold it (``CannotHold``), and the others are excused from
waiting.  A refused write pauses all fetching (``DiskTrouble``); when the
backoff is over, the first thing refused is tried again, and once it works
the peer takes its excuses back (``CanHoldAgain``) and goes on.
"""

from __future__ import annotations

from swarm.peer.actions import DropPartial, Place, ServeFile, StartPartial, ToTracker, WritePiece
from swarm.peer.disk import PlaceResult
from swarm.peer.disk_trouble import DiskTrouble
from swarm.peer.holder_queries import QUERY_RETRY_S
from swarm.peer.holdings import Holdings
from swarm.peer.leave_check import LeaveCheck
from swarm.peer.mode import Mode
from swarm.peer.partial_files import PartialFiles
from swarm.peer.piece_requests import PieceRequests
from swarm.peer.swarm_view import SwarmView
from swarm.peer.transfer_plan import TransferPlan
from swarm.protocol.fields import MAX_TEXT
from swarm.protocol.messages import (
    CanHoldAgain,
    CannotHold,
    Complete,
    Holders,
    Message,
    MetaQuery,
    MetaReply,
)
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Action, Observe, Outbox

# Files fetched at once (the others wait, and start in random order as these
# finish): enough to keep every source busy, few enough that a peer joining
# a swarm of hundreds of files does not put hundreds of questions to the
# tracker at once, and that a file's first holder is not asked by every
# peer at the same moment.
MAX_ACTIVE_DOWNLOADS = 8


class Fetcher:
    def __init__(self, out: Outbox, view: SwarmView, holdings: Holdings, mode: Mode,
                 leave_check: LeaveCheck, plan: TransferPlan, requests: PieceRequests,
                 partials: PartialFiles) -> None:
        """``view``: the swarm's files; ``holdings``: this peer's; ``mode``:
        which of the swarm's files to fetch -- all of them, unless this is a
        get (the files it names) or a seed (none); ``leave_check``: told of
        what changes that the leave rule reads."""
        self.out = out
        self.view = view
        self.holdings = holdings
        self.mode = mode
        self.leave_check = leave_check
        self.plan = plan
        self.requests = requests
        self.partials = partials
        self.disk = DiskTrouble(out)
        self._meta_asked: dict[bytes, float] = {}
        self._waiting: set[str] = set()  # names to fetch once a download slot frees

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
        if summary.digest in self.partials.by_digest:
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
        """Start fetching ``name`` if we should."""
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
            elif self.partials.is_leftover(summary.digest):
                self._start(self.partials.by_digest[summary.digest], now_s)
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

    def meta_arrived(self, reply: MetaReply, self_id: int | None, now_s: float) -> None:
        """The meta asked for, with the holders to start from."""
        meta = reply.meta
        self._meta_asked.pop(meta.digest, None)
        summary = self.view.files.get(meta.name)
        if summary is None or summary.digest != meta.digest:
            return
        if meta.digest in self.plan.downloads or meta.name in self.holdings.local:
            return
        self._start(meta, now_s, (Holders(meta.digest, reply.holders), self_id))

    def tracker_forgot_us(self) -> None:
        """Questions put to a tracker that no longer knows us (it expired us
        or restarted) will not be answered: they are asked again at once."""
        self._meta_asked.clear()
        self.requests.tracker_forgot_us()

    # --- a download's life ------------------------------------------------------------

    def _start(self, meta: FileMeta, now_s: float,
               holders: tuple[Holders, int | None] | None = None) -> StartPartial | None:
        """Start fetching a file: its partial file is created (the disk's
        answer comes to ``on_started``), and the requests can go out, to
        ``holders`` (the answer that came with the meta, and this peer's id)
        or to those the tracker is asked for."""
        if meta.name in self.holdings.local or meta.name in self.holdings.excused:
            return None
        self.disk.unstarted.pop(meta.digest, None)
        held = self.partials.take_up(meta)
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
            if holders is None:
                self.requests.ask_holders(meta.digest, now_s)
            else:
                self.requests.holders_arrived(*holders, now_s)
        return start

    def on_started(self, action: StartPartial, error: OSError | None, now_s: float) -> None:
        """The disk's answer to a StartPartial."""
        if error is None:
            if action is self.disk.probe:
                self._recovered(now_s)
            return
        meta = action.meta
        self.requests.drop_download(meta.digest)
        self.partials.forget(meta.digest)
        self.disk.unstarted[meta.digest] = meta
        self._disk_refused(action, error, now_s)
        self._excuse_for_disk(meta.name, now_s)

    def on_reply(self, peer_id: int, message: Message, payload: memoryview | None,
                 now_s: float) -> None:
        """A source's answer: a verified piece in it is written."""
        verified = self.requests.on_reply(peer_id, message, payload, now_s)
        if verified is None or verified.download is None or payload is None:
            return
        if self.disk.paused:  # it would fail too: fetched again once writes work
            self.plan.piece_lost(verified.download, verified.piece)
            return
        self.out.put(WritePiece(verified.download.digest, verified.piece, payload))

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
        self.partials.stored(download.digest, action.piece)
        if download.done:
            self._finish(download.digest, now_s)
        if action is self.disk.probe:
            self._recovered(now_s)

    def _finish(self, digest: bytes, now_s: float) -> None:
        """Every piece is verified and stored: into Shared with it (the
        disk's answer comes to ``on_placed``; the chunks not yet reported go
        with the Complete that follows)."""
        self.requests.drop_download(digest)
        self.out.put(Place(digest, self.partials.by_digest[digest].name))

    def on_placed(self, action: Place, result: PlaceResult | OSError, what: str | None,
                  now_s: float) -> None:
        """The disk's answer to a Place; ``what`` names what has the name
        when it was taken."""
        digest = action.digest
        meta = self.partials.by_digest.get(digest)
        if meta is None:
            return
        if isinstance(result, OSError):
            self.disk.unplaced.add(digest)
            self._disk_refused(action, result, now_s)
            self._excuse_for_disk(meta.name, now_s)
            return
        if action is self.disk.probe:
            self._recovered(now_s)
        if result is PlaceResult.NAME_TAKEN:
            what = what or "another file"
            self.out.error("%s appeared in Shared under %r while it was fetched: the swarm's copy "
                           "is discarded, what is there is kept, and the other peers will not "
                           "wait for this one to take it", what, meta.name)
            self.out.put(DropPartial(digest))
            self.partials.forget(digest)
            self.disk.excused.discard(meta.name)
            self.holdings.unexcuse(meta.name)
            self.excuse(meta.name, f"{what} has that name in its Shared folder", now_s)
            return
        if result is PlaceResult.SAME_FILE_THERE:
            self.out.put(DropPartial(digest))
        reports = self.partials.final_report(digest)
        self.partials.forget(digest)
        self.holdings.hold(meta)
        self.out.put(ServeFile(meta))
        self.out.put(ToTracker(Complete(digest, reports)))
        self.out.put(Observe("complete", {"file": meta.name, "size": meta.size_bytes}))
        self.leave_check.news(now_s)
        self.out.info("%r complete", meta.name)

    def drop(self, digest: bytes) -> None:
        """Stop fetching a file and forget what was fetched of it (a copy of
        it, or something else under its name, appeared in Shared; or the
        swarm no longer has it)."""
        self.requests.drop_download(digest)
        self.out.put(DropPartial(digest))
        self.partials.forget(digest)
        self.disk.forget(digest)

    def local_file_appeared(self, meta: FileMeta) -> None:
        """A file of this peer's own appeared in Shared: fetching the very
        same file, or the swarm's file under its name, stops."""
        if meta.digest in self.plan.downloads:
            self.drop(meta.digest)
        summary = self.view.files.get(meta.name)
        if summary is not None and summary.digest in self.plan.downloads:
            self.drop(summary.digest)

    def file_removed(self, name: str, now_s: float) -> None:
        """The swarm no longer has ``name``: what we fetched of it is of no use,
        and whatever kept us from taking it no longer matters."""
        current = self.view.files.get(name)
        for digest, meta in list(self.partials.by_digest.items()):
            if meta.name == name and (current is None or current.digest != digest):
                self.out.info("dropping what was fetched of %r: the swarm no longer has it", name)
                self.drop(digest)
        self.holdings.unexcuse(name)
        self.disk.excused.discard(name)
        self.leave_check.news(now_s)

    def drop_unlisted(self) -> None:
        """As the welcome's snapshot is taken: a partial file of ours (a
        leftover of an earlier run, or a download under way before a
        rejoin) whose file the swarm does not list under its name with its
        digest had its file removed or changed while this peer was away.
        Dropped, as when a file is removed under a running peer; kept, it
        would stay on disk and be offered at every start.  (A tracker that did
        not know the file at all took it from our Join: it is listed.)"""
        for digest, meta in list(self.partials.by_digest.items()):
            listed = self.view.files.get(meta.name)
            if listed is None or listed.digest != digest:
                self.out.info("dropping what was fetched of %r: the swarm no longer has it",
                              meta.name)
                self.drop(digest)

    # --- a disk that refuses writes ---------------------------------------------------

    def _disk_refused(self, action: Action, error: OSError, now_s: float) -> bool:
        """The disk refused an action; True when that is a try that counts
        (``DiskTrouble.refused``).  The first one pauses fetching, and
        nobody is to wait for the files under way."""
        first = not self.disk.paused
        if not self.disk.refused(action, error, now_s):
            return False
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
            probe = Place(digest, self.partials.by_digest[digest].name)
            self.out.put(probe)
        if probe is None:
            self._recovered(now_s)
        else:
            disk.probe = probe

    def _recovered(self, now_s: float) -> None:
        names = self.disk.recovered(now_s)
        for name in names:
            self.holdings.unexcuse(name)
            self.out.put(ToTracker(CanHoldAgain(name)))
        for meta in list(self.disk.unstarted.values()):
            self._start(meta, now_s)
        for digest in list(self.disk.unplaced):
            self.disk.unplaced.discard(digest)
            self.out.put(Place(digest, self.partials.by_digest[digest].name))
        for name in names:
            self.consider(name, now_s)
        self.leave_check.news(now_s)
        self.requests.schedule_pump()

    # --- time ---------------------------------------------------------------------

    def flush(self, now_s: float) -> None:
        """Start waiting files where download slots are free, and send the
        requests that the messages handled since the last call made possible
        (called after each batch, only while the peer is in the swarm)."""
        if self._waiting:
            self._start_waiting(now_s)
        if not self.disk.paused:
            self.requests.pump(now_s, more_files_to_come=bool(self._waiting))

    def on_timer(self, now_s: float) -> None:
        if self.disk.due(now_s):
            self._retry_disk(now_s)
        self.requests.on_timer(now_s)
        self.partials.on_timer(now_s)

    def next_deadline_s(self) -> float:
        return min(self.partials.next_deadline_s(), self.disk.retry_at_s,
                   self.requests.next_deadline_s())

    @property
    def fetching(self) -> bool:
        return any(not d.done for d in self.plan.downloads.values())

    @property
    def queued(self) -> int:
        """Files to fetch once a download slot frees."""
        return len(self._waiting)
