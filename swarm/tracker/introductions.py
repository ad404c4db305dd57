"""Introducing two peers when one cannot reach the other (sans-IO).

Connection reversal: the target is told to connect out to the asker -- or,
when both are behind NATs that allow it (``swarm.tracker.punch``), both are
told to punch through to each other at once.  The tracker only introduces
them; the chunks never pass through it.
"""

from __future__ import annotations

from collections.abc import Callable

from swarm.protocol.messages import ConnectTo, ErrorReply, Punch, ReverseToken
from swarm.protocol.output import Outbox
from swarm.tracker.actions import Send
from swarm.tracker.punch import Decision, PunchBoard, punch_endpoint
from swarm.tracker.records import PeerRecord
from swarm.tracker.registry import Registry


class Introductions:
    def __init__(self, out: Outbox, registry: Registry, punches: PunchBoard,
                 new_token: Callable[[], bytes]) -> None:
        self.out = out
        self.registry = registry
        self.punches = punches
        # Tokens for reversed connections, TOKEN_BYTES of randomness each:
        # injected, so the state draws no randomness of its own.
        self.new_token = new_token

    def reverse(self, asker: PeerRecord, target_id: int, now_s: float) -> None:
        """``asker`` cannot reach ``target_id``."""
        target = self.registry.peers.get(target_id)
        if target is None or target_id == asker.peer_id:
            self.out.put(Send(asker.sender, ErrorReply.no_peer(target_id)))
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

    def punch_ready(self, peer: PeerRecord, port: int) -> None:
        """``peer`` can punch, from public port ``port``."""
        self.out.info("peer %d is behind NAT and can punch from public port %d", peer.peer_id,
                      port)
        self.punches.ready(peer.peer_id, port)

    def _punch(self, a: PeerRecord, b: PeerRecord) -> None:
        ports = self.punches.ports
        self.out.info("peers %d and %d are both behind NAT; telling both to punch through to "
                      "each other (attempt %d)", a.peer_id, b.peer_id,
                      self.punches.attempts(a.peer_id, b.peer_id))
        self.out.put(Send(a.sender, Punch(b.peer_id, punch_endpoint(b.endpoint,
                                                                    ports[b.peer_id]))))
        self.out.put(Send(b.sender, Punch(a.peer_id, punch_endpoint(a.endpoint,
                                                                    ports[a.peer_id]))))
