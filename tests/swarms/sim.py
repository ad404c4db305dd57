"""A whole swarm in memory: one TrackerState and several PeerStates joined by
a fake wire, with a fake clock and in-memory stores.  Every message crosses
the real codec, so the simulation also checks the wire format.

Each peer's actions are carried out by the real ``ActionRunner``
(swarm/io/peer/runner.py), as in a peer process, with in-memory stand-ins
for what it uses: ``SimNetwork`` puts what it sends on the simulated wire,
``MemoryStore`` is its disk, ``Stdout`` collects the blocks it writes.

Faults are injected by hooks: dropping published events, corrupting what a
peer serves, delaying a peer's replies; and on each peer's disk: a capacity,
names taken by things that are not shared, files edited or deleted under a
running peer, kills and restarts on the same disk.  Each peer's Shared is
scanned as the real watcher does, every ``scan_interval_s``.

A peer whose state is done has exited, as a killed one has: it answers
nothing, and the links of others to it break and are then refused, as the
real sockets report them (``SimNetwork``).
"""

from __future__ import annotations

import errno
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field

from swarm.config import Settings
from swarm.io.peer.runner import ActionRunner
from swarm.peer.disk import ContentChanged, PlaceResult
from swarm.peer.mode import Mode
from swarm.peer.reversal import ReverseRoute
from swarm.peer.state import PeerState
from swarm.protocol import display
from swarm.protocol.codec import Buffer, decode, encode_frames
from swarm.protocol.events import FILE_TOPIC, Event
from swarm.protocol.fields import TOKEN_BYTES
from swarm.protocol.messages import Farewell, Message
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.protocol.output import Action, Show
from swarm.tracker.actions import Publish, Send
from swarm.tracker.state import TrackerState

TICK_S = 0.01


class MemoryStore:
    """A peer's disk in memory, with the faults of a real disk on demand: a
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

    def start_partial(self, meta: FileMeta) -> None:
        if meta.digest not in self.partial:
            self.partial[meta.digest] = (meta, bytearray(meta.size_bytes), set())

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
        elif digest in self.partial:
            data = bytes(self.partial[digest][1][offset : offset + length])
        else:
            raise FileNotFoundError(errno.ENOENT, "no such file")
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

    def taken(self) -> dict[str, str]:
        """Entries of Shared that are not files this peer serves, with what
        each is (what the real store's scan reports)."""
        served = set(self.served_names.values())
        taken = {n: "a file that is not shared yet" for n in self.shared if n not in served}
        taken.update(self.blocked)
        return taken

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
        registry = tracker.registry
        return cls({name: r.meta.digest for name, r in registry.files.items()},
                   {pid: (set(p.complete), set(p.excused)) for pid, p in registry.peers.items()})


class Stdout(list[display.Block]):
    """A simulated peer's stdout: the blocks its runner writes, in order."""

    def write(self, blocks: Iterable[display.Block]) -> None:
        self.extend(blocks)


@dataclass
class SimPeer:
    index: int
    key: bytes
    listen_port: int
    store: MemoryStore
    state: PeerState | None = None
    blocks: Stdout = field(default_factory=Stdout)
    subscribed: bool = False
    reply_delay_s: float = 0.0
    alive: bool = True
    reachable: bool = True  # False: behind NAT, no inbound connections
    quiet_s: float = 1.0
    # Carries out what its state returns: the real ActionRunner, on the
    # simulated wire (``net``), its MemoryStore and ``blocks``.
    runner: ActionRunner | None = None
    net: SimNetwork | None = None
    # What the watcher saw in the last scan, to offer files once they stop changing.
    seen: dict[str, bytes] = field(default_factory=dict)
    timer_due_s: float = 0.0  # when its loop would next wake with nothing received
    departed: bool = False  # others' links to it were told it is gone

    def run(self, actions: list[Action]) -> None:
        """Carry out what this peer's state returned, as its IO loop would."""
        assert self.runner is not None
        self.runner.run(actions)

    @property
    def listening(self) -> bool:
        """Its process runs, so its chunk port takes connections."""
        return self.alive and self.state is not None and not self.state.done


@dataclass(eq=False)
class SimLink:
    """A simulated peer's link to a source, as its sockets keep it: up or
    not (refused, or broken), in use or set aside."""

    target: SimPeer
    up: bool
    in_use: bool = True


class SimNetwork:
    """One simulated peer's sockets, for its ActionRunner: what it sends
    goes on the simulated wire, for the peer (or the tracker) it is for.

    Links to sources are reported as the real sockets report them: up when
    made to a peer that runs; refused at once when nothing listens (the
    peer has exited, or was killed); broken when the peer exits, then
    refused at libzmq's first try again.  A link set aside and wanted again
    is said refused at once if it was.  What is sent on a link that is not
    up goes nowhere.

    A peer that is not ``reachable`` (behind NAT) takes no inbound
    connection: a link to it is reported unreachable after LINK_TIMEOUT_S,
    and it can only serve over connections it opens itself (reversal).
    There is no NAT to punch through: the simulated tracker has no address
    echoes, so it never asks for a punch."""

    LINK_TIMEOUT_S = 0.3
    RECONNECT_S = 0.1  # libzmq's first try again after a link breaks

    def __init__(self, sim: Simulation, peer: SimPeer) -> None:
        self.sim = sim
        self.peer = peer
        self.serving: dict[int, SimPeer] = {}  # peers we connected out to serve
        self._reported: set[int] = set()
        self.links: dict[int, SimLink] = {}  # to sources, by peer id

    def to_tracker(self, message: Message) -> None:
        self.sim.send(self.sim.now_s, "tracker", self.peer.key, message, None)

    def to_peer(self, peer_id: int, endpoint: str, message: Message) -> None:
        target = self.sim.by_endpoint.get(endpoint)
        if target is None:
            return
        if not target.reachable:
            if peer_id not in self._reported:
                self._reported.add(peer_id)
                self.sim.send(self.sim.now_s + self.LINK_TIMEOUT_S, "unreachable",
                              (self.peer, peer_id), message, None)
            return
        link = self._link(peer_id, target)
        if link.up:
            self.sim.send(self.sim.now_s, "serve", (target, self.peer.key), message, None)

    def _link(self, peer_id: int, target: SimPeer) -> SimLink:
        link = self.links.get(peer_id)
        if link is not None and link.target is target:
            if not link.in_use:  # taken up again
                link.in_use = True
                if not link.up:
                    self.sim.link_news(self.sim.now_s, self.peer, peer_id, link, "refused")
            return link
        link = self.links[peer_id] = SimLink(target, up=target.listening)
        self.sim.link_news(self.sim.now_s, self.peer, peer_id, link,
                           "up" if link.up else "refused")
        return link

    def source_left(self, target: SimPeer) -> None:
        """``target`` exited: our links to it break, and are then refused."""
        now = self.sim.now_s
        for peer_id, link in self.links.items():
            if link.target is target and link.up:
                link.up = False
                self.sim.link_news(now, self.peer, peer_id, link, "down")
                self.sim.link_news(now + self.RECONNECT_S, self.peer, peer_id, link, "refused")

    def reply(self, route: Hashable, message: Message, payload: bytes | None = None) -> None:
        state = self.peer.state
        if state is None or state.peer_id is None:
            return
        at = self.sim.now_s + self.peer.reply_delay_s
        if isinstance(route, ReverseRoute):  # on the connection we opened to serve it
            requester = self.serving.get(route.peer_id)
            if requester is not None:
                self.sim.send(at, "reversed-reply", (requester, ("rev", self.peer.key)),
                              message, payload)
        elif isinstance(route, tuple):  # to a source that connected to us
            server = self.sim.by_key.get(route[1])
            if server is not None:
                self.sim.send(self.sim.now_s, "serve-reversed", (server, state.peer_id),
                              message, None)
        else:
            requester = self.sim.by_key.get(route)  # type: ignore[call-overload]
            if requester is not None:
                self.sim.send(at, "reply", (requester, state.peer_id), message, payload)

    def subscribe(self, pub_port: int) -> None:
        self.peer.subscribed = True

    def open_reverse(self, peer_id: int, endpoint: str) -> None:
        target = self.sim.by_endpoint.get(endpoint)
        if target is not None and target.reachable:
            self.serving[peer_id] = target

    def open_punch(self, peer_id: int, endpoint: str, curve_server: bool) -> None:
        raise NotImplementedError("the simulation has no NAT to punch through")

    def learn_mapping(self, echo_ports: tuple[int, ...]) -> None:
        raise NotImplementedError("the simulated tracker has no address echoes")

    def close_link(self, peer_id: int) -> None:
        link = self.links.get(peer_id)
        if link is not None:
            link.in_use = False  # set aside, as the real sockets do: not heard

    def drop_peer(self, peer_id: int) -> None:
        self.close_link(peer_id)
        self.serving.pop(peer_id, None)


class Simulation:
    def __init__(self, settings: Settings | None = None, seed: int = 0) -> None:
        self.settings = settings or Settings()
        self.rng = random.Random(seed)
        self.now_s = 0.0
        self._seed = seed
        self._tokens = (i.to_bytes(TOKEN_BYTES, "big") for i in itertools.count(1))
        self.tracker = self._new_tracker()
        self.tracker_blocks: list[display.Block] = []
        # A tracker killed and started again: the blocks of each one that
        # died, and what peers said while none ran (it waits in their
        # sockets' queues, as in a DEALER's, for the next one).
        self.tracker_up = True
        self.earlier_tracker_blocks: list[list[display.Block]] = []
        self._held_for_tracker: list[tuple[bytes, list[Buffer]]] = []
        self.published: list[Event] = []  # every event the tracker published
        # The tracker's view when it let each peer go (key -> Departure).
        self.departures: dict[bytes, Departure] = {}
        self.peers: list[SimPeer] = []
        self.by_key: dict[bytes, SimPeer] = {}
        self.by_endpoint: dict[str, SimPeer] = {}
        # What is on its way: (due, order sent, kind, target, frames).
        self.wire: list[tuple[float, int, str, object, list[Buffer]]] = []
        self._sent = itertools.count()
        self.drop_event: Callable[[Event], bool] = lambda _event: False
        # True for the request the tracker dies on, as it arrives (it is lost).
        self.tracker_dies_on: Callable[[bytes, Message], bool] = lambda _key, _message: False
        self.events_dropped = 0
        self._next_scan_s = self.settings.scan_interval_s
        # What crossed the wire: messages and bytes each peer received (by
        # index), and requests the tracker handled.
        self.received: Counter[int] = Counter()
        self.received_bytes: Counter[int] = Counter()
        self.tracker_handled = 0
        self.tracker_requests: Counter[str] = Counter()  # by message type
        self.link_reports: Counter[str] = Counter()  # what the peers' sockets reported

    def _new_tracker(self) -> TrackerState:
        return TrackerState(5556, self.settings.expiry_s, lambda: next(self._tokens),
                            random.Random(self._seed))

    # --- set-up ------------------------------------------------------------------

    def add_peer(self, files: dict[str, bytes], quiet_s: float = 1.0,
                 reachable: bool = True, store: MemoryStore | None = None,
                 mode: Mode | None = None, explains_itself: bool = False) -> SimPeer:
        """A peer process; ``store`` is the disk of an earlier one (a restart),
        with its Shared and its partial downloads; ``mode``: a get or a seed;
        ``explains_itself``: a person watches its status."""
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
        leftovers = []
        for meta, pieces in store.load_partials():
            if meta.name in store.shared:
                store.drop_partial(meta.digest)
            else:
                leftovers.append((meta, pieces))
        peer.state = PeerState(self.settings.peer_settings(), quiet_s, metas, leftovers,
                               store.taken(), peer.listen_port, self.now_s,
                               random.Random(self.rng.random()), mode, explains_itself)
        peer.net = SimNetwork(self, peer)
        peer.runner = ActionRunner(peer.state, peer.net, store, peer.blocks, None,
                                   lambda: self.now_s)
        peer.run(peer.state.start())
        return peer

    def kill(self, peer: SimPeer) -> None:
        """SIGKILL: the peer stops, says nothing, answers nothing."""
        peer.alive = False

    def restart(self, peer: SimPeer) -> SimPeer:
        """SIGKILL (if it still runs), then a new process on the same disk:
        a new connection, a new id, what its files and partial files hold."""
        self.kill(peer)
        return self.add_peer({}, peer.quiet_s, peer.reachable, store=peer.store)

    def kill_tracker(self) -> None:
        """SIGKILL the tracker: what is on its way to it is lost with its
        connections; until one is started again, it answers and publishes
        nothing, and what peers say waits for the next one."""
        self.tracker_up = False
        self.wire = [item for item in self.wire if item[2] != "tracker"]
        heapq.heapify(self.wire)

    def start_tracker(self, lost: Collection[SimPeer] = ()) -> None:
        """A new tracker on the killed one's port: it knows nothing of the
        swarm; the peers' connections (requests and events) come back by
        themselves, and what they said meanwhile reaches it first -- but
        for the peers in ``lost``, whose words went with their broken
        connections: the new tracker hears from them at their next."""
        assert not self.tracker_up, "kill_tracker first"
        self.earlier_tracker_blocks.append(self.tracker_blocks)
        self.tracker_blocks = []
        self.tracker = self._new_tracker()
        self.tracker_up = True
        gone = {peer.key for peer in lost}
        held, self._held_for_tracker = self._held_for_tracker, []
        for key, frames in held:
            if key in gone:
                continue
            heapq.heappush(self.wire, (self.now_s, next(self._sent), "tracker", key, frames))

    def edit(self, peer: SimPeer, name: str, data: bytes | None) -> None:
        """A person saves new content over a file of Shared (None: deletes it)."""
        if data is None:
            peer.store.shared.pop(name, None)
        else:
            peer.store.shared[name] = data

    # --- the wire ------------------------------------------------------------------

    def send(self, at_s: float, kind: str, target: object, message: Message,
             payload: bytes | None) -> None:
        frames = encode_frames(message, payload)
        if kind == "tracker" and not self.tracker_up:
            assert isinstance(target, bytes)
            self._held_for_tracker.append((target, frames))
            return
        heapq.heappush(self.wire, (at_s, next(self._sent), kind, target, frames))

    def link_news(self, at_s: float, peer: SimPeer, source: int, link: SimLink,
                  what: str) -> None:
        """What a peer's sockets will report of its link to ``source``: "up",
        "down" or "refused" (nothing crosses the wire)."""
        self.link_reports[what] += 1
        heapq.heappush(self.wire, (at_s, next(self._sent), "link", (peer, source, link, what), []))

    def _deliver(self, kind: str, target: object, frames: list[Buffer]) -> SimPeer | None:
        """Hand a message over; the peer it woke, if any."""
        if kind == "link":
            assert isinstance(target, tuple)
            return self._link_news(*target)
        message, payload = decode(frames)
        if kind == "tracker":
            assert isinstance(target, bytes)
            if self.tracker_dies_on(target, message):
                self.kill_tracker()
                return None
            if self.by_key[target].alive:
                self.tracker_handled += 1
                self.tracker_requests[type(message).__name__] += 1
                self._carry_out(self.tracker.handle(target, message, "127.0.0.1", self.now_s))
            return None
        peer, actions = self._hand_over(kind, target, message, payload)
        if peer is None:
            return None
        self.received[peer.index] += 1
        self.received_bytes[peer.index] += sum(len(memoryview(f)) for f in frames)
        peer.run(actions)
        return peer

    def _hand_over(self, kind: str, target: object, message: Message,
                   payload: memoryview | None) -> tuple[SimPeer | None, list[Action]]:
        """Give a delivered message to the peer it is for: (that peer, the
        actions it returns); (None, []) when the peer is gone."""
        peer, detail = target if isinstance(target, tuple) else (target, None)
        assert isinstance(peer, SimPeer)
        state = peer.state
        if not peer.listening or state is None:
            return None, []  # its process has exited
        now = self.now_s
        if kind == "serve":
            return peer, state.on_request(detail, message, now)
        if kind == "serve-reversed":
            return peer, state.on_request(ReverseRoute(detail), message, now)
        if kind == "reversed-reply":
            return peer, state.on_request(detail, message, now, payload)
        if kind == "unreachable":
            return peer, state.on_link_unreachable(detail, now)
        if kind == "reply":
            return peer, state.on_peer_reply(detail, message, payload, now)
        if kind == "event":
            assert isinstance(message, Event)
            return peer, state.on_event(message, now)
        assert kind == "to-peer", kind
        return peer, state.on_tracker(message, now)

    def _link_news(self, peer: SimPeer, source: int, link: SimLink,
                   what: str) -> SimPeer | None:
        """A peer's sockets report on its link to a source (not on one set
        aside or replaced since)."""
        state, net = peer.state, peer.net
        if not peer.listening or state is None or net is None:
            return None
        if net.links.get(source) is not link or not link.in_use:
            return None
        if what == "up":
            peer.run(state.on_link_up(source))
        elif what == "down":
            peer.run(state.on_link_down(source))
        else:
            peer.run(state.on_link_unreachable(source, self.now_s, refused=True))
        return peer

    def _carry_out(self, actions: list[Action]) -> None:
        """The tracker's actions, as its loop carries them out."""
        for action in actions:
            if isinstance(action, Show):
                self.tracker_blocks.append(action.block)
            elif isinstance(action, Send):
                if isinstance(action.message, Farewell):
                    self.departures[action.to] = Departure.of(self.tracker)
                self.send(self.now_s, "to-peer", self.by_key[action.to], action.message, None)
            elif isinstance(action, Publish):
                self._publish(action.event)

    def _publish(self, event: Event) -> None:
        self.published.append(event)
        if event.TOPIC != FILE_TOPIC:
            return  # the one topic peers subscribe to
        for peer in self.peers:
            if peer.subscribed and peer.alive:
                if self.drop_event(event):
                    self.events_dropped += 1
                    continue
                self.send(self.now_s, "event", peer, event, None)

    # --- running -------------------------------------------------------------------------

    def step(self) -> None:
        """Deliver what is due, then advance the clock one tick.  As in the
        real loop, a peer runs its timers when something reached it or when
        its next deadline has come, not on every tick."""
        rounds = 0
        woken: dict[int, SimPeer] = {}
        while self.wire and self.wire[0][0] <= self.now_s and rounds < 100_000:
            touched: dict[int, SimPeer] = {}
            while self.wire and self.wire[0][0] <= self.now_s:
                _at, _order, kind, target, frames = heapq.heappop(self.wire)
                peer = self._deliver(kind, target, frames)
                if peer is not None:
                    touched[peer.index] = peer
                rounds += 1
            for index in sorted(touched):
                peer = touched[index]
                if peer.alive and peer.state is not None:
                    peer.run(peer.state.flush(self.now_s))
            woken.update(touched)
        self.now_s += TICK_S
        for peer in self.peers:
            state = peer.state
            if not peer.alive or state is None or state.done:
                continue
            if peer.index in woken or self.now_s >= peer.timer_due_s:
                peer.run(state.on_timer(self.now_s))
                peer.timer_due_s = state.next_deadline_s(self.now_s)
        if self.now_s >= self._next_scan_s:
            self._next_scan_s = self.now_s + self.settings.scan_interval_s
            for peer in self.peers:
                if peer.alive and peer.state is not None and not peer.state.done:
                    self._scan(peer, peer.state)
                    peer.timer_due_s = self.now_s  # as a scan wakes the real loop
        self._expire()
        self._notice_departures()

    def _expire(self) -> None:
        """The tracker's expiry, as its loop runs it at every pass."""
        if self.tracker_up:
            self._carry_out(self.tracker.expire(self.now_s))

    def _notice_departures(self) -> None:
        """Peers that exited (done, or killed) since the last step: the
        links of others to them break."""
        for gone in self.peers:
            if gone.departed or gone.listening:
                continue
            gone.departed = True
            for peer in self.peers:
                if peer.net is not None and peer.listening:
                    peer.net.source_left(gone)

    def _scan(self, peer: SimPeer, state: PeerState) -> None:
        """What the real watcher does on each look at Shared."""
        store, now = peer.store, self.now_s
        for digest, what in store.check_served():
            peer.run(state.on_local_changed(digest, what, now))
        served = set(store.served_names.values())
        unserved = {n: d for n, d in store.shared.items()
                    if n not in served and n not in store.blocked}
        peer.run(state.on_shared_entries(store.taken(), now))
        for name, data in sorted(unserved.items()):
            if peer.seen.get(name) == data:
                peer.run(state.on_local_file(meta_of_bytes(name, data), now))
        peer.seen = unserved

    def run(self, until: Callable[[], bool], limit_s: float) -> None:
        while not until():
            if self.now_s > limit_s:
                raise AssertionError(f"simulation still running at t={self.now_s:.1f}s")
            self.step()

    def acquired(self, peer_id: int, name: str, brought: bool | None = None) -> list[int]:
        """Chunks of ``name`` the tracker has printed as acquired by ``peer_id``:
        all of them, or only those it brought from an earlier run (``brought``
        True) or only those it fetched (False)."""
        chunks: list[int] = []
        for block in self.tracker_blocks:
            if isinstance(block, display.Acquired) and (block.peer_id, block.name) == (
                    peer_id, name) and brought in (None, block.brought):
                for start, end in block.ranges:
                    chunks.extend(range(start, end))
        return sorted(chunks)

    def all_done(self) -> bool:
        return all(p.state is not None and (p.state.done or not p.alive) for p in self.peers)
