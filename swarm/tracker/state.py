"""The tracker's registry, free of sockets.

``TrackerState.handle(sender, message, address, now)`` takes one request and
returns the actions it decided, in order: messages to send (each to a routing
id), events to publish (already numbered), stdout blocks, lines for stderr
and entries of the ``--events`` log.  ``expire(now)`` drops silent peers;
``bad_request`` takes a request the IO side could not decode.  The IO loop
owns the sockets and the clock; nothing here blocks or reads time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from swarm.protocol import display
from swarm.protocol.addresses import tcp_endpoint
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
from swarm.protocol.message_parts import (
    FileListing,
    FileSummary,
    HolderRanges,
    PeerSummary,
    PeerTraffic,
    Refusal,
)
from swarm.protocol.messages import (
    PROTOCOL_VERSION,
    CanHoldAgain,
    CannotHold,
    Complaint,
    Complete,
    ConnectTo,
    ErrorReply,
    Farewell,
    Goodbye,
    Have,
    Heartbeat,
    Hello,
    HelloReply,
    Holders,
    HoldersQuery,
    Join,
    LeaveQuery,
    LeaveStatus,
    Listing,
    ListQuery,
    Message,
    MetaQuery,
    MetaReply,
    NotYet,
    Offer,
    Pong,
    Punch,
    PunchReady,
    Refused,
    Rejoin,
    ReverseRequest,
    ReverseToken,
    Snapshot,
    SyncRequest,
    Welcome,
    Withdraw,
)
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Action, Level, Outbox, Show
from swarm.protocol.record import Record, field
from swarm.protocol.roles import ROLE_GET, ROLE_NAMES, ROLE_PEER, ROLE_SEED
from swarm.tracker.actions import Publish, Send
from swarm.tracker.entries import entries
from swarm.tracker.leave_rules import unmet_a, unmet_b
from swarm.tracker.punch import Decision, PunchBoard, punch_endpoint
from swarm.tracker.rate_meter import CounterMeter, RateMeter
from swarm.tracker.readiness import Readiness

COMPLAINTS_LOGGED_PER_PEER = 20  # beyond this, complaints are counted, not logged
STRIKES_LOGGED = 10  # bad requests logged per peer; beyond, only counted
STRIKES_TO_EXPEL = 50  # a peer that keeps sending bad requests is expelled
BAD_REQUESTS_ANSWERED = 10  # per stranger; then its undecodable requests are only dropped
STRANGERS_REMEMBERED = 10_000  # bounds the memory a flood of new senders can take
# Holders named in one answer: enough sources to fill a peer's credit many
# times over (Kraken's agents keep at most 10 per blob), few enough that a
# wide swarm costs each answer nothing more.
MAX_HOLDERS_ANSWERED = 16
MIN_COMPLETE_ANSWERED = 2
NAMING_POOL_FACTOR = 4  # holders drawn per holder named, the least named of them win


class PeerRecord(Record, frozen=False):
    peer_id: int
    sender: bytes
    endpoint: str
    last_seen_s: float
    intake: RateMeter  # bytes of verified chunks it reports, for `swarm status`
    outflow: CounterMeter  # bytes it says it served, from its heartbeats
    complete: set[str] = field(default_factory=set)
    received: set[str] = field(default_factory=set)
    excused: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)  # files it holds chunks of
    complaints_against: int = 0
    strikes: int = 0  # refused or malformed requests
    told_ready: bool | None = None  # the last LeaveStatus sent it
    role: int = ROLE_PEER  # a one-shot client (get, seed) is waited for by nobody


class FileRecord(Record, frozen=False):
    meta: FileMeta
    available: bool
    holders: dict[int, ChunkSet] = field(default_factory=dict)
    # Every chunk any peer has ever held: a peer claiming chunks outside it
    # claims what it cannot have fetched from anyone.
    ever_held: ChunkSet = field(default_factory=ChunkSet)
    # How often each holder has been named in an answer: the least named
    # are named first, so no early holder is handed to everyone.
    named: dict[int, int] = field(default_factory=dict)
    # Bytes of it peers report receiving, for `swarm status`; made at the
    # first report, so a file nobody fetches costs nothing.
    intake: RateMeter | None = None

    def summary(self) -> FileSummary:
        m = self.meta
        return FileSummary(m.name, m.size_bytes, m.digest, self.available)


class TrackerFigures(Record):
    """Running totals since the tracker started, for monitoring (the
    metrics): what the actions cannot tell (a strike's answer looks like
    any other error reply)."""

    moved_bytes: int  # verified bytes peers have reported receiving
    strikes: int  # requests from peers refused as bad


class TrackerState:
    def __init__(self, pub_port: int, expiry_s: float, new_token: Callable[[], bytes],
                 rng: random.Random, echo_ports: tuple[int, ...] = ()) -> None:
        self.pub_port = pub_port
        self.echo_ports = echo_ports  # the address echoes a peer learns its mapping from
        self.expiry_s = expiry_s
        # Tokens for reversed connections, TOKEN_BYTES of randomness each, and
        # the draw of holders to name: injected, so the state draws no
        # randomness of its own and tests pin it.
        self.new_token = new_token
        self.rng = rng
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
        self.punches = PunchBoard()
        self._next_id = 1
        # Verified bytes peers have reported receiving since the tracker
        # started (`swarm status`'s bytes moved); a peer's leaving keeps them.
        self.moved_bytes = 0
        self.strikes = 0  # every strike against any peer, the expelled ones' too
        # Senders not joined whose requests could not be decoded, and how many.
        self._strangers: dict[bytes, int] = {}
        self.out = Outbox()
        # No peer expires before this: a bound kept so that expiry costs a
        # walk over the peers once per expiry period, not once per request
        # (last_seen_s only grows, so a bound found by a walk stays true).
        self._expiry_due_s = float("inf")

    # --- entry points --------------------------------------------------------

    def handle(self, sender: bytes, message: Message, address: str,
               now_s: float) -> list[Action]:
        """One request from ``sender`` (a routing id) seen from ``address``."""
        self._handle(sender, message, address, now_s)
        return self._finish()

    def _handle(self, sender: bytes, message: Message, address: str, now_s: float) -> None:
        if isinstance(message, Join):
            self._join(sender, message, address, now_s)
            return
        if isinstance(message, ListQuery):
            self.out.put(Send(sender, self.listing(now_s)))
            return
        if isinstance(message, Hello):
            self.out.put(Send(sender, HelloReply(PROTOCOL_VERSION, self.pub_port,
                                                 self.echo_ports)))
            return
        peer_id = self.by_sender.get(sender)
        if peer_id is None:
            self.out.put(Send(sender, Rejoin()))
            return
        peer = self.peers[peer_id]
        peer.last_seen_s = now_s
        handler = PEER_REQUESTS.get(type(message))
        if handler is None:
            self._strike(peer, f"{type(message).__name__} is not a request a tracker takes")
        else:
            handler(self, peer, message, now_s)

    def bad_request(self, sender: bytes, reason: str) -> list[Action]:
        """A request from ``sender`` that could not be decoded, for
        ``reason``.  A peer's is a strike against it (it is not a sign of
        life); a stranger's is answered and said a few times, then only
        dropped, so a flood costs little and cannot be turned against
        anyone else."""
        peer_id = self.by_sender.get(sender)
        if peer_id is not None:
            self._strike(self.peers[peer_id], f"bad request: {reason}")
            return self._finish()
        if len(self._strangers) > STRANGERS_REMEMBERED:
            self._strangers.clear()
        count = self._strangers.get(sender, 0) + 1
        self._strangers[sender] = count
        if count <= BAD_REQUESTS_ANSWERED:
            self.out.warning("dropped a bad request from %s: %s", sender.hex()[:12], reason)
            self.out.put(Send(sender, ErrorReply(f"bad request: {reason}"[:MAX_REASON])))
        return self._finish()

    def _meta_reply(self, digest: bytes) -> Message:
        record = self._file_by_digest(digest)
        if record is not None:
            return MetaReply(record.meta)
        return ErrorReply("removed file" if digest in self.removed_digests else "unknown file")

    def _offer_request(self, peer: PeerRecord, offer: Offer) -> None:
        refused = self._offer(peer, offer.files)
        if refused:
            self.out.put(Send(peer.sender, Refused(tuple(refused))))

    def expire(self, now_s: float) -> list[Action]:
        """Drop the peers silent for longer than ``expiry_s``."""
        if now_s <= self._expiry_due_s:
            return self.out.take()
        for peer in list(self.peers.values()):
            silent_s = now_s - peer.last_seen_s
            if silent_s > self.expiry_s:
                self.out.warning("peer %d expired: silent for %.1f s (limit %.1f s)",
                            peer.peer_id, silent_s, self.expiry_s)
                self._remove(peer, "expired")
        self._expiry_due_s = min((p.last_seen_s for p in self.peers.values()),
                                 default=float("inf")) + self.expiry_s
        return self._finish()

    def _finish(self) -> list[Action]:
        """The end of every entry point: peers hear where they stand, and
        tools what was shown and published."""
        self._tell_readiness()
        actions = self.out.take()
        actions += entries(actions, self.peers)
        return actions

    def _tell_readiness(self) -> None:
        """Tell each peer whose readiness changed whether rules (a) and (b)
        now hold for it (and, if not, why)."""
        for pid in sorted(self.readiness.take_changed()):
            peer = self.peers[pid]
            ready = self.readiness.ready(pid)
            if ready != peer.told_ready:
                peer.told_ready = ready
                reason = self.readiness.blocker(pid)[:MAX_REASON]
                self.out.put(Send(peer.sender, LeaveStatus(ready, reason)))

    def figures(self) -> TrackerFigures:
        """The running totals the metrics show (a query: changes nothing)."""
        return TrackerFigures(self.moved_bytes, self.strikes)

    def next_expiry_s(self) -> float | None:
        """When ``expire`` may next find a peer silent too long (it may find
        none: a peer heard from since counts only at that walk)."""
        if not self.peers:
            return None
        return self._expiry_due_s

    # --- views ---------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(self.seq, self._file_summaries())

    def listing(self, now_s: float) -> Listing:
        files = []
        for name in sorted(self.files):
            record = self.files[name]
            complete = sorted(
                pid for pid in record.holders if name in self.peers[pid].complete
            )
            partial = sorted(
                (pid, len(chunks))
                for pid, chunks in record.holders.items()
                if name not in self.peers[pid].complete and len(chunks)
            )
            rate = round(record.intake.rate(now_s)) if record.intake is not None else 0
            files.append(FileListing(record.summary(), tuple(complete), tuple(partial), rate))
        traffic = tuple(
            PeerTraffic(p.peer_id, round(p.intake.rate(now_s)), round(p.outflow.rate(now_s)),
                        round(p.intake.added_total), p.outflow.believed_total)
            for p in sorted(self.peers.values(), key=lambda p: p.peer_id))
        return Listing(self.seq, self._peer_summaries(), tuple(files), traffic, self.moved_bytes)

    def available_names(self) -> list[str]:
        return [name for name, record in self.files.items() if record.available]

    def _peer_summaries(self) -> tuple[PeerSummary, ...]:
        return tuple(
            PeerSummary(p.peer_id, p.endpoint, tuple(sorted(p.complete)), tuple(sorted(p.excused)),
                        p.role)
            for p in sorted(self.peers.values(), key=lambda p: p.peer_id)
        )

    def _file_summaries(self) -> tuple[FileSummary, ...]:
        return tuple(self.files[name].summary() for name in sorted(self.files))

    def _holders(self, asker: PeerRecord, query: HoldersQuery) -> Message:
        """At most MAX_HOLDERS_ANSWERED holders of a file that hold something
        of it (at least a couple of complete ones when there are), the least
        named so far first: what a peer hears stays the same size however
        wide the swarm, and requests spread over the holders instead of
        piling onto the first ones."""
        record = self._file_by_digest(query.digest)
        if record is None:
            if query.digest in self.removed_digests:  # asked before the news arrived
                return Holders(query.digest, ())
            return ErrorReply("unknown file")
        total = record.meta.chunks
        first = min(query.first_chunk, total)
        end = total if query.chunk_count == 0 else min(total, first + query.chunk_count)
        name = record.meta.name
        complete: list[int] = []
        partial: list[int] = []
        for pid, chunks in record.holders.items():
            if pid == asker.peer_id or not chunks:
                continue  # a downloader that holds nothing yet is no source
            (complete if name in self.peers[pid].complete else partial).append(pid)
        chosen = self._least_named(record, complete, MIN_COMPLETE_ANSWERED)
        taken = set(chosen)
        chosen += self._least_named(record, [p for p in complete if p not in taken] + partial,
                                    MAX_HOLDERS_ANSWERED - len(chosen))
        holders = []
        for pid in sorted(chosen):
            record.named[pid] = record.named.get(pid, 0) + 1
            chunks = record.holders[pid]
            ranges = chunks.to_flat() if (first, end) == (0, total) else chunks.clip(first, end)
            if ranges:
                holders.append(HolderRanges(pid, self.peers[pid].endpoint, tuple(ranges)))
        return Holders(query.digest, tuple(holders))

    def _least_named(self, record: FileRecord, pids: list[int], count: int) -> list[int]:
        """``count`` of ``pids``: the least named of a random draw of a few
        times ``count`` (ties fall at random), so a draw costs the same
        however many hold the file."""
        if len(pids) <= count:
            return pids
        pool = self.rng.sample(pids, min(len(pids), NAMING_POOL_FACTOR * count))
        pool.sort(key=lambda pid: record.named.get(pid, 0))
        return pool[:count]

    def _file_by_digest(self, digest: bytes) -> FileRecord | None:
        name = self.by_digest.get(digest)
        return self.files[name] if name is not None else None

    # --- requests ------------------------------------------------------------

    def _publish(self, make: type[Event], *fields: object) -> None:
        if make.TOPIC == FILE_TOPIC:
            self.seq += 1
            self.out.put(Publish(make(self.seq, *fields)))
        else:
            self.peer_seq += 1
            self.out.put(Publish(make(self.peer_seq, *fields)))

    def _join(self, sender: bytes, join: Join, address: str, now_s: float) -> None:
        if sender in self.by_sender:
            pid = self.by_sender[sender]
            self.out.put(Send(sender, ErrorReply(f"already joined as peer {pid}")))
            return
        peer_id = self._next_id
        self._next_id += 1
        peer = PeerRecord(peer_id, sender, tcp_endpoint(address, join.listen_port), now_s,
                          RateMeter(now_s), CounterMeter(now_s), role=join.role)
        self.peers[peer_id] = peer
        self.by_sender[sender] = peer_id
        self._expiry_due_s = min(self._expiry_due_s, now_s + self.expiry_s)
        self.readiness.peer_joined(peer)
        self._publish(PeerJoined, peer_id, peer.endpoint)
        refused = self._offer(peer, join.files)
        for partial in join.partials:
            self._take_partial(peer, partial.meta, pairs(partial.ranges))
        offered = sorted((name, self.files[name].meta.chunks) for name in peer.complete)
        self.out.put(Show(display.Connect(peer_id, offered)))
        self.out.put(Send(sender, Welcome(peer_id, self.snapshot(), tuple(refused))))
        self.out.info("peer %d (%s) joined from %s offering %d file(s)", peer_id,
                 ROLE_NAMES[join.role], peer.endpoint, len(offered))

    def _offer(self, peer: PeerRecord, files: Iterable[FileMeta]) -> list[Refusal]:
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

    def _take_partial(self, peer: PeerRecord, meta: FileMeta,
                      ranges: list[tuple[int, int]]) -> None:
        record = self.files.get(meta.name)
        if record is not None and record.meta.digest != meta.digest:
            self.out.warning("peer %d: partial %r has other content than the swarm's; ignored",
                        peer.peer_id, meta.name)
            return
        if record is None:
            if meta.digest in self.by_digest or meta.digest in self.removed_digests:
                return
            record = FileRecord(meta, available=False)
            self.files[meta.name] = record
            self.by_digest[meta.digest] = meta.name
            self.readiness.file_added(meta.name)
            self._publish(FileAdded, record.summary(), peer.peer_id)
        chunks = record.holders.setdefault(peer.peer_id, ChunkSet())
        for start, end in ranges:
            chunks.add(start, end)
            record.ever_held.add(start, end)
        peer.touched.add(meta.name)
        self._refresh_availability(record)

    def _strike(self, peer: PeerRecord, reason: str) -> bool:
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
            self._remove(peer, "expelled")
            return True
        return False

    def _have(self, peer: PeerRecord, have: Have, now_s: float) -> None:
        for report in have.reports:
            record = self._file_by_digest(report.digest)
            if record is None:
                if report.digest in self.removed_digests:
                    continue  # sent before the news of its removal arrived
                if self._strike(peer, "chunks reported for an unknown file"):
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
                    if self._strike(peer, f"chunks {start}-{end}: {problem}"):
                        return
                    continue
                new.extend(chunks.add(start, end))
            if new:
                self.out.put(Show(display.Acquired(peer.peer_id, record.meta.name, total, new)))
                self._count_received(peer, record, new, now_s)
            if not record.available:
                self._refresh_availability(record)

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

    def _heartbeat(self, peer: PeerRecord, beat: Heartbeat, now_s: float) -> None:
        problem = peer.outflow.report(beat.served_bytes, now_s)
        if problem is not None:
            # Not a strike: only this peer's send rate suffers, and a peer
            # confused about what it served breaks nothing else.
            self.out.info("peer %d: bytes-served count not believed: %s", peer.peer_id, problem)
        self.out.put(Send(peer.sender, Pong(self.seq)))

    def _complete(self, peer: PeerRecord, complete: Complete) -> None:
        record = self._file_by_digest(complete.digest)
        if record is None:
            if complete.digest not in self.removed_digests:
                self._strike(peer, "complete: unknown file")
            return
        name = record.meta.name
        if name in peer.complete:
            return
        chunks = record.holders.get(peer.peer_id)
        held = len(chunks) if chunks is not None else 0
        if held != record.meta.chunks:
            # Checked before anything is recorded: a refused claim leaves no trace.
            self._strike(peer, f"complete: {name!r} has {held} of "
                        f"{record.meta.chunks} chunks reported")
            return
        if chunks is None:  # an empty file: whole without a single chunk
            record.holders[peer.peer_id] = ChunkSet()
        peer.touched.add(name)
        self.readiness.set_complete(peer, name, True)
        peer.received.add(name)
        self._publish(FileCompleted, peer.peer_id, name)
        self._refresh_availability(record)

    def _complaint(self, peer: PeerRecord, complaint: Complaint) -> None:
        accused = self.peers.get(complaint.peer_id)
        name = self.by_digest.get(complaint.digest, "?")
        if accused is None:
            return
        accused.complaints_against += 1
        if accused.complaints_against <= COMPLAINTS_LOGGED_PER_PEER:
            self.out.warning("peer %d reports peer %d for %r: %s", peer.peer_id,
                        accused.peer_id, name, complaint.reason)

    def _reverse(self, asker: PeerRecord, target_id: int, now_s: float) -> None:
        """Connection reversal: ``asker`` cannot reach ``target_id``, so the
        target is told to connect out to the asker -- or, when both are
        behind NATs that allow it, both are told to punch through to each
        other at once.  The tracker only introduces them; the chunks never
        pass through it."""
        target = self.peers.get(target_id)
        if target is None or target_id == asker.peer_id:
            self.out.put(Send(asker.sender, ErrorReply(f"no peer {target_id} to reverse")))
            return
        decision = self.punches.decide(asker.peer_id, target_id, now_s)
        if decision is Decision.IN_FLIGHT:
            return
        if decision is Decision.PUNCH:
            self._punch(asker, target)
            return
        token = self.new_token()
        self.out.info("peer %d cannot reach peer %d; asking peer %d to connect out to it",
                 asker.peer_id, target_id, target_id)
        self.out.put(Send(target.sender, ConnectTo(asker.peer_id, asker.endpoint, token)))
        self.out.put(Send(asker.sender, ReverseToken(target_id, token)))

    def _punch(self, a: PeerRecord, b: PeerRecord) -> None:
        ports = self.punches.ports
        self.out.info("peers %d and %d are both behind NAT; telling both to punch through to "
                 "each other (attempt %d)", a.peer_id, b.peer_id,
                 self.punches.attempts(a.peer_id, b.peer_id))
        self.out.put(Send(a.sender, Punch(b.peer_id, punch_endpoint(b.endpoint,
                                                                    ports[b.peer_id]))))
        self.out.put(Send(b.sender, Punch(a.peer_id, punch_endpoint(a.endpoint,
                                                                    ports[a.peer_id]))))

    def _punch_ready(self, peer: PeerRecord, message: PunchReady) -> None:
        self.out.info("peer %d is behind NAT and can punch from public port %d", peer.peer_id,
                 message.port)
        self.punches.ready(peer.peer_id, message.port)

    def _cannot_hold(self, peer: PeerRecord, message: CannotHold) -> None:
        """The peer cannot take the swarm's file of that name: excused."""
        name = message.name
        if name not in self.files or name in peer.complete or name in peer.excused:
            return  # removed meanwhile, or nothing changes
        self.out.info("peer %d cannot hold %r: %s", peer.peer_id, name, message.reason)
        self.readiness.set_excused(peer, name, True)
        self._publish(Excused, peer.peer_id, name)

    def _can_hold_again(self, peer: PeerRecord, name: str) -> None:
        if name not in peer.excused:
            return
        self.out.info("peer %d can hold %r again", peer.peer_id, name)
        self.readiness.set_excused(peer, name, False)
        self._publish(ExcuseWithdrawn, peer.peer_id, name)

    def _withdraw(self, peer: PeerRecord, message: Withdraw) -> None:
        """The peer no longer holds a file.  If the living peers no longer
        cover it, nobody ever will: the file is removed and its name is free."""
        record = self._file_by_digest(message.digest)
        if record is None:
            return  # removed already
        name = record.meta.name
        held = record.holders.pop(peer.peer_id, None)
        was_complete = name in peer.complete
        self.readiness.set_complete(peer, name, False)
        peer.touched.discard(name)
        if held is None and not was_complete:
            return
        self.out.warning("peer %d no longer holds %r: %s", peer.peer_id, name, message.reason)
        self._publish(FileDropped, peer.peer_id, name)
        if self._covered(record):
            self._refresh_availability(record)
        else:
            self._remove_file(record)

    def _remove_file(self, record: FileRecord) -> None:
        name = record.meta.name
        self.readiness.file_removing(name)
        del self.files[name]
        del self.by_digest[record.meta.digest]
        self.removed_digests.add(record.meta.digest)
        for peer in self.peers.values():
            peer.touched.discard(name)
        self.out.warning("file %r removed from the swarm: its holders withdrew it and the living "
                    "peers do not cover it", name)
        self._publish(FileRemoved, name)

    def _goodbye(self, peer: PeerRecord, goodbye: Goodbye) -> None:
        if not goodbye.force and not self.readiness.ready(peer.peer_id):
            self.out.put(Send(peer.sender, NotYet(self.seq)))
            return
        self.out.put(Send(peer.sender, Farewell()))
        self._remove(peer, "goodbye")

    def _leave_query(self, peer: PeerRecord) -> None:
        ready = self.readiness.ready(peer.peer_id)
        peer.told_ready = ready
        reason = "" if ready else self.why_not_leaving(peer.peer_id)[:MAX_REASON]
        self.out.put(Send(peer.sender, LeaveStatus(ready, reason)))

    def why_not_leaving(self, peer_id: int) -> str:
        """Why rules (a) and (b) do not hold for a peer, naming a peer that
        lacks one of its files and how much of it that peer holds
        (O(files + peers): asked for, never pushed)."""
        detail = self.readiness.waiting_for(peer_id)
        if detail is None:
            return self.readiness.blocker(peer_id)
        name, other, lacking = detail
        record = self.files[name]
        chunks = record.holders.get(other)
        held = len(chunks) if chunks is not None else 0
        percent = held * 100 // record.meta.chunks if record.meta.chunks else 0
        more = f" and {lacking - 1} more" if lacking > 1 else ""
        return f"waiting for peer {other} ({name} {percent} %){more}"

    def leave_blockers(self, peer_id: int) -> list[str]:
        """Why rules (a) and (b) do not hold for ``peer_id`` now (empty if
        they do), checked from scratch: what ``readiness`` keeps counts of,
        at peers x files the call (for tests, not for the hot path)."""
        peer = self.peers[peer_id]
        if peer.role == ROLE_GET:
            return []
        counted = {pid: p for pid, p in self.peers.items()
                   if p.role == ROLE_PEER or pid == peer_id}
        reasons = [f"peer {other} lacks {name!r}" for other, name in unmet_a(peer_id, counted)]
        if peer.role == ROLE_SEED:
            if len(counted) == 1 and peer_id in counted:
                reasons.append("no peer has joined to take its files")
            return reasons
        reasons += [f"it lacks {name!r}" for name in unmet_b(peer, self.available_names())]
        return reasons

    # --- leaving -------------------------------------------------------------

    def _remove(self, peer: PeerRecord, reason: str) -> None:
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
            state = "available again" if available else "lost: the living peers no longer cover it"
            # Worth a warning while a living peer still wants it; when the
            # last one has left, or all are excused, it is lost to nobody.
            name = record.meta.name
            wanted = any(name not in p.complete and name not in p.excused
                         for p in self.peers.values())
            level = Level.WARNING if wanted else Level.INFO
            self.out.say(level, "file %r is %s", record.meta.name, state)


# What a joined peer may ask, and who answers it: one entry per request kind.
PeerRequest = Callable[[TrackerState, PeerRecord, Any, float], None]
PEER_REQUESTS: dict[type[Message], PeerRequest] = {
    Heartbeat: lambda t, peer, m, now: t._heartbeat(peer, m, now),
    Have: lambda t, peer, m, now: t._have(peer, m, now),
    Complete: lambda t, peer, m, _now: t._complete(peer, m),
    Offer: lambda t, peer, m, _now: t._offer_request(peer, m),
    HoldersQuery: lambda t, peer, m, _now: t.out.put(Send(peer.sender, t._holders(peer, m))),
    MetaQuery: lambda t, peer, m, _now: t.out.put(Send(peer.sender, t._meta_reply(m.digest))),
    SyncRequest: lambda t, peer, _m, _now: t.out.put(Send(peer.sender, t.snapshot())),
    Complaint: lambda t, peer, m, _now: t._complaint(peer, m),
    ReverseRequest: lambda t, peer, m, now: t._reverse(peer, m.peer_id, now),
    PunchReady: lambda t, peer, m, _now: t._punch_ready(peer, m),
    CannotHold: lambda t, peer, m, _now: t._cannot_hold(peer, m),
    CanHoldAgain: lambda t, peer, m, _now: t._can_hold_again(peer, m.name),
    Withdraw: lambda t, peer, m, _now: t._withdraw(peer, m),
    Goodbye: lambda t, peer, m, _now: t._goodbye(peer, m),
    LeaveQuery: lambda t, peer, _m, _now: t._leave_query(peer),
}
