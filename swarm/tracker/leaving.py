"""Whether a peer may leave (sans-IO): rules (a) and (b), on the counts that
``swarm.tracker.readiness`` keeps.

A peer is told whenever that changes for it (``LeaveStatus``), is answered
in more detail when it asks (``LeaveQuery``), and its goodbye is taken only
when they hold (or when it insists).  ``leave_blockers`` checks the rules
from scratch, the definition the counts are tested against.
"""

from __future__ import annotations

from swarm.protocol.fields import MAX_TEXT as MAX_REASON
from swarm.protocol.messages import Farewell, Goodbye, LeaveStatus, NotYet
from swarm.protocol.output import Outbox
from swarm.protocol.roles import ROLE_GET, ROLE_PEER, ROLE_SEED
from swarm.tracker.actions import Send
from swarm.tracker.leave_rules import unmet_a, unmet_b
from swarm.tracker.records import PeerRecord
from swarm.tracker.registry import Registry


class Leaving:
    def __init__(self, out: Outbox, registry: Registry) -> None:
        self.out = out
        self.registry = registry

    def tell_changes(self) -> None:
        """Tell each peer whose readiness changed whether rules (a) and (b)
        now hold for it (and, if not, why)."""
        readiness = self.registry.readiness
        for pid in sorted(readiness.take_changed()):
            peer = self.registry.peers[pid]
            ready = readiness.ready(pid)
            if ready != peer.told_ready:
                peer.told_ready = ready
                reason = readiness.blocker(pid)[:MAX_REASON]
                self.out.put(Send(peer.sender, LeaveStatus(ready, reason)))

    def answer_query(self, peer: PeerRecord) -> None:
        """A peer asks whether it may leave."""
        ready = self.registry.readiness.ready(peer.peer_id)
        peer.told_ready = ready
        reason = "" if ready else self.why_not(peer.peer_id)[:MAX_REASON]
        self.out.put(Send(peer.sender, LeaveStatus(ready, reason)))

    def goodbye(self, peer: PeerRecord, goodbye: Goodbye) -> None:
        if not goodbye.force and not self.registry.readiness.ready(peer.peer_id):
            self.out.put(Send(peer.sender, NotYet(self.registry.seq)))
            return
        self.out.put(Send(peer.sender, Farewell()))
        self.registry.remove_peer(peer, "goodbye")

    def why_not(self, peer_id: int) -> str:
        """Why rules (a) and (b) do not hold for a peer, naming a peer that
        lacks one of its files and how much of it that peer holds
        (O(files + peers): asked for, never pushed)."""
        readiness = self.registry.readiness
        detail = readiness.waiting_for(peer_id)
        if detail is None:
            return readiness.blocker(peer_id)
        name, other, lacking = detail
        record = self.registry.files[name]
        chunks = record.holders.get(other)
        held = len(chunks) if chunks is not None else 0
        percent = held * 100 // record.meta.chunks if record.meta.chunks else 0
        more = f" and {lacking - 1} more" if lacking > 1 else ""
        return f"waiting for peer {other} ({name} {percent} %){more}"


def leave_blockers(registry: Registry, peer_id: int) -> list[str]:
    """Why rules (a) and (b) do not hold for ``peer_id`` now (empty if they
    do), checked from scratch: what ``readiness`` keeps counts of, at peers x
    files the call (for tests, not for the hot path)."""
    peer = registry.peers[peer_id]
    if peer.role == ROLE_GET:
        return []
    counted = {pid: p for pid, p in registry.peers.items()
               if p.role == ROLE_PEER or pid == peer_id}
    reasons = [f"peer {other} lacks {name!r}" for other, name in unmet_a(peer_id, counted)]
    if peer.role == ROLE_SEED:
        if len(counted) == 1 and peer_id in counted:
            reasons.append("no peer has joined to take its files")
        return reasons
    reasons += [f"it lacks {name!r}" for name in unmet_b(peer, registry.available_names())]
    return reasons
