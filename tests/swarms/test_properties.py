"""Property tests: random valid message sequences never break the tracker's or
a peer's invariants, and random simulated swarms always end with every peer
holding every file it could get, byte for byte.

The tracker and a lone peer are driven by hypothesis state machines (bad
frames are the codec's tests); whole swarms run on tests/sim.py's fake wire
and fake clock.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from swarm.config import Settings
from swarm.io.peer.runner import ActionRunner
from swarm.peer.reversal import ReverseRoute
from swarm.peer.source import PendingRequest
from swarm.peer.state import PeerState
from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.chunks import CHUNK_SIZE_BYTES
from swarm.protocol.events import (
    FILE_TOPIC,
    PEER_TOPIC,
    Availability,
    Event,
    Excused,
    FileAdded,
    FileCompleted,
    FileRemoved,
    PeerJoined,
    PeerLeft,
)
from swarm.protocol.fields import TOKEN_BYTES
from swarm.protocol.message_parts import (
    FileSummary,
    HaveReport,
    HolderRanges,
    PartialOffer,
    Refusal,
)
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.protocol.output import Action, Show
from swarm.protocol.peer_messages import Cancel, ChunkData, ChunkRefused, ChunkRequest, Introduce
from swarm.tracker.actions import Publish, Send
from swarm.tracker.leaving import leave_blockers
from swarm.tracker.state import TrackerState
from tests.swarms.sim import MemoryStore, SimPeer, Simulation, Stdout

# Seeded from each test's own source, with no example database: every run
# tries the same examples on every machine.
BOUNDED = settings(deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def content(seed: int, size_bytes: int) -> bytes:
    """Random bytes whose first byte is the seed: two seeds never give the same
    file (one random byte alone often repeats)."""
    return bytes([seed])[:size_bytes] + random.Random(seed).randbytes(size_bytes)[1:]


@cache  # hashing is the slow part of making up a file
def meta_for(name: str, seed: int, size_bytes: int) -> FileMeta:
    return meta_of_bytes(name, content(seed, size_bytes))


def counting_tokens() -> Iterator[bytes]:
    return (i.to_bytes(TOKEN_BYTES, "big") for i in itertools.count(1))


def chunks_of(ranges: Iterable[tuple[int, int]]) -> list[int]:
    return [chunk for start, end in ranges for chunk in range(start, end)]


@cache  # one strategy per limit: hypothesis checks each new strategy, at a cost
def flat_ranges(limit: int) -> st.SearchStrategy[tuple[int, ...]]:
    """Valid flat chunk ranges with bounds in [0, limit]: sorted, disjoint, non-empty."""
    bounds = st.lists(st.integers(0, limit), unique=True, max_size=6).map(sorted)
    return bounds.map(lambda xs: tuple(xs[: len(xs) // 2 * 2]))


class DisplayLedger:
    """What the tracker printed, checked as it comes: one CONNECT per peer id,
    at most one DISCONNECT after it, each chunk ACQUIRED once per peer and file."""

    def __init__(self) -> None:
        self.connected: set[int] = set()
        self.disconnected: set[int] = set()
        self.acquired: dict[tuple[int, str], set[int]] = {}

    def take(self, blocks: Iterable[display.Block], chunks_by_name: Mapping[str, int]) -> None:
        for block in blocks:
            if isinstance(block, display.Connect):
                assert block.peer_id not in self.connected, f"second CONNECT {block}"
                assert list(block.offers) == sorted(block.offers)
                self.connected.add(block.peer_id)
            elif isinstance(block, display.Disconnect):
                assert block.peer_id in self.connected, f"DISCONNECT before CONNECT {block}"
                assert block.peer_id not in self.disconnected, f"second DISCONNECT {block}"
                assert list(block.received) == sorted(block.received)
                self.disconnected.add(block.peer_id)
            elif isinstance(block, display.Acquired):
                assert block.total_chunks == chunks_by_name[block.name]
                held = self.acquired.setdefault((block.peer_id, block.name), set())
                for chunk in chunks_of(block.ranges):
                    assert 0 <= chunk < block.total_chunks, f"chunk out of range in {block}"
                    assert chunk not in held, f"chunk {chunk} ACQUIRED twice in {block}"
                    held.add(chunk)


# --- 1. the tracker under random requests -------------------------------------------------


class TrackerHistory:
    """What the tracker published and printed so far, and the step just taken."""

    def __init__(self) -> None:
        self.last_seq = {FILE_TOPIC: 0, PEER_TOPIC: 0}  # per topic
        self.ledger = DisplayLedger()
        self.step_sender: bytes | None = None  # None: an expiry, nobody asked anything
        self.step_actions: list[Action] = []


def expected_available(state: TrackerState, name: str) -> bool:
    record = state.registry.files[name]
    if record.meta.chunks == 0:  # available while a living peer has it whole
        return any(name in peer.complete for peer in state.registry.peers.values())
    held = {c for holding in record.holders.values() for c in chunks_of(holding.ranges())}
    return held >= set(range(record.meta.chunks))


def check_tracker_invariants(state: TrackerState, history: TrackerHistory) -> None:
    actions, history.step_actions = history.step_actions, []
    # Events are numbered per topic without gaps or repeats.
    for event in [a.event for a in actions if isinstance(a, Publish)]:
        last = history.last_seq[event.TOPIC]
        assert event.seq == last + 1, f"{event} after seq {last} of its topic"
        history.last_seq[event.TOPIC] = event.seq
    assert state.registry.seq == history.last_seq[FILE_TOPIC]
    assert state.registry.peer_seq == history.last_seq[PEER_TOPIC]
    for target, message in [(a.to, a.message) for a in actions if isinstance(a, Send)]:
        if isinstance(message, (m.ConnectTo, m.LeaveStatus)):
            assert target in state.registry.by_sender, f"{message} for a dead sender {target!r}"
        else:
            assert target == history.step_sender, f"{message} to {target!r}, who asked nothing"
    history.ledger.take([a.block for a in actions if isinstance(a, Show)],
                        {n: r.meta.chunks for n, r in state.registry.files.items()})
    check_tracker_structure(state, history.ledger)


def check_tracker_structure(state: TrackerState, ledger: DisplayLedger) -> None:
    """The registry's indexes agree with each other and with what was printed."""
    assert len(state.registry.by_sender) == len(state.registry.peers)
    assert {pid: p.sender for pid, p in state.registry.peers.items()} == {
        pid: sender for sender, pid in state.registry.by_sender.items()}
    assert all(pid == peer.peer_id for pid, peer in state.registry.peers.items())
    assert set(state.registry.peers) == ledger.connected - ledger.disconnected
    assert len(state.registry.by_digest) == len(state.registry.files)
    assert {r.meta.digest: name for name, r in state.registry.files.items()} == \
        state.registry.by_digest
    for name, record in state.registry.files.items():
        assert record.meta.name == name
        for holder_id, holding in record.holders.items():
            assert holder_id in state.registry.peers, f"dead peer {holder_id} holds {name!r}"
            assert all(0 <= s < e <= record.meta.chunks for s, e in holding.ranges())
        assert record.available == expected_available(state, name), f"{name!r} availability"
    # The counts behind LeaveStatus agree with rules (a) and (b) checked from
    # scratch, and every peer was told where it stands.
    for pid, peer in state.registry.peers.items():
        ready = state.registry.readiness.ready(pid)
        blockers = leave_blockers(state.registry, pid)
        assert ready == (not blockers), (pid, blockers)
        assert peer.told_ready == ready, f"peer {pid} was not told it is {ready}"


SENDERS = (b"s1", b"s2", b"s3", b"s4")
# Few names, contents and sizes (0..6 chunks): one name often comes with two
# contents, and reported ranges often cover a file.
FILE_METAS = st.builds(meta_for, st.sampled_from(("a", "b.bin", "ç d")), st.integers(0, 2),
                       st.sampled_from((0, 1, 511, 512, 513, 1500, 2600)))
RANDOM_DIGESTS = st.binary(min_size=32, max_size=32)
META_SOURCES = st.sampled_from(("swarm", "swarm", "offered", "new"))
ONE_IN_FOUR = st.integers(0, 3).map(lambda n: n == 0)
TRACKER_REQUESTS: st.SearchStrategy[type[m.Message]] = st.sampled_from((
    m.Hello, m.Join, m.Heartbeat, m.Offer, m.Have, m.Complete, m.SyncRequest, m.HoldersQuery,
    m.MetaQuery, m.Complaint, m.ReverseRequest, m.Goodbye, m.ListQuery, m.CannotHold,
    m.CanHoldAgain, m.Withdraw,
))
# The requests that move holdings:
REPORTS: st.SearchStrategy[type[m.Message]] = st.sampled_from((m.Have, m.Complete))


class TrackerMachine(RuleBasedStateMachine):
    """Valid requests from four routing ids, and expiries, against one
    TrackerState.  Messages are put together step by step from fixed
    strategies: a strategy built anew for each step costs more than the step."""

    def __init__(self) -> None:
        super().__init__()
        tokens = counting_tokens()
        self.state = TrackerState(pub_port=5556, expiry_s=3.0, new_token=lambda: next(tokens),
                                  rng=random.Random(0))
        self.history = TrackerHistory()
        self.now_s = 0.0
        self.offered: list[FileMeta] = []

    def _draw_meta(self, data: st.DataObject) -> FileMeta:
        """Mostly a file the swarm has, or one offered before (maybe refused)."""
        source = data.draw(META_SOURCES, label="file from")
        pool = {"swarm": [r.meta for r in self.state.registry.files.values()],
                "offered": self.offered}.get(source)
        return data.draw(st.sampled_from(pool) if pool else FILE_METAS, label="file")

    def _draw_metas(self, data: st.DataObject) -> tuple[FileMeta, ...]:
        return tuple(self._draw_meta(data) for _ in range(data.draw(st.integers(0, 3))))

    def _draw_target(self, data: st.DataObject) -> tuple[bytes, int]:
        """(digest, chunks): a known file three times in four, else a digest nobody offered."""
        if data.draw(ONE_IN_FOUR, label="unknown digest"):
            return data.draw(RANDOM_DIGESTS, label="digest"), 4
        meta = self._draw_meta(data)
        return meta.digest, meta.chunks

    def _draw_request(self, data: st.DataObject,
                      kinds: st.SearchStrategy[type[m.Message]]) -> m.Message:
        kind = data.draw(kinds, label="kind")
        # Ids of peers that were, are, and (the last) are not yet.
        peer_ids = st.integers(1, max(self.history.ledger.connected, default=0) + 1)
        if kind is m.Join:
            partials = []
            for _ in range(data.draw(st.integers(0, 2))):
                meta = self._draw_meta(data)
                partials.append(PartialOffer(meta, data.draw(flat_ranges(meta.chunks))))
            return m.Join(m.PROTOCOL_VERSION, 5000, self._draw_metas(data), tuple(partials))
        if kind is m.Offer:
            return m.Offer(self._draw_metas(data))
        if kind is m.Have:
            reports = []
            for _ in range(data.draw(st.integers(1, 3))):
                digest, chunks = self._draw_target(data)
                # Up to two chunks past the end: the tracker must refuse those.
                reports.append(HaveReport(digest, data.draw(flat_ranges(chunks + 2))))
            return m.Have(tuple(reports))
        if kind is m.HoldersQuery:
            first, count = data.draw(st.tuples(st.integers(0, 8), st.integers(0, 8)))
            return m.HoldersQuery(self._draw_target(data)[0], first, count)
        if kind in (m.Complete, m.MetaQuery):
            return kind(self._draw_target(data)[0])
        if kind is m.Complaint:
            return m.Complaint(data.draw(peer_ids), self._draw_target(data)[0], "bad piece")
        if kind is m.ReverseRequest:
            return m.ReverseRequest(data.draw(peer_ids))
        return self._draw_small_request(data, kind)

    def _draw_small_request(self, data: st.DataObject, kind: type[m.Message]) -> m.Message:
        """The requests of a field or two, or none."""
        if kind is m.Goodbye:
            return m.Goodbye(data.draw(st.booleans(), label="force"))
        if kind in (m.CannotHold, m.CanHoldAgain):
            name = self._draw_meta(data).name
            return m.CannotHold(name, "a folder") if kind is m.CannotHold else m.CanHoldAgain(name)
        if kind is m.Withdraw:
            return m.Withdraw(self._draw_target(data)[0], "modified")
        if kind is m.Hello:
            return m.Hello(m.PROTOCOL_VERSION)
        return kind()  # Heartbeat, SyncRequest, ListQuery: no fields

    def _draw_sender(self, data: st.DataObject) -> bytes:
        """Mostly a peer that has joined: a stranger only ever hears Rejoin."""
        anyone = st.sampled_from(SENDERS)
        if not self.state.registry.by_sender:
            return data.draw(anyone, label="sender")
        joined = st.sampled_from(sorted(self.state.registry.by_sender))
        return data.draw(st.one_of(joined, joined, joined, anyone), label="sender")

    def _handle(self, sender: bytes, message: m.Message) -> None:
        if isinstance(message, (m.Join, m.Offer)):
            self.offered.extend(message.files)
        if isinstance(message, m.Join):
            self.offered.extend(partial.meta for partial in message.partials)
        self.history.step_sender = sender
        self.history.step_actions = self.state.handle(sender, message, "127.0.0.1", self.now_s)

    # Joins and reports get rules of their own: most runs then have several
    # peers whose holdings move.
    @precondition(lambda self: len(self.state.registry.by_sender) < len(SENDERS))
    @rule(data=st.data())
    def join(self, data: st.DataObject) -> None:
        strangers = [s for s in SENDERS if s not in self.state.registry.by_sender]
        sender = data.draw(st.sampled_from(strangers), label="sender")
        self._handle(sender, m.Join(m.PROTOCOL_VERSION, 5000, self._draw_metas(data), ()))

    @rule(data=st.data())
    def report(self, data: st.DataObject) -> None:
        self._handle(self._draw_sender(data), self._draw_request(data, REPORTS))

    @rule(data=st.data())
    def request(self, data: st.DataObject) -> None:
        self._handle(self._draw_sender(data), self._draw_request(data, TRACKER_REQUESTS))

    @rule(advance_s=st.floats(0.0, 5.0))
    def expire(self, advance_s: float) -> None:
        self.now_s += advance_s
        self.history.step_sender = None
        self.history.step_actions = self.state.expire(self.now_s)

    @invariant()
    def invariants_hold(self) -> None:
        check_tracker_invariants(self.state, self.history)


def test_tracker_state_keeps_its_invariants_under_random_requests() -> None:
    run_state_machine_as_test(
        TrackerMachine, settings=settings(BOUNDED, max_examples=150, stateful_step_count=40))


# --- 2. one peer under random messages ------------------------------------------------------

# The files the peer hears of: "a" comes with two contents; b.bin has four
# pieces, to be held, asked for and lost one by one.  The bytes stay out of
# the strategies, whose reprs hypothesis keeps.
WORLD_FILES = (("a", 1, 70_000), ("a", 2, 900), ("b.bin", 3, 200_000), ("e", 4, 0),
               ("c", 5, 513))
WORLD = tuple(meta_for(*file) for file in WORLD_FILES)
WORLD_BYTES = {meta_for(*file).digest: content(*file[1:]) for file in WORLD_FILES}
WORLD_METAS = st.sampled_from(WORLD)
WORLD_NAMES = st.sampled_from(sorted({meta.name for meta in WORLD}))
PEER_IDS = st.integers(1, 5)
TOKENS = st.sampled_from([bytes([i]) * TOKEN_BYTES for i in range(3)])
SEQ_STEPS = st.integers(-2, 3)  # from the view's own number: stale, repeated, next, gaps
SUMMARIES = st.builds(lambda meta, available: FileSummary(
    meta.name, meta.size_bytes, meta.digest, available), WORLD_METAS, st.booleans())
TRACKER_REPLIES: st.SearchStrategy[type[m.Message]] = st.sampled_from((
    m.Welcome, m.Snapshot, m.Holders, m.MetaReply, m.Pong, m.NotYet, m.Farewell, m.Refused,
    m.ErrorReply, m.Rejoin, m.ConnectTo, m.ReverseToken,
))
EVENTS = st.sampled_from((PeerJoined, FileAdded, FileCompleted, PeerLeft,
                          Availability, Excused, FileRemoved))
# How a source answers a request; "another file": a reply naming a file it was
# not asked for.
ANSWERS = ("good", "corrupt", "misplaced", "refused", "another file")


def endpoint_of(peer_id: int) -> str:
    return f"tcp://127.0.0.1:{20000 + peer_id}"


class RecordingNetwork:
    """The sockets of one PeerState, with nothing that answers but the test:
    it records what the peer sends, its questions to the tracker apart.  The
    peer's real ActionRunner sends through it, and carries out its disk
    actions on a MemoryStore."""

    def __init__(self) -> None:
        self.sent: list[m.Message] = []
        self.queries: list[m.MetaQuery | m.HoldersQuery] = []

    def _record(self, message: m.Message) -> None:
        self.sent.append(message)
        if isinstance(message, (m.MetaQuery, m.HoldersQuery)):
            self.queries.append(message)

    def to_tracker(self, message: m.Message) -> None:
        self._record(message)

    def to_peer(self, peer_id: int, endpoint: str, message: m.Message) -> None:
        self._record(message)

    def reply(self, route: Hashable, message: m.Message, payload: bytes | None = None) -> None:
        self._record(message)

    def subscribe(self, pub_port: int) -> None:
        pass

    def open_reverse(self, peer_id: int, endpoint: str) -> None:
        pass

    def open_punch(self, peer_id: int, endpoint: str, curve_server: bool) -> None:
        raise NotImplementedError("no Punch in these runs")

    def learn_mapping(self, echo_ports: tuple[int, ...]) -> None:
        raise NotImplementedError("no address echoes in these runs")

    def close_link(self, peer_id: int) -> None:
        pass

    def drop_peer(self, peer_id: int) -> None:
        pass


def check_plan_invariants(state: PeerState) -> None:
    """The transfer plan's counters agree with what they count."""
    for download in state.plan.downloads.values():
        pieces, have, in_flight = download.layout.pieces, download.have, download.in_flight
        assert 0 <= download.missing <= pieces
        assert download.missing == sum(1 for held in have if held != 1)
        for piece in range(pieces):
            asked = download.requests_by_piece.get(piece, [])
            assert 0 <= in_flight[piece] <= 2 and in_flight[piece] == len(asked), piece
        assert download.unrequested == sum(
            1 for piece in range(pieces) if have[piece] == 0 and in_flight[piece] == 0)
    for source in state.plan.sources.values():
        asked_bytes = sum(r.size_bytes for r in source.requests.values() if not r.released)
        assert source.in_flight_bytes >= 0
        assert source.in_flight_bytes == asked_bytes, (
            f"source {source.peer_id}: {source.in_flight_bytes} bytes in flight, "
            f"{asked_bytes} asked for")
    assert (state.exit_code is None) == (not state.done)


class PeerMachine(RuleBasedStateMachine):
    """One joined PeerState fed valid messages from a make-believe tracker,
    sources and requesters, on a fake clock."""

    answers = st.sampled_from(ANSWERS)

    @initialize(local=st.lists(WORLD_METAS, unique_by=lambda meta: meta.name, max_size=2),
                seed=st.integers(0, 2**16), data=st.data())
    def start(self, local: list[FileMeta], seed: int, data: st.DataObject) -> None:
        self.now_s = 0.0
        store = MemoryStore({meta.name: WORLD_BYTES[meta.digest] for meta in local})
        # Quiet for 10 s: most runs end before the peer leaves.
        self.state = PeerState(Settings(tracker_grace_s=20.0).peer_settings(), 10.0, local, [],
                               {}, 20000, self.now_s, random.Random(seed))
        self.net = RecordingNetwork()
        self.runner = ActionRunner(self.state, self.net, store, Stdout(), None,
                                   lambda: self.now_s)
        self._run(self.state.start())
        self._run(self.state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), self.now_s))
        welcome = m.Welcome(data.draw(PEER_IDS, label="peer id"), self._draw_snapshot(data), ())
        self._run(self.state.on_tracker(welcome, self.now_s))

    def _run(self, actions: list[Action]) -> None:
        self.runner.run(actions)

    def _draw_seq(self, data: st.DataObject) -> int:
        return max(0, self.state.view.seq + data.draw(SEQ_STEPS, label="seq step"))

    def _draw_snapshot(self, data: st.DataObject) -> m.Snapshot:
        files = data.draw(st.lists(SUMMARIES, min_size=1, max_size=4,
                                   unique_by=lambda f: f.name), label="files")
        return m.Snapshot(self._draw_seq(data), tuple(files))

    def _draw_wanted_meta(self, data: st.DataObject) -> FileMeta:
        """Mostly a file the peer fetches or has heard of: any other it ignores."""
        heard_of = {summary.digest for summary in self.state.view.files.values()}
        wanted = [meta for meta in WORLD
                  if meta.digest in self.state.plan.downloads or meta.digest in heard_of]
        if wanted and not data.draw(ONE_IN_FOUR, label="any file"):
            return data.draw(st.sampled_from(wanted), label="file")
        return data.draw(WORLD_METAS, label="file")

    def _draw_holders(self, data: st.DataObject, meta: FileMeta) -> m.Holders:
        known = sorted(self.state.requests.endpoints)  # sources it already knows, often
        peer_ids = st.one_of(st.sampled_from(known), PEER_IDS) if known else PEER_IDS
        holders = []
        for peer_id in data.draw(st.lists(peer_ids, unique=True, max_size=3), label="holders"):
            whole = data.draw(st.booleans(), label="whole") and meta.chunks
            ranges = (0, meta.chunks) if whole else data.draw(flat_ranges(meta.chunks))
            holders.append(HolderRanges(peer_id, endpoint_of(peer_id), ranges))
        return m.Holders(meta.digest, tuple(holders))

    def _draw_tracker_reply(self, data: st.DataObject) -> m.Message:
        kind = data.draw(TRACKER_REPLIES, label="kind")
        if kind is m.Welcome:
            return m.Welcome(data.draw(PEER_IDS), self._draw_snapshot(data), ())
        if kind is m.Snapshot:
            return self._draw_snapshot(data)
        if kind is m.Holders:
            return self._draw_holders(data, self._draw_wanted_meta(data))
        if kind is m.MetaReply:
            return m.MetaReply(self._draw_wanted_meta(data))
        if kind in (m.Pong, m.NotYet):
            return kind(self._draw_seq(data))
        if kind is m.Refused:
            return m.Refused((Refusal(data.draw(WORLD_NAMES), "taken"),))
        if kind is m.ErrorReply:
            return m.ErrorReply("no")
        peer_id = data.draw(PEER_IDS)
        if kind is m.ConnectTo:
            return m.ConnectTo(peer_id, endpoint_of(peer_id), data.draw(TOKENS))
        if kind is m.ReverseToken:
            return m.ReverseToken(peer_id, data.draw(TOKENS))
        return kind()  # Farewell, Rejoin

    def _draw_event(self, data: st.DataObject) -> Event:
        kind, seq = data.draw(EVENTS, label="kind"), self._draw_seq(data)
        peer_id, name = data.draw(PEER_IDS), data.draw(WORLD_NAMES)
        if kind is PeerJoined:
            return PeerJoined(seq, peer_id, endpoint_of(peer_id))
        if kind is FileAdded:
            return FileAdded(seq, data.draw(SUMMARIES), peer_id)
        if kind is PeerLeft:
            return PeerLeft(seq, peer_id)
        if kind is Availability:
            return Availability(seq, name, data.draw(st.booleans()))
        if kind is FileCompleted:
            return FileCompleted(seq, peer_id, name)
        if kind is FileRemoved:
            return FileRemoved(seq, name)
        return Excused(seq, peer_id, name)

    def _outstanding(self) -> list[PendingRequest]:
        return [r for source in self.state.plan.sources.values() for r in source.requests.values()]

    def _reply(self, peer_id: int, reply: m.Message, payload: bytes | None) -> None:
        view = memoryview(payload) if payload is not None else None
        self._run(self.state.on_peer_reply(peer_id, reply, view, self.now_s))

    @rule(data=st.data())
    def from_tracker(self, data: st.DataObject) -> None:
        self._run(self.state.on_tracker(self._draw_tracker_reply(data), self.now_s))

    # Random replies seldom answer what the peer asked: its questions and
    # requests are answered too, well or badly.
    @precondition(lambda self: bool(self.net.queries))
    @rule(data=st.data())
    def answer_query(self, data: st.DataObject) -> None:
        query = self.net.queries.pop(data.draw(st.integers(0, len(self.net.queries) - 1)))
        meta = next((meta for meta in WORLD if meta.digest == query.digest), None)
        reply: m.Message = m.ErrorReply("unknown file")
        if meta is not None and isinstance(query, m.MetaQuery):
            reply = m.MetaReply(meta)
        elif meta is not None:
            reply = self._draw_holders(data, meta)
        self._run(self.state.on_tracker(reply, self.now_s))

    @precondition(lambda self: bool(self._outstanding()))
    @rule(data=st.data())
    def answer_request(self, data: st.DataObject) -> None:
        request = data.draw(st.sampled_from(self._outstanding()), label="request")
        how = data.draw(self.answers, label="answer")
        if how == "refused":
            self._reply(request.source, ChunkRefused(request.request_id, "busy"), None)
            return
        digest = request.digest
        if how == "another file":
            digest = data.draw(st.sampled_from([f.digest for f in WORLD if f.digest != digest]))
        offset = request.first_chunk * CHUNK_SIZE_BYTES
        payload = WORLD_BYTES[request.digest][offset : offset + request.size_bytes]
        if how == "corrupt":
            payload = bytes(b ^ 0x5A for b in payload)
        first = request.first_chunk + (1 if how == "misplaced" else 0)
        reply = ChunkData(request.request_id, digest, first, request.chunk_count)
        self._reply(request.source, reply, payload)

    @rule(peer_id=PEER_IDS, request_id=st.integers(0, 20), meta=WORLD_METAS,
          piece=st.integers(0, 3), payload=st.binary(max_size=64), refused=st.booleans())
    def random_reply(self, peer_id: int, request_id: int, meta: FileMeta, piece: int,
                     payload: bytes, refused: bool) -> None:
        if refused:
            self._reply(peer_id, ChunkRefused(request_id, "no"), None)
            return
        first, end = meta.layout.piece_chunk_range(min(piece, max(meta.layout.pieces - 1, 0)))
        self._reply(peer_id, ChunkData(request_id, meta.digest, first, max(end - first, 1)),
                    payload)

    @rule(data=st.data(), route=st.sampled_from([b"peer-1", b"peer-2", ReverseRoute(3)]),
          kind=st.sampled_from((ChunkRequest, Cancel, Introduce)))
    def request(self, data: st.DataObject, route: Hashable, kind: type[m.Message]) -> None:
        message: m.Message
        if kind is ChunkRequest:  # up to past the end, and more than a peer serves
            first, count = data.draw(st.tuples(st.integers(0, 400), st.sampled_from((1, 4097))))
            digest = data.draw(WORLD_METAS).digest
            message = ChunkRequest(data.draw(st.integers(0, 5)), digest, first, count)
        elif kind is Cancel:
            message = Cancel(data.draw(st.integers(0, 5)))
        else:
            message = Introduce(data.draw(PEER_IDS), data.draw(TOKENS))
        self._run(self.state.on_request(route, message, self.now_s))

    @rule(peer_id=PEER_IDS, change=st.sampled_from(("down", "up", "unreachable")))
    def link(self, peer_id: int, change: str) -> None:
        if change == "down":
            self._run(self.state.on_link_down(peer_id))
        elif change == "up":
            self._run(self.state.on_link_up(peer_id))
        else:
            self._run(self.state.on_link_unreachable(peer_id, self.now_s))

    @rule(advance_s=st.floats(0.0, 3.0))
    def timer(self, advance_s: float) -> None:
        self.now_s += advance_s
        self._run(self.state.on_timer(self.now_s))

    @rule()
    def flush(self) -> None:
        self._run(self.state.flush(self.now_s))

    @invariant()
    def invariants_hold(self) -> None:
        check_plan_invariants(self.state)


PEER_RUNS = settings(BOUNDED, max_examples=150, stateful_step_count=40)


def test_peer_state_keeps_its_plan_consistent_under_random_messages() -> None:
    run_state_machine_as_test(PeerMachine, settings=PEER_RUNS)


# --- 3. whole simulated swarms ----------------------------------------------------------------

SWARM_NAMES = ("a", "b", "c")  # few names: conflicts happen
# (seed, size): two seeds, so peers often bring the very same file too.
SWARM_CONTENTS = st.tuples(st.integers(0, 1), st.one_of(
    st.sampled_from((0, 1, 512, 513, 40_000)), st.integers(0, 40_000)))
# Three contents for three names: the same bytes under two names, often.
FEW_CONTENTS = st.sampled_from(((0, 0), (0, 600), (1, 600)))


@dataclass(frozen=True)
class SwarmPlan:
    files: list[dict[str, tuple[int, int]]]  # per peer: name -> (seed, size)
    reachable: list[bool]
    drop_probability: float
    kill: tuple[int, float] | None  # (peer index, at simulated second)
    seed: int


@st.composite
def swarm_plans(draw: st.DrawFn,
                contents: st.SearchStrategy[tuple[int, int]] = SWARM_CONTENTS) -> SwarmPlan:
    count = draw(st.integers(2, 5))
    files = draw(st.lists(st.dictionaries(st.sampled_from(SWARM_NAMES), contents, max_size=2),
                          min_size=count, max_size=count))
    reachable = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    kill = draw(st.none() | st.tuples(st.integers(0, count - 1), st.floats(0.0, 5.0)))
    # Two peers behind NAT cannot connect at all: what they trade must pass
    # through a reachable peer that holds no other bytes under the same names.
    # Keep one alive, with no files of its own.
    survivors = [i for i in range(count) if kill is None or i != kill[0]]
    relay = next((i for i in survivors if reachable[i]), survivors[0])
    reachable[relay] = True
    if reachable.count(False) >= 2:
        files[relay] = {}
    return SwarmPlan(files, reachable, draw(st.floats(0.0, 0.4)), kill,
                     draw(st.integers(0, 2**16)))


class SeededSimulation(Simulation):
    """A Simulation with counted reversal tokens, not random ones: a run repeats exactly."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        tokens = counting_tokens()
        self.tracker.introductions.new_token = lambda: next(tokens)


def run_swarm(plan: SwarmPlan) -> tuple[Simulation, list[SimPeer]]:
    """Runs the plan to its end; returns the simulation and the peers not killed."""
    sim = SeededSimulation(plan.seed)
    drops = random.Random(plan.seed)
    sim.drop_event = lambda _event: drops.random() < plan.drop_probability
    peers = [sim.add_peer({name: content(*c) for name, c in files.items()}, reachable=reachable)
             for files, reachable in zip(plan.files, plan.reachable, strict=True)]
    if plan.kill is not None:
        index, at_s = plan.kill
        sim.run(lambda: sim.all_done() or sim.now_s >= at_s, limit_s=at_s + 1)
        victim = peers[index]
        if victim.state is not None and not victim.state.done:
            sim.kill(victim)
    sim.run(sim.all_done, limit_s=120)
    return sim, [peer for peer in peers if peer.alive]


def check_swarm_outcome(sim: Simulation, plan: SwarmPlan, survivors: list[SimPeer]) -> None:
    tracker = sim.tracker
    ledger = DisplayLedger()
    files = tracker.registry.files
    ledger.take(sim.tracker_blocks, {name: r.meta.chunks for name, r in files.items()})
    check_tracker_structure(tracker, ledger)
    # The bytes the swarm took for each name: those of its first offer.
    accepted = {name: record.meta.digest for name, record in tracker.registry.files.items()}

    def holds_swarms(peer: SimPeer, name: str) -> bool:
        data = peer.store.shared.get(name)
        return data is not None and meta_of_bytes(name, data).digest == accepted.get(name)

    for peer in survivors:
        state = peer.state
        assert state is not None and state.exit_code == 0, f"peer {peer.index} did not finish"
        (shutdown,) = [b for b in peer.blocks if isinstance(b, display.Shutdown)]
        assert shutdown.peer_id == state.peer_id
        assert list(shutdown.holds) == sorted(peer.store.shared)
        brought = plan.files[peer.index - 1]
        for name, (seed, size) in brought.items():
            assert peer.store.shared[name] == content(seed, size), f"{name!r} overwritten"
            assert (state.peer_id, name) not in ledger.acquired
        received = sorted(set(peer.store.shared) - set(brought))
        for name in received:  # the swarm's bytes, each chunk ACQUIRED once
            assert holds_swarms(peer, name), f"peer {peer.index} holds a stray {name!r}"
            chunks = tracker.registry.files[name].meta.chunks
            assert ledger.acquired.get((state.peer_id, name), set()) == set(range(chunks))
        (disconnect,) = [b for b in sim.tracker_blocks
                         if isinstance(b, display.Disconnect) and b.peer_id == state.peer_id]
        assert list(disconnect.received) == received
    # A survivor that held the swarm's file whole did not leave before every
    # living peer had it (or other bytes under its name).
    for name in accepted:
        if any(holds_swarms(peer, name) for peer in survivors):
            for peer in survivors:
                assert name in peer.store.shared, f"peer {peer.index} lacks {name!r}"


@settings(BOUNDED, max_examples=100)
@given(swarm_plans())
def test_random_swarms_end_with_every_peer_holding_every_file(plan: SwarmPlan) -> None:
    sim, survivors = run_swarm(plan)
    check_swarm_outcome(sim, plan, survivors)


@settings(BOUNDED, max_examples=100)
@given(swarm_plans(FEW_CONTENTS))
def test_random_swarms_with_one_content_under_two_names_end(plan: SwarmPlan) -> None:
    sim, survivors = run_swarm(plan)
    check_swarm_outcome(sim, plan, survivors)
