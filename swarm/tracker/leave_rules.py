"""The contract's rules (a) and (b) of leaving, checked from scratch.

(a) every other living peer holds a complete copy of every file this peer holds;
(b) this peer holds a complete copy of every file available in the swarm.

A peer excused from a name (it cannot take the swarm's file of that name)
counts as holding it for (a) and (b): nobody could ever satisfy the rule
otherwise.  The tracker keeps counts that answer both at once
(``swarm.tracker.readiness``); these plain checks, at peers x files a call,
are the definition those counts are tested against.  Rule (c) runs on the
peer's own clock (``swarm.peer.quiet_clock``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol


class HoldsFiles(Protocol):
    @property
    def complete(self) -> Iterable[str]: ...

    @property
    def excused(self) -> Iterable[str]: ...


def _has(holder: HoldsFiles, name: str) -> bool:
    return name in holder.complete or name in holder.excused


def unmet_a(me: int, peers: Mapping[int, HoldsFiles]) -> list[tuple[int, str]]:
    """(peer, file) pairs that keep rule (a) from holding for ``me``: another
    living peer that lacks a file ``me`` holds."""
    mine = peers[me].complete
    return sorted((peer_id, name) for peer_id, holder in peers.items() if peer_id != me
                  for name in mine if not _has(holder, name))


def unmet_b(me: HoldsFiles, available: Iterable[str]) -> list[str]:
    """Available files ``me`` does not hold (rule (b))."""
    return sorted(name for name in available if not _has(me, name))
