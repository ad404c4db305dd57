"""A whole swarm in memory: one TrackerState and several PeerStates joined by
a fake wire, with a fake clock and in-memory stores.  Every message crosses
the real codec, so the simulation also checks the wire format.

Faults are injected by hooks: dropping published events, corrupting what a
peer serves, delaying a peer's replies; and on each peer's disk: a capacity,
names taken by things that are not shared, files edited or deleted under a
running peer, kills and restarts on the same disk.  Each peer's Shared is
scanned as the real watcher does, every ``scan_interval_s``.
"""

from __future__ import annotations

import errno
import itertools
import random
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from swarm.config import Settings
from swarm.peer.disk import ContentChanged, PlaceResult
from swarm.peer.reversal import ReverseRoute
from swarm.peer.state import PeerState
from swarm.protocol import display
from swarm.protocol.codec import decode, encode_frames
from swarm.protocol.messages import TOKEN_BYTES, Event, Farewell, Message
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.tracker.state import TrackerState

TICK_S = 0.01


class MemoryStore:
    """StoreLike in memory, with the faults of a real disk on demand: a
    capacity (writes beyond it fail with ENOSPC), names taken by something
    that is not shared (a folder, a link), and files edited or deleted
    under a running peer (``edit``)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.shared: dict[str, bytes] = dict(files)
        # Downloads: meta, bytes, and the pieces written.
        self.partial: dict[bytes, tuple[FileMeta, bytearray, set[int]]] = {}
        self.complete: dict[bytes, bytes] = {}  # what is served, as it was hashed
        self.served_names: dict[bytes, str] = {}
        self.corrupt_reads = False
        self.capacity_bytes: int | None = None  # None: no limit
        self.blocked: dict[str, str] = {}  # name -> what has it in Shared
        self.read_only_shared = False  # placing a file fails with EROFS
        self.refused_writes = 0

    @property
    def used_bytes(self) -> int:
        return sum(meta.layout.piece_byte_range(piece)[1]
                   for meta, _, written in self.partial.values() for piece in written)

    def start_partial(self, meta: FileMeta) -> list[int]:
        if meta.digest not in self.partial:
            self.partial[meta.digest] = (meta, bytearray(meta.size_bytes), set())
        return []

    def write_piece(self, digest: bytes, piece: int, data: bytes | memoryview) -> None:
        meta, buf, written = self.partial[digest]
        if self.capacity_bytes is not None and self.used_bytes + len(data) > self.capacity_bytes:
            self.refused_writes += 1
            raise OSError(errno.ENOSPC, "No space left on device")
        offset, length = meta.layout.piece_byte_range(piece)
        buf[offset : offset + length] = data
        written.add(piece)

    def read(self, digest: bytes, offset: int, length: int) -> bytes:
        if digest in self.complete:
            name = self.served_names[digest]
            if self.shared.get(name) != self.complete[digest]:
                raise ContentChanged(name, "modified")
            data = self.complete[digest][offset : offset + length]
        else:
            data = bytes(self.partial[digest][1][offset : offset + length])
        if self.corrupt_reads:
            data = bytes(b ^ 0x5A for b in data)
        return data

    def place(self, digest: bytes) -> PlaceResult:
        meta, buf, _ = self.partial[digest]
        if self.read_only_shared:
            self.refused_writes += 1
            raise OSError(errno.EROFS, "Read-only file system")
        if meta.name in self.blocked:
            return PlaceResult.NAME_TAKEN
        if meta.name in self.shared:
            same = self.shared[meta.name] == bytes(buf)
            if not same:
                return PlaceResult.NAME_TAKEN
            del self.partial[digest]
            return PlaceResult.SAME_FILE_THERE
        del self.partial[digest]
        self.shared[meta.name] = bytes(buf)
        self.complete[digest] = bytes(buf)
        self.served_names[digest] = meta.name
        return PlaceResult.PLACED

    def drop_partial(self, digest: bytes) -> None:
        self.partial.pop(digest, None)

    def serve_complete(self, meta: FileMeta) -> None:
        self.complete[meta.digest] = self.shared[meta.name]
        self.served_names[meta.digest] = meta.name

    def stop_serving(self, digest: bytes) -> None:
        self.complete.pop(digest, None)
        self.served_names.pop(digest, None)

    def blocking_entry(self, name: str) -> str | None:
        if name in self.blocked:
            return self.blocked[name]
        if name in self.shared and name not in self.served_names.values():
            return "a file that is not shared yet"
        return None

    def load_partials(self) -> list[tuple[FileMeta, list[int]]]:
        """What a restart finds: every written piece, checked again."""
        return [(meta, sorted(p for p in written
                              if meta.piece_ok(p, bytes(buf[slice(*_span(meta, p))]))))
                for meta, buf, written in self.partial.values()]

    def check_served(self) -> list[tuple[bytes, str]]:
        """Served files whose bytes in Shared are no longer those hashed (what
        a scan of Shared reports): (digest, what happened)."""
        out = []
        for digest, name in self.served_names.items():
            now = self.shared.get(name)
            if now is None:
                out.append((digest, "deleted"))
            elif now != self.complete[digest]:
                out.append((digest, "modified"))
        return out


def _span(meta: FileMeta, piece: int) -> tuple[int, int]:
    offset, length = meta.layout.piece_byte_range(piece)
    return offset, offset + length


@dataclass
class Departure:
    """The swarm as the tracker saw it when it let a peer go: its files
    (name -> digest), and what each peer still in it held whole or was
    excused from."""

    files: dict[str, bytes]
    peers: dict[int, tuple[set[str], set[str]]]

    @classmethod
    def of(cls, tracker: TrackerState) -> Departure:
        return cls({name: r.meta.digest for name, r in tracker.files.items()},
                   {pid: (set(p.complete), set(p.excused)) for pid, p in tracker.peers.items()})


@dataclass
class SimPeer:
    index: int
    key: bytes
    listen_port: int
    store: MemoryStore
    state: PeerState | None = None
    blocks: list[display.Block] = field(default_factory=list)
    subscribed: bool = False
    reply_delay_s: float = 0.0
    alive: bool = True
    reachable: bool = True  # False: behind NAT, no inbound connections
    quiet_s: float = 1.0
    # What the watcher saw in the last scan, to offer files once they stop
    # changing; and the names it said are taken by something not shared.
    seen: dict[str, bytes] = field(default_factory=dict)
    taken_said: set[str] = field(default_factory=set)


class SimNet:
    """PeerNet for one simulated peer: everything goes onto the wire queue.

    A peer that is not ``reachable`` (behind NAT) takes no inbound
    connection: a link to it is reported unreachable after LINK_TIMEOUT_S,
    and it can only serve over connections it opens itself (reversal)."""

    LINK_TIMEOUT_S = 0.3

    def __init__(self, sim: Simulation, peer: SimPeer) -> None:
        self.sim = sim
        self.peer = peer
        self.routes: dict[int, Hashable] = {}  # peers that connected to us
        self.serving: dict[int, SimPeer] = {}  # peers we connected out to serve
        self._reported: set[int] = set()

    def to_tracker(self, message: Message) -> None:
        self.sim.send(self.sim.now_s, "tracker", self.peer.key, message, None)

    def to_peer(self, peer_id: int, endpoint: str, message: Message) -> None:
        target = self.sim.by_endpoint.get(endpoint)
        if target is None:
            return
        if peer_id in self.routes:  # it connected to us: over that connection
            self.sim.send(self.sim.now_s, "serve-reversed", (target, self.my_id()), message,
                          None)
        elif target.reachable:
            self.sim.send(self.sim.now_s, "serve", (target, self.peer.key), message, None)
        elif peer_id not in self._reported:
            self._reported.add(peer_id)
            self.sim.send(self.sim.now_s + self.LINK_TIMEOUT_S, "unreachable",
                          (self.peer, peer_id), message, None)

    def my_id(self) -> int:
        assert self.peer.state is not None and self.peer.state.peer_id is not None
        return self.peer.state.peer_id

    def reply(self, route: Hashable, message: Message, payload: bytes | None = None) -> None:
        if self.peer.state is None or self.peer.state.peer_id is None:
            return
        at = self.sim.now_s + self.peer.reply_delay_s
        if isinstance(route, ReverseRoute):
            requester = self.serving.get(route.peer_id)
            if requester is not None:
                self.sim.send(at, "reversed-reply", (requester, ("rev", self.peer.key)),
                              message, payload)
            return
        requester = self.sim.by_key.get(route)  # type: ignore[arg-type]
        if requester is not None:
            self.sim.send(at, "reply", (requester, self.peer.state.peer_id), message, payload)

    def open_reverse(self, peer_id: int, endpoint: str) -> None:
        target = self.sim.by_endpoint.get(endpoint)
        if target is not None and target.reachable:
            self.serving[peer_id] = target

    def adopt_route(self, peer_id: int, route: Hashable) -> None:
        self.routes[peer_id] = route

    def drop_peer(self, peer_id: int) -> None:
        self.routes.pop(peer_id, None)
        self.serving.pop(peer_id, None)

    def subscribe(self, pub_port: int) -> None:
        self.peer.subscribed = True


class Simulation:
    def __init__(self, settings: Settings | None = None, seed: int = 0) -> None:
        self.settings = settings or Settings()
        self.rng = random.Random(seed)
        self.now_s = 0.0
        tokens = (i.to_bytes(TOKEN_BYTES, "big") for i in itertools.count(1))
        self.tracker = TrackerState(5556, self.settings.expiry_s, lambda: next(tokens))
        self.tracker_blocks: list[display.Block] = []
        self.published: list[Event] = []  # every event the tracker published
        # The tracker's view when it let each peer go (key -> Departure).
        self.departures: dict[bytes, Departure] = {}
        self.peers: list[SimPeer] = []
        self.by_key: dict[bytes, SimPeer] = {}
        self.by_endpoint: dict[str, SimPeer] = {}
        self.wire: deque[tuple[float, str, object, list[bytes | memoryview]]] = deque()
        self.drop_event: Callable[[Event], bool] = lambda _event: False
        self.events_dropped = 0
        self._next_scan_s = self.settings.scan_interval_s

    # --- set-up ------------------------------------------------------------------

    def add_peer(self, files: dict[str, bytes], quiet_s: float = 1.0,
                 reachable: bool = True, store: MemoryStore | None = None) -> SimPeer:
        """A peer process; ``store`` is the disk of an earlier one (a restart),
        with its Shared and its partial downloads."""
        index = len(self.peers) + 1
        store = store or MemoryStore(files)
        peer = SimPeer(index, f"peer-{index}".encode(), 20000 + index, store,
                       reachable=reachable, quiet_s=quiet_s)
        self.peers.append(peer)
        self.by_key[peer.key] = peer
        self.by_endpoint[f"tcp://127.0.0.1:{peer.listen_port}"] = peer
        # What a starting peer does: hash what Shared holds, and re-verify
        # what its partial files hold (dropping those now in Shared).
        store.complete.clear()
        store.served_names.clear()
        metas = [meta_of_bytes(name, data) for name, data in sorted(store.shared.items())
                 if name not in store.blocked]
        partials = []
        for meta, pieces in store.load_partials():
            if meta.name in store.shared:
                store.drop_partial(meta.digest)
            else:
                partials.append((meta, pieces))
        peer.state = PeerState(
            self.settings, quiet_s, peer.store, SimNet(self, peer), peer.blocks.append,
            metas, partials, peer.listen_port, self.now_s, random.Random(self.rng.random()),
        )
        return peer

    def kill(self, peer: SimPeer) -> None:
        """SIGKILL: the peer stops, says nothing, answers nothing."""
        peer.alive = False

    def restart(self, peer: SimPeer) -> SimPeer:
        """SIGKILL (if it still runs), then a new process on the same disk:
        a new connection, a new id, what its files and partial files hold."""
        self.kill(peer)
        return self.add_peer({}, peer.quiet_s, peer.reachable, store=peer.store)

    def edit(self, peer: SimPeer, name: str, data: bytes | None) -> None:
        """A person saves new content over a file of Shared (None: deletes it)."""
        if data is None:
            peer.store.shared.pop(name, None)
        else:
            peer.store.shared[name] = data

    # --- the wire ------------------------------------------------------------------

    def send(self, at_s: float, kind: str, target: object, message: Message,
             payload: bytes | None) -> None:
        self.wire.append((at_s, kind, target, encode_frames(message, payload)))

    def _deliver(self, kind: str, target: object, frames: list[bytes | memoryview]) -> None:
        message, payload = decode(frames)
        if kind == "tracker":
            assert isinstance(target, bytes)
            if not self.by_key[target].alive:
                return
            outcome = self.tracker.handle(target, message, "127.0.0.1", self.now_s)
            self._carry_out(outcome)
        elif kind == "serve":
            server, requester_key = target  # type: ignore[misc]
            if server.alive and server.state is not None:
                server.state.on_request(requester_key, message, self.now_s)
        elif kind == "serve-reversed":
            server, requester_id = target  # type: ignore[misc]
            if server.alive and server.state is not None:
                server.state.on_request(ReverseRoute(requester_id), message, self.now_s)
        elif kind == "reversed-reply":
            requester, route = target  # type: ignore[misc]
            if requester.alive and requester.state is not None:
                requester.state.on_request(route, message, self.now_s, payload)
        elif kind == "unreachable":
            peer, peer_id = target  # type: ignore[misc]
            if peer.alive and peer.state is not None:
                peer.state.on_link_unreachable(peer_id, self.now_s)
        elif kind == "reply":
            requester, server_id = target  # type: ignore[misc]
            if requester.alive and requester.state is not None:
                requester.state.on_peer_reply(server_id, message, payload, self.now_s)
        elif kind == "event":
            assert isinstance(target, SimPeer) and isinstance(message, Event)
            if target.alive and target.state is not None:
                target.state.on_event(message, self.now_s)
        elif kind == "to-peer":
            assert isinstance(target, SimPeer)
            if target.alive and target.state is not None:
                target.state.on_tracker(message, self.now_s)

    def _carry_out(self, outcome: object) -> None:
        self.tracker_blocks.extend(outcome.blocks)  # type: ignore[attr-defined]
        for key, message in outcome.sends:  # type: ignore[attr-defined]
            if isinstance(message, Farewell):
                self.departures[key] = Departure.of(self.tracker)
            self.send(self.now_s, "to-peer", self.by_key[key], message, None)
        self.published.extend(outcome.events)  # type: ignore[attr-defined]
        for event in outcome.events:  # type: ignore[attr-defined]
            for peer in self.peers:
                if peer.subscribed and peer.alive:
                    if self.drop_event(event):
                        self.events_dropped += 1
                        continue
                    self.send(self.now_s, "event", peer, event, None)

    # --- running -------------------------------------------------------------------------

    def step(self) -> None:
        """Deliver what is due, then advance the clock one tick."""
        rounds = 0
        while self.wire and rounds < 100_000:
            due = [item for item in self.wire if item[0] <= self.now_s]
            if not due:
                break
            self.wire = deque(item for item in self.wire if item[0] > self.now_s)
            for _at, kind, target, frames in due:
                self._deliver(kind, target, frames)
                rounds += 1
            for peer in self.peers:
                if peer.alive and peer.state is not None:
                    peer.state.flush(self.now_s)
        self.now_s += TICK_S
        for peer in self.peers:
            if peer.alive and peer.state is not None and not peer.state.done:
                peer.state.on_timer(self.now_s)
        if self.now_s >= self._next_scan_s:
            self._next_scan_s = self.now_s + self.settings.scan_interval_s
            for peer in self.peers:
                if peer.alive and peer.state is not None and not peer.state.done:
                    self._scan(peer, peer.state)
        self._carry_out(self.tracker.expire(self.now_s))

    def _scan(self, peer: SimPeer, state: PeerState) -> None:
        """What the real watcher does on each look at Shared."""
        store = peer.store
        for digest, what in store.check_served():
            state.on_local_changed(digest, what, self.now_s)
        for name in sorted(set(store.blocked) - peer.taken_said):
            peer.taken_said.add(name)
            state.on_name_taken(name, self.now_s)
        served = set(store.served_names.values())
        unserved = {n: d for n, d in store.shared.items()
                    if n not in served and n not in store.blocked}
        for name, data in sorted(unserved.items()):
            if peer.seen.get(name) == data:
                state.on_local_file(meta_of_bytes(name, data), self.now_s)
        peer.seen = unserved

    def run(self, until: Callable[[], bool], limit_s: float) -> None:
        while not until():
            if self.now_s > limit_s:
                raise AssertionError(f"simulation still running at t={self.now_s:.1f}s")
            self.step()

    def acquired(self, peer_id: int, name: str) -> list[int]:
        """Chunks of ``name`` the tracker has printed as acquired by ``peer_id``."""
        chunks: list[int] = []
        for block in self.tracker_blocks:
            if isinstance(block, display.Acquired) and (block.peer_id, block.name) == (
                    peer_id, name):
                for start, end in block.ranges:
                    chunks.extend(range(start, end))
        return sorted(chunks)

    def all_done(self) -> bool:
        return all(p.state is not None and (p.state.done or not p.alive) for p in self.peers)
