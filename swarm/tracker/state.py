"""The tracker's state machine, free of sockets: what happened in, actions out.

Three entry points, each returning the actions it decided, in order:

- ``handle(sender, message, address, now)``: one request;
- ``bad_request(sender, reason)``: a request the IO side could not decode;
- ``expire(now)``: drop the peers silent too long.

The actions are messages to send (``Send``, to a routing id), events to
publish (``Publish``, already numbered), stdout blocks (``Show``), lines for
stderr (``Say``) and, last, the entries of the ``--events`` log
(``Observe``).  Its parts (the registry of peers and files, leaving,
introductions) put them into one shared ``Outbox``; every entry point ends
with ``_finish``.  The IO loop owns the sockets and the clock; nothing here
blocks, reads the time or draws randomness of its own.  What the IO side may
ask besides: ``listing``, ``figures`` and ``next_expiry_s``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from swarm.protocol import display
from swarm.protocol.addresses import tcp_endpoint
from swarm.protocol.chunks import pairs
from swarm.protocol.fields import MAX_TEXT as MAX_REASON
from swarm.protocol.messages import (
    PROTOCOL_VERSION,
    CanHoldAgain,
    CannotHold,
    Complaint,
    Complete,
    ErrorReply,
    Goodbye,
    Have,
    Heartbeat,
    Hello,
    HelloReply,
    HoldersQuery,
    Join,
    LeaveQuery,
    Listing,
    ListQuery,
    Message,
    MetaQuery,
    Offer,
    Pong,
    PunchReady,
    Refused,
    Rejoin,
    ReverseRequest,
    SyncRequest,
    Welcome,
    Withdraw,
)
from swarm.protocol.output import Action, Outbox, Show
from swarm.protocol.record import Record
from swarm.protocol.roles import ROLE_NAMES
from swarm.tracker import queries
from swarm.tracker.actions import Send
from swarm.tracker.entries import entries
from swarm.tracker.introductions import Introductions
from swarm.tracker.leaving import Leaving
from swarm.tracker.punch import PunchBoard
from swarm.tracker.records import PeerRecord
from swarm.tracker.registry import Registry

COMPLAINTS_LOGGED_PER_PEER = 20  # beyond this, complaints are counted, not logged
BAD_REQUESTS_ANSWERED = 10  # per stranger; then its undecodable requests are only dropped
STRANGERS_REMEMBERED = 10_000  # bounds the memory a flood of new senders can take


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
        # The draw of holders to name: injected, so the state draws no
        # randomness of its own and tests pin it (as new_token).
        self.rng = rng
        self.out = Outbox()
        punches = PunchBoard()
        # The peers and files; tests look inside, the IO side does not.
        self.registry = Registry(self.out, punches)
        self.leaving = Leaving(self.out, self.registry)
        self.introductions = Introductions(self.out, self.registry, punches, new_token)
        # Senders not joined whose requests could not be decoded, and how many.
        self._strangers: dict[bytes, int] = {}
        # No peer expires before this: a bound kept so that expiry costs a
        # walk over the peers once per expiry period, not once per request
        # (last_seen_s only grows, so a bound found by a walk stays true).
        self._expiry_due_s = float("inf")

    # --- entry points ------------------------------------------------------------------

    def handle(self, sender: bytes, message: Message, address: str,
               now_s: float) -> list[Action]:
        """One request from ``sender`` (a routing id) seen from ``address``."""
        if isinstance(message, Join):
            self._join(sender, message, address, now_s)
        elif isinstance(message, ListQuery):
            self.out.put(Send(sender, self.listing(now_s)))
        elif isinstance(message, Hello):
            self.out.put(Send(sender, HelloReply(PROTOCOL_VERSION, self.pub_port,
                                                 self.echo_ports)))
        else:
            peer = self.registry.peer_of(sender)
            if peer is None:
                self.out.put(Send(sender, Rejoin()))
            else:
                peer.last_seen_s = now_s
                handler = PEER_REQUESTS.get(type(message))
                if handler is None:
                    self.registry.strike(
                        peer, f"{type(message).__name__} is not a request a tracker takes")
                else:
                    handler(self, peer, message, now_s)
        return self._finish()

    def bad_request(self, sender: bytes, reason: str) -> list[Action]:
        """A request from ``sender`` that could not be decoded, for
        ``reason``.  A peer's is a strike against it (not a sign of life);
        a stranger's is answered and said a few times, then only dropped,
        so a flood costs little and cannot be turned against anyone else."""
        peer = self.registry.peer_of(sender)
        if peer is not None:
            self.registry.strike(peer, f"bad request: {reason}")
            return self._finish()
        if len(self._strangers) > STRANGERS_REMEMBERED:
            self._strangers.clear()
        count = self._strangers.get(sender, 0) + 1
        self._strangers[sender] = count
        if count <= BAD_REQUESTS_ANSWERED:
            self.out.warning("dropped a bad request from %s: %s", sender.hex()[:12], reason)
            self.out.put(Send(sender, ErrorReply(f"bad request: {reason}"[:MAX_REASON])))
        return self._finish()

    def expire(self, now_s: float) -> list[Action]:
        """Drop the peers silent for longer than ``expiry_s``."""
        if now_s <= self._expiry_due_s:
            return self.out.take()
        peers = self.registry.peers
        for peer in list(peers.values()):
            silent_s = now_s - peer.last_seen_s
            if silent_s > self.expiry_s:
                self.out.warning("peer %d expired: silent for %.1f s (limit %.1f s)",
                                 peer.peer_id, silent_s, self.expiry_s)
                self.registry.remove_peer(peer, "expired")
        self._expiry_due_s = min((p.last_seen_s for p in peers.values()),
                                 default=float("inf")) + self.expiry_s
        return self._finish()

    def _finish(self) -> list[Action]:
        """The end of every entry point: peers hear where they stand, and
        tools what was shown and published."""
        self.leaving.tell_changes()
        actions = self.out.take()
        actions += entries(actions, self.registry.peers)
        return actions

    # --- what the IO side may ask (changing nothing) -------------------------------

    def listing(self, now_s: float) -> Listing:
        """Every peer and file, as `swarm ls` and the dashboard see them."""
        return queries.listing(self.registry, now_s)

    def figures(self) -> TrackerFigures:
        """The running totals the metrics show."""
        return TrackerFigures(self.registry.moved_bytes, self.registry.strikes)

    def next_expiry_s(self) -> float | None:
        """When ``expire`` may next find a peer silent too long (it may find
        none: a peer heard from since counts only at that walk)."""
        if not self.registry.peers:
            return None
        return self._expiry_due_s

    # --- requests ------------------------------------------------------------------------

    def _join(self, sender: bytes, join: Join, address: str, now_s: float) -> None:
        known = self.registry.peer_of(sender)
        if known is not None:
            self.out.put(Send(sender, ErrorReply(f"already joined as peer {known.peer_id}")))
            return
        registry = self.registry
        peer = registry.add_peer(sender, tcp_endpoint(address, join.listen_port), join.role,
                                 now_s)
        self._expiry_due_s = min(self._expiry_due_s, now_s + self.expiry_s)
        refused = registry.offer(peer, join.files)
        offered = sorted((name, registry.files[name].meta.chunks) for name in peer.complete)
        self.out.put(Show(display.Connect(peer.peer_id, offered)))
        # What it kept from an earlier run: its ACQUIRED lines, after its CONNECT.
        for partial in sorted(join.partials, key=lambda p: p.meta.name):
            registry.take_partial(peer, partial.meta, pairs(partial.ranges))
        self.out.put(Send(sender, Welcome(peer.peer_id, queries.snapshot(registry),
                                          tuple(refused))))
        self.out.info("peer %d (%s) joined from %s offering %d file(s)", peer.peer_id,
                      ROLE_NAMES[join.role], peer.endpoint, len(offered))

    def _offer(self, peer: PeerRecord, offer: Offer) -> None:
        refused = self.registry.offer(peer, offer.files)
        if refused:
            self.out.put(Send(peer.sender, Refused(tuple(refused))))

    def _heartbeat(self, peer: PeerRecord, beat: Heartbeat, now_s: float) -> None:
        problem = peer.outflow.report(beat.served_bytes, now_s)
        if problem is not None:
            # Not a strike: only this peer's send rate suffers, and a peer
            # confused about what it served breaks nothing else.
            self.out.info("peer %d: bytes-served count not believed: %s", peer.peer_id, problem)
        self.out.put(Send(peer.sender, Pong(self.registry.seq)))

    def _complaint(self, peer: PeerRecord, complaint: Complaint) -> None:
        accused = self.registry.peers.get(complaint.peer_id)
        name = self.registry.by_digest.get(complaint.digest, "?")
        if accused is None:
            return
        accused.complaints_against += 1
        if accused.complaints_against <= COMPLAINTS_LOGGED_PER_PEER:
            self.out.warning("peer %d reports peer %d for %r: %s", peer.peer_id,
                             accused.peer_id, name, complaint.reason)

    def _complete(self, peer: PeerRecord, complete: Complete, now_s: float) -> None:
        """A file whole: its last chunks first, as a Have would bring them."""
        if complete.reports:
            self.registry.take_reports(peer, complete.reports, now_s)
            if self.registry.peers.get(peer.peer_id) is not peer:
                return  # expelled for them
        self.registry.complete(peer, complete.digest)

    def _answer(self, peer: PeerRecord, answer: Message) -> None:
        self.out.put(Send(peer.sender, answer))


# What a joined peer may ask, and who answers it: one entry per request kind.
PeerRequest = Callable[[TrackerState, PeerRecord, Any, float], None]
PEER_REQUESTS: dict[type[Message], PeerRequest] = {
    Heartbeat: lambda t, peer, m, now: t._heartbeat(peer, m, now),
    Have: lambda t, peer, m, now: t.registry.take_reports(peer, m.reports, now),
    Complete: lambda t, peer, m, now: t._complete(peer, m, now),
    Offer: lambda t, peer, m, _now: t._offer(peer, m),
    HoldersQuery: lambda t, peer, m, _now: t._answer(
        peer, queries.holders(t.registry, peer, m, t.rng)),
    MetaQuery: lambda t, peer, m, _now: t._answer(
        peer, queries.meta_reply(t.registry, peer, m.digest, t.rng)),
    SyncRequest: lambda t, peer, _m, _now: t._answer(peer, queries.snapshot(t.registry)),
    Complaint: lambda t, peer, m, _now: t._complaint(peer, m),
    ReverseRequest: lambda t, peer, m, now: t.introductions.reverse(peer, m.peer_id, now),
    PunchReady: lambda t, peer, m, _now: t.introductions.punch_ready(peer, m.port),
    CannotHold: lambda t, peer, m, _now: t.registry.excuse(peer, m.name, m.reason),
    CanHoldAgain: lambda t, peer, m, _now: t.registry.unexcuse(peer, m.name),
    Withdraw: lambda t, peer, m, _now: t.registry.withdraw(peer, m.digest, m.reason),
    Goodbye: lambda t, peer, m, _now: t.leaving.goodbye(peer, m),
    LeaveQuery: lambda t, peer, _m, _now: t.leaving.answer_query(peer),
}
