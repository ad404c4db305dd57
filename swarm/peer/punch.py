"""Hole punching, a peer's side of it (pure).

At start a peer reaches the tracker's two address echoes from its punch port
and hears, from each, the address and port its connection came from.  Seen
from an address that is not its own, it is behind NAT; the same public port
twice means its NAT keeps one mapping per local port, so a peer told that
public port can reach it once it has sent a packet out to that peer
(``PunchReady``).  Two different ports mean a NAT that maps every
destination anew (symmetric): punching cannot work, and the peer says so once.

When the tracker says ``Punch``, the peer connects from its punch port to the
other's public mapping while the other does the same (TCP simultaneous
open).  A link that does not come up is asked for again after a back-off, a
few times; then the peer gives up on that peer, which reaches it through
others.
"""

from __future__ import annotations

from swarm.protocol.messages import PUNCH_ATTEMPTS
from swarm.protocol.output import Outbox
from swarm.protocol.record import Record

RETRY_BACKOFF_S = (1.0, 2.0)  # after the first and second failed punch of a peer


class NatMapping(Record):
    """What the address echoes told us about our punch port."""

    behind_nat: bool
    public_port: int | None  # None: no consistent public port (or none seen)
    symmetric: bool


def judge_mapping(local_address: str, seen: list[tuple[str, int]]) -> NatMapping:
    """``seen``: (address, port) each echo reported for our punch port."""
    if len(seen) < 2:
        return NatMapping(False, None, False)  # the echoes did not answer: do not punch
    addresses = {address for address, _ in seen}
    ports = {port for _, port in seen}
    behind_nat = addresses != {local_address}
    if len(ports) > 1 or len(addresses) > 1:
        return NatMapping(behind_nat, None, True)
    return NatMapping(behind_nat, seen[0][1], False)


def mapping_said(mapping: NatMapping) -> str | None:
    """What to tell a person about the mapping (once, at warning level), if
    anything is worth telling."""
    if mapping.symmetric:
        return ("this peer is behind a NAT that gives every connection a new public port "
                "(symmetric NAT): hole punching cannot work through it, so peers that are "
                "behind NAT too cannot exchange files with this one directly; it gets their "
                "files, and they get its, through peers that can reach both")
    return None


class PunchAttempt(Record, frozen=False):
    failures: int = 0
    retry_at_s: float | None = None
    up: bool = False  # the link is up now (said once each time it comes up)


class Punches:
    def __init__(self, out: Outbox) -> None:
        self.out = out
        self.by_peer: dict[int, PunchAttempt] = {}

    def started(self, peer_id: int) -> None:
        """The tracker told us to punch through to ``peer_id``."""
        attempt = self.by_peer.setdefault(peer_id, PunchAttempt())
        attempt.retry_at_s = None
        attempt.up = False

    def punched(self, peer_id: int) -> bool:
        return peer_id in self.by_peer

    def link_up(self, peer_id: int) -> None:
        attempt = self.by_peer.get(peer_id)
        if attempt is None or attempt.up:
            return
        attempt.up = True
        self.out.info("hole punched: connected to peer %d through both NATs (attempt %d)",
                      peer_id, attempt.failures + 1)

    def link_down(self, peer_id: int) -> None:
        attempt = self.by_peer.get(peer_id)
        if attempt is not None:
            attempt.up = False

    def failed(self, peer_id: int, now_s: float) -> bool:
        """The punched link to ``peer_id`` did not come up in time.  True when
        that was the last attempt: the peer falls back to a reversal (which
        the tracker now answers with one), and to other peers for its files."""
        attempt = self.by_peer.get(peer_id)
        if attempt is None:
            return False
        attempt.failures += 1
        if attempt.failures >= PUNCH_ATTEMPTS:
            attempt.retry_at_s = None
            self.out.warning("could not punch through to peer %d after %d attempts; falling back "
                             "to connection reversal, and to other peers for its files", peer_id,
                             attempt.failures)
            return True
        backoff = RETRY_BACKOFF_S[min(attempt.failures, len(RETRY_BACKOFF_S)) - 1]
        attempt.retry_at_s = now_s + backoff
        self.out.info("punching through to peer %d failed (attempt %d); trying again in %.0f s",
                      peer_id, attempt.failures, backoff)
        return False

    def due(self, now_s: float) -> list[int]:
        """Peers to ask the tracker to punch through to again, now."""
        found = []
        for peer_id, attempt in self.by_peer.items():
            if attempt.retry_at_s is not None and attempt.retry_at_s <= now_s:
                attempt.retry_at_s = None
                found.append(peer_id)
        return found

    def next_deadline_s(self) -> float:
        times = [a.retry_at_s for a in self.by_peer.values() if a.retry_at_s is not None]
        return min(times, default=float("inf"))

    def forget(self, peer_id: int) -> None:
        self.by_peer.pop(peer_id, None)
