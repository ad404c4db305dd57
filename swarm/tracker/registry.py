"""The swarm as the tracker knows it: its peers and files, and every change
of who holds what (sans-IO).

Peers come (``add_peer``) and go (``remove_peer``: a goodbye, an expiry, an
expulsion); they offer files, report chunks and completions, are excused
from files they cannot hold and withdraw files they no longer hold.  Each
change is published as a numbered event, shown as a stdout block where the
contract says so, and said on stderr where a person should know; all of it
goes into the state's one ``Outbox``.  A bad report is struck here too: a
peer that keeps sending them is expelled.
"""

from __future__ import annotations

from collections.abc import Iterable

from swarm.protocol import display
from swarm.protocol.chunks import ChunkSet, pairs, union_covers
from swarm.protocol.events import (
    FILE_TOPIC,
    Availability,
    Event,
    Excused,
    ExcuseWithdrawn,
    FileAdded,
    FileCompleted,
    FileDropped,
    FileRemoved,
    PeerJoined,
    PeerLeft,
)
from swarm.protocol.fields import MAX_TEXT as MAX_REASON
from swarm.protocol.message_parts import HaveReport, Refusal
from swarm.protocol.messages import ErrorReply
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Level, Outbox, Show
from swarm.tracker.actions import Publish, Send
from swarm.tracker.punch import PunchBoard
from swarm.tracker.rate_meter import CounterMeter, RateMeter
from swarm.tracker.readiness import Readiness
from swarm.tracker.records import FileRecord, PeerRecord

STRIKES_LOGGED = 10  # bad requests logged per peer; beyond, only counted
STRIKES_TO_EXPEL = 50  # a peer that keeps sending bad requests is expelled


class Registry:
    def __init__(self, out: Outbox, punches: PunchBoard) -> None:
        self.out = out
        self.punches = punches  # told when a peer leaves
        self.seq = 0  # the last file event's number: what peers keep in step with
        self.peer_seq = 0  # the last peer event's number (the topic tools follow)
        self.peers: dict[int, PeerRecord] = {}
        self.by_sender: dict[bytes, int] = {}
        self.files: dict[str, FileRecord] = {}
        self.by_digest: dict[bytes, str] = {}
        # Files withdrawn by their holders and removed: reports about them that
        # were on their way are dropped quietly, and partial copies of them
        # do not bring them back.
        self.removed_digests: set[bytes] = set()
        # The one writer of peers' complete and excused sets: it keeps
        # counts that tell at once for whom rules (a) and (b) hold.
        self.readiness = Readiness(self.peers, self.files)
        self._next_id = 1
        # Verified bytes peers have reported receiving since the tracker
        # started (`swarm status`'s bytes moved); a peer's leaving keeps them.
        self.moved_bytes = 0
        self.strikes = 0  # every strike against any peer, the expelled ones' too

    # --- looking up ------------------------------------------------------------------

    def peer_of(self, sender: bytes) -> PeerRecord | None:
        """The joined peer whose requests come from ``sender``."""
        peer_id = self.by_sender.get(sender)
        return self.peers[peer_id] if peer_id is not None else None

    def file_by_digest(self, digest: bytes) -> FileRecord | None:
        name = self.by_digest.get(digest)
        return self.files[name] if name is not None else None

    def available_names(self) -> list[str]:
        return [name for name, record in self.files.items() if record.available]

    # --- peers come and go -------------------------------------------------------------

    def add_peer(self, sender: bytes, endpoint: str, role: int, now_s: float) -> PeerRecord:
        """A new peer, holding nothing yet, under the next id."""
        peer = PeerRecord(self._next_id, sender, endpoint, now_s, RateMeter(now_s),
                          CounterMeter(now_s), role=role)
        self._next_id += 1
        self.peers[peer.peer_id] = peer
        self.by_sender[sender] = peer.peer_id
        self.readiness.peer_joined(peer)
        self._publish(PeerJoined, peer.peer_id, peer.endpoint)
        return peer

    def remove_peer(self, peer: PeerRecord, reason: str) -> None:
        """A peer leaves (``reason``: goodbye, expired, expelled): its
        DISCONNECT block, and the files it held may be lost with it."""
        self.readiness.peer_leaving(peer)
        self.punches.forget(peer.peer_id)
        del self.peers[peer.peer_id]
        del self.by_sender[peer.sender]
        self.out.put(Show(display.Disconnect(peer.peer_id, sorted(peer.received), reason)))
        self._publish(PeerLeft, peer.peer_id)
        for name in sorted(peer.touched):
            record = self.files[name]
            record.holders.pop(peer.peer_id, None)
            record.named.pop(peer.peer_id, None)
            self._refresh_availability(record)

    def strike(self, peer: PeerRecord, reason: str) -> bool:
        """A bad request from a peer: said on stderr, answered, and counted;
        a peer that keeps at it is expelled.  True when it was."""
        peer.strikes += 1
        self.strikes += 1
        if peer.strikes <= STRIKES_LOGGED:
            self.out.warning("peer %d: refused: %s", peer.peer_id, reason)
        self.out.put(Send(peer.sender, ErrorReply(reason[:MAX_REASON])))
        if peer.strikes >= STRIKES_TO_EXPEL:
            self.out.warning("peer %d expelled after %d bad requests", peer.peer_id,
                             peer.strikes)
            self.remove_peer(peer, "expelled")
            return True
        return False

    # --- what peers hold -----------------------------------------------------------------

    def offer(self, peer: PeerRecord, files: Iterable[FileMeta]) -> list[Refusal]:
        """Files a peer holds whole; those the swarm has with other content
        are refused (and the peer excused from them)."""
        refused: list[Refusal] = []
        for meta in files:
            record = self.files.get(meta.name)
            if meta.name in peer.complete:
                continue  # offered twice: nothing changes
            if record is not None and record.meta.digest != meta.digest:
                reason = (f"the swarm already has {meta.name!r} with other content "
                          f"(digest {record.meta.short_digest}, offered {meta.short_digest})")
                self.out.warning("peer %d: refused offer: %s", peer.peer_id, reason)
                refused.append(Refusal(meta.name, reason))
                if meta.name not in peer.excused:
                    self.readiness.set_excused(peer, meta.name, True)
                    self._publish(Excused, peer.peer_id, meta.name)
                continue
            if record is None:
                record = FileRecord(meta, available=True)
                self.files[meta.name] = record
                self.by_digest[meta.digest] = meta.name
                self.removed_digests.discard(meta.digest)
                self.readiness.file_added(meta.name)
                self._publish(FileAdded, record.summary(), peer.peer_id)
            record.holders[peer.peer_id] = ChunkSet.full(meta.chunks)
            record.ever_held = ChunkSet.full(meta.chunks)
            peer.touched.add(meta.name)
            self.readiness.set_complete(peer, meta.name, True)
            self._publish(FileCompleted, peer.peer_id, meta.name)
            self._refresh_availability(record)
        return refused

    def take_partial(self, peer: PeerRecord, meta: FileMeta,
                     ranges: list[tuple[int, int]]) -> None:
        """Chunks a joining peer kept from an earlier run (a partial of its
        Join), shown as its ACQUIRED lines: a peer restarted in the same
        folder is a new peer that brings data with it, and each id's CONNECT
        offers and ACQUIRED lines are what it holds.  The join shows them
        after its CONNECT block.

        Believed as they come, unlike a Have report's chunks that no peer
        ever had: they are pieces the peer verified against the file's
        hashes as it started, and when the tracker itself has restarted they
        are all the swarm has of the file (an offer of a whole file is
        believed the same way)."""
        record = self.files.get(meta.name)
        if record is not None and record.meta.digest != meta.digest:
            self.out.warning("peer %d: partial %r has other content than the swarm's; ignored",
                             peer.peer_id, meta.name)
            return
        if record is None:
            if meta.digest in self.removed_digests:
                self.out.info("peer %d: partial %r is of a file removed from the swarm; "
                              "ignored", peer.peer_id, meta.name)
                return
            record = FileRecord(meta, available=False)
            self.files[meta.name] = record
            self.by_digest[meta.digest] = meta.name
            self.readiness.file_added(meta.name)
            self._publish(FileAdded, record.summary(), peer.peer_id)
        chunks = record.holders.setdefault(peer.peer_id, ChunkSet())
        new: list[tuple[int, int]] = []
        for start, end in ranges:
            new.extend(chunks.add(start, end))
            record.ever_held.add(start, end)
        peer.touched.add(meta.name)
        if new:
            # Not counted as bytes moved: they came from the disk, not the swarm.
            self.out.put(Show(display.Acquired(peer.peer_id, meta.name, meta.chunks, new,
                                               brought=True)))
        self._refresh_availability(record)

    def take_reports(self, peer: PeerRecord, reports: Iterable[HaveReport],
                     now_s: float) -> None:
        """Chunks a peer has verified: the new ones are ACQUIRED lines.
        Chunks no peer ever had, or past a file's end, are struck."""
        for report in reports:
            record = self.file_by_digest(report.digest)
            if record is None:
                if report.digest in self.removed_digests:
                    continue  # sent before the news of its removal arrived
                if self.strike(peer, "chunks reported for an unknown file"):
                    return
                continue
            total = record.meta.chunks
            chunks = record.holders.setdefault(peer.peer_id, ChunkSet())
            peer.touched.add(record.meta.name)
            new: list[tuple[int, int]] = []
            for start, end in pairs(report.ranges):
                problem = None
                if end > total:
                    problem = f"{record.meta.name!r} has only {total}"
                elif not record.ever_held.contains_range(start, end):
                    problem = "no peer ever had them to give"
                if problem is not None:
                    if self.strike(peer, f"chunks {start}-{end}: {problem}"):
                        return
                    continue
                new.extend(chunks.add(start, end))
            if new:
                self.out.put(Show(display.Acquired(peer.peer_id, record.meta.name, total, new)))
                self._count_received(peer, record, new, now_s)
            if not record.available:
                self._refresh_availability(record)

    def complete(self, peer: PeerRecord, digest: bytes) -> None:
        """A peer holds a file whole, every chunk of it reported."""
        record = self.file_by_digest(digest)
        if record is None:
            if digest not in self.removed_digests:
                self.strike(peer, "complete: unknown file")
            return
        name = record.meta.name
        if name in peer.complete:
            return
        chunks = record.holders.get(peer.peer_id)
        held = len(chunks) if chunks is not None else 0
        if held != record.meta.chunks:
            # Checked before anything is recorded: a refused claim leaves no trace.
            self.strike(peer, f"complete: {name!r} has {held} of "
                        f"{record.meta.chunks} chunks reported")
            return
        if chunks is None:  # an empty file: whole without a single chunk
            record.holders[peer.peer_id] = ChunkSet()
        peer.touched.add(name)
        self.readiness.set_complete(peer, name, True)
        peer.received.add(name)
        self._publish(FileCompleted, peer.peer_id, name)
        self._refresh_availability(record)

    def excuse(self, peer: PeerRecord, name: str, reason: str) -> None:
        """The peer cannot take the swarm's file of that name: excused."""
        if name not in self.files or name in peer.complete or name in peer.excused:
            return  # removed meanwhile, or nothing changes
        self.out.info("peer %d cannot hold %r: %s", peer.peer_id, name, reason)
        self.readiness.set_excused(peer, name, True)
        self._publish(Excused, peer.peer_id, name)

    def unexcuse(self, peer: PeerRecord, name: str) -> None:
        if name not in peer.excused:
            return
        self.out.info("peer %d can hold %r again", peer.peer_id, name)
        self.readiness.set_excused(peer, name, False)
        self._publish(ExcuseWithdrawn, peer.peer_id, name)

    def withdraw(self, peer: PeerRecord, digest: bytes, reason: str) -> None:
        """The peer no longer holds a file.  If the living peers no longer
        cover it, nobody ever will: the file is removed and its name is free."""
        record = self.file_by_digest(digest)
        if record is None:
            return  # removed already
        name = record.meta.name
        held = record.holders.pop(peer.peer_id, None)
        was_complete = name in peer.complete
        self.readiness.set_complete(peer, name, False)
        peer.touched.discard(name)
        if held is None and not was_complete:
            return
        self.out.warning("peer %d no longer holds %r: %s", peer.peer_id, name, reason)
        self._publish(FileDropped, peer.peer_id, name)
        if self._covered(record):
            self._refresh_availability(record)
        else:
            self._remove_file(record)

    # --- inside -------------------------------------------------------------------------

    def _publish(self, make: type[Event], *fields: object) -> None:
        """An event, numbered on its topic."""
        if make.TOPIC == FILE_TOPIC:
            self.seq += 1
            self.out.put(Publish(make(self.seq, *fields)))
        else:
            self.peer_seq += 1
            self.out.put(Publish(make(self.peer_seq, *fields)))

    def _count_received(self, peer: PeerRecord, record: FileRecord,
                        new: list[tuple[int, int]], now_s: float) -> None:
        """Verified bytes newly reported, for `swarm status`: per report,
        not per chunk (a run of chunks is one subtraction)."""
        layout = record.meta.layout
        received = sum(layout.chunk_byte_range(s, e)[1] for s, e in new)
        peer.intake.add(received, now_s)
        if record.intake is None:
            record.intake = RateMeter(now_s)
        record.intake.add(received, now_s)
        self.moved_bytes += received

    def _remove_file(self, record: FileRecord) -> None:
        name = record.meta.name
        self.readiness.file_removing(name)
        del self.files[name]
        del self.by_digest[record.meta.digest]
        self.removed_digests.add(record.meta.digest)
        for peer in self.peers.values():
            peer.touched.discard(name)
        self.out.warning("file %r removed from the swarm: its holders withdrew it and the "
                         "living peers do not cover it", name)
        self._publish(FileRemoved, name)

    def _covered(self, record: FileRecord) -> bool:
        """Do the living peers together hold every chunk of the file?"""
        # One whole copy settles it, and there nearly always is one: the
        # union of every holder's chunks is walked only when there is not
        # (each leaving peer asks this of every file it touched).  An empty
        # file is available while, and only while, somebody has it whole.
        name = record.meta.name
        if any(name in self.peers[pid].complete for pid in record.holders):
            return True
        chunks = record.meta.chunks
        return chunks > 0 and union_covers(record.holders.values(), chunks)

    def _refresh_availability(self, record: FileRecord) -> None:
        available = self._covered(record)
        if available != record.available:
            record.available = available
            self.readiness.availability_changed(record.meta.name)
            self._publish(Availability, record.meta.name, available)
            if available and not record.lost_once:
                self.out.info("file %r is available: the living peers cover it", record.meta.name)
                return
            record.lost_once = True
            state = "available again" if available else "lost: the living peers no longer cover it"
            # Worth a warning while a living peer still wants it; when the
            # last one has left, or all are excused, it is lost to nobody.
            name = record.meta.name
            wanted = any(name not in p.complete and name not in p.excused
                         for p in self.peers.values())
            level = Level.WARNING if wanted else Level.INFO
            self.out.say(level, "file %r is %s", record.meta.name, state)
