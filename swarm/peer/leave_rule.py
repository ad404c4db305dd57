"""When a peer may leave the swarm: the contract's rules (a), (b) and (c).

(a) every other living peer holds a complete copy of every file this peer holds;
(b) this peer holds a complete copy of every file available in the swarm;
(c) S seconds have passed since it started and since the last new file.

A peer excused from a name (it holds other content under that name, so it can
never take the swarm's file) counts as holding it for (a) and (b): nobody
could ever satisfy the rule otherwise.  The tracker checks (a) and (b) again on
goodbye with its own, newest state; (c) runs on the peer's own clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from swarm.protocol.record import Record


class HoldsFiles(Protocol):
    @property
    def complete(self) -> Iterable[str]: ...

    @property
    def excused(self) -> Iterable[str]: ...


def _has(holder: HoldsFiles, name: str) -> bool:
    return name in holder.complete or name in holder.excused


def iter_unmet_a(me: int, peers: Mapping[int, HoldsFiles],
                 try_first: tuple[int, str] | None = None) -> Iterator[tuple[int, str]]:
    """(peer, file) pairs that keep rule (a) from holding: another living peer
    that lacks a file I hold.  Lazy, so "does it hold?" stops at the first.

    ``try_first`` is the pair that blocked the last check: it usually still
    does, and trying it first makes a repeated check cost one lookup instead
    of peers x files.  It may come out twice; callers that want every pair
    leave it out."""
    mine = peers[me].complete
    if try_first is not None:
        peer_id, name = try_first
        holder = peers.get(peer_id)
        if peer_id != me and holder is not None and name in mine and not _has(holder, name):
            yield try_first
    for peer_id, holder in peers.items():
        if peer_id != me:
            for name in mine:
                if not _has(holder, name):
                    yield peer_id, name


def unmet_a(me: int, peers: Mapping[int, HoldsFiles]) -> list[tuple[int, str]]:
    return sorted(iter_unmet_a(me, peers))


def iter_unmet_b(me: HoldsFiles, available: Iterable[str]) -> Iterator[str]:
    """Available files I do not hold (rule (b)), lazily."""
    return (name for name in available if not _has(me, name))


def unmet_b(me: HoldsFiles, available: Iterable[str]) -> list[str]:
    return sorted(iter_unmet_b(me, available))


class QuietClock(Record, frozen=False):
    """Rule (c): the peer's own clock, pushed forward by new-file events."""

    started_at_s: float
    quiet_s: float
    last_new_file_at_s: float | None = None

    def file_announced(self, now_s: float) -> None:
        self.last_new_file_at_s = now_s

    def quiet_until(self) -> float:
        """The first moment at which rule (c) holds, unless another file comes."""
        start = self.started_at_s
        if self.last_new_file_at_s is not None:
            start = max(start, self.last_new_file_at_s)
        return start + self.quiet_s

    def holds(self, now_s: float) -> bool:
        return now_s >= self.quiet_until()
