"""For which peers rules (a) and (b) hold, kept up to date as the swarm
changes, so that asking costs nothing (sans-IO).

(a) every other living peer holds (or is excused from) every file this peer
holds; (b) this peer holds (or is excused from) every available file.
Checking them from scratch costs peers x files, and a peer that tracked
everyone's completions to check them itself would decode every completion
of the swarm.  Instead the tracker keeps three counts:

- per file, the living peers that lack it (neither hold it nor are excused);
- per peer, the files it holds that some living peer lacks (rule (a));
- per peer, the available files it lacks (rule (b)).

A peer is ready when both of its counts are zero.

The one-shot clients (``swarm get``, ``swarm seed``) are not counted among
the living peers that lack a file, so no peer waits for them.  A get is
always ready (it leaves once it holds what it came for); a seed is ready by
rule (a) alone, once at least one counted peer lives (a seed started before
anyone joined would otherwise leave before handing anything on).  Every change of who holds
what goes through this object, which moves the counts and notes the peers
whose readiness may have changed; the tracker tells those peers (LeaveStatus).
A count moves in O(1), except when a file's lack count goes between zero and
one, which touches that file's complete holders.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from swarm.protocol.roles import ROLE_GET, ROLE_PEER, ROLE_SEED


class PeerFiles(Protocol):
    @property
    def peer_id(self) -> int: ...
    @property
    def complete(self) -> set[str]: ...
    @property
    def excused(self) -> set[str]: ...
    @property
    def role(self) -> int: ...


class FileHolders(Protocol):
    @property
    def available(self) -> bool: ...
    @property
    def holders(self) -> Mapping[int, object]: ...


class Readiness:
    def __init__(self, peers: Mapping[int, PeerFiles], files: Mapping[str, FileHolders]) -> None:
        self.peers = peers
        self.files = files
        self._lacking: dict[str, int] = {}  # file -> living peers that lack it
        self._blocked: dict[int, int] = {}  # peer -> files it holds that someone lacks
        self._missing: dict[int, int] = {}  # peer -> available files it lacks
        self._counted = 0  # living peers that rule (a) counts (role peer)
        self._seeds: set[int] = set()  # their readiness turns on _counted
        self.changed: set[int] = set()  # peers whose counts moved since take_changed

    # --- asking ------------------------------------------------------------------

    def ready(self, peer_id: int) -> bool:
        role = self.peers[peer_id].role
        if role == ROLE_GET:
            return True
        if self._blocked.get(peer_id, 0):
            return False
        if role == ROLE_SEED:
            return self._counted > 0
        return not self._missing.get(peer_id, 0)

    def blocker(self, peer_id: int) -> str:
        """Why rules (a) or (b) do not hold for a peer, in a few words (one
        reason, found in O(files)); empty when they hold."""
        peer = self.peers[peer_id]
        if peer.role == ROLE_GET:
            return ""
        if peer.role == ROLE_SEED and not self._blocked.get(peer_id, 0):
            return "" if self._counted else "no peer has joined to take its files"
        if self._missing.get(peer_id, 0) and peer.role == ROLE_PEER:
            name = next((n for n, f in self.files.items()
                         if f.available and not _has(peer, n)), "?")
            return f"missing {name!r}"
        if self._blocked.get(peer_id, 0):
            name = next((n for n in sorted(peer.complete) if self._lacking.get(n, 0)), "?")
            count = self._lacking.get(name, 0)
            who = "1 peer still lacks" if count == 1 else f"{count} peers still lack"
            return f"{who} {name!r}"
        return ""

    def waiting_for(self, peer_id: int) -> tuple[str, int, int] | None:
        """Rule (a) in detail, for a peer that asks why it may not leave: a
        file it holds, a counted living peer that lacks it, and how many lack
        it (O(files + peers)); None when nobody lacks what it holds."""
        peer = self.peers[peer_id]
        if not self._blocked.get(peer_id, 0):
            return None
        for name in sorted(peer.complete):
            count = self._lacking.get(name, 0)
            if not count:
                continue
            other = next((pid for pid, p in self.peers.items()
                          if pid != peer_id and _counts(p) and not _has(p, name)), None)
            if other is not None:
                return name, other, count
        return None

    def take_changed(self) -> set[int]:
        changed, self.changed = self.changed, set()
        return {pid for pid in changed if pid in self.peers}

    # --- peers come and go --------------------------------------------------------

    def peer_joined(self, peer: PeerFiles) -> None:
        """A peer just added to ``peers``, holding nothing yet."""
        pid = peer.peer_id
        self._blocked[pid] = 0
        self._missing[pid] = sum(1 for f in self.files.values() if f.available)
        self.changed.add(pid)
        if peer.role == ROLE_SEED:
            self._seeds.add(pid)
        if not _counts(peer):
            return
        self._counted += 1
        if self._counted == 1:
            self.changed.update(self._seeds)
        for name in self.files:
            self._lack_more(name)

    def peer_leaving(self, peer: PeerFiles) -> None:
        """A peer about to be removed from ``peers``."""
        if _counts(peer):
            for name in self.files:
                if not _has(peer, name):
                    self._lack_less(name)
            self._counted -= 1
            if self._counted == 0:
                self.changed.update(self._seeds)
        self._seeds.discard(peer.peer_id)
        self._blocked.pop(peer.peer_id, None)
        self._missing.pop(peer.peer_id, None)

    # --- files come and go ----------------------------------------------------------

    def file_added(self, name: str) -> None:
        """A file just added to ``files``, held by nobody yet."""
        self._lacking[name] = self._counted
        if self.files[name].available:
            for pid in self.peers:
                self._missing[pid] += 1
                self.changed.add(pid)

    def file_removing(self, name: str) -> None:
        """A file about to be removed: nobody holds, lacks or is excused from
        it any more (the peers' sets are cleared here)."""
        available = self.files[name].available
        lacking = self._lacking.pop(name, 0)
        for pid, peer in self.peers.items():
            if name in peer.complete and lacking:
                self._blocked[pid] -= 1
            elif not _has(peer, name) and available:
                self._missing[pid] -= 1
            peer.complete.discard(name)
            peer.excused.discard(name)
            self.changed.add(pid)

    def availability_changed(self, name: str) -> None:
        """``files[name].available`` has just flipped."""
        step = 1 if self.files[name].available else -1
        for pid, peer in self.peers.items():
            if not _has(peer, name):
                self._missing[pid] += step
                self.changed.add(pid)

    # --- who holds what ------------------------------------------------------------

    def set_complete(self, peer: PeerFiles, name: str, complete: bool) -> None:
        """The one way to change whether a peer holds a file whole."""
        if (name in peer.complete) == complete:
            return
        pid = peer.peer_id
        if complete:
            if not _has(peer, name):
                self._gain(peer, name)
            peer.complete.add(name)
            if self._lacking[name]:
                self._blocked[pid] += 1
        else:
            if self._lacking[name]:
                self._blocked[pid] -= 1
            peer.complete.discard(name)
            if not _has(peer, name):
                self._lose(peer, name)
        self.changed.add(pid)

    def set_excused(self, peer: PeerFiles, name: str, excused: bool) -> None:
        """The one way to change whether a peer is excused from a file."""
        if (name in peer.excused) == excused:
            return
        had = _has(peer, name)
        if excused:
            peer.excused.add(name)
        else:
            peer.excused.discard(name)
        if had != _has(peer, name):
            (self._gain if excused else self._lose)(peer, name)

    def _gain(self, peer: PeerFiles, name: str) -> None:
        """``peer`` stops lacking ``name`` (it is about to hold it or be excused)."""
        if self.files[name].available:
            self._missing[peer.peer_id] -= 1
            self.changed.add(peer.peer_id)
        if _counts(peer):
            self._lack_less(name)

    def _lose(self, peer: PeerFiles, name: str) -> None:
        """``peer`` lacks ``name`` from now on."""
        if self.files[name].available:
            self._missing[peer.peer_id] += 1
            self.changed.add(peer.peer_id)
        if _counts(peer):
            self._lack_more(name)

    def _lack_more(self, name: str) -> None:
        self._lacking[name] = self._lacking.get(name, 0) + 1
        if self._lacking[name] == 1:
            for pid in self._complete_holders(name):
                self._blocked[pid] += 1
                self.changed.add(pid)

    def _lack_less(self, name: str) -> None:
        self._lacking[name] -= 1
        if self._lacking[name] == 0:
            for pid in self._complete_holders(name):
                self._blocked[pid] -= 1
                self.changed.add(pid)

    def _complete_holders(self, name: str) -> Iterator[int]:
        return (pid for pid in self.files[name].holders
                if pid in self.peers and name in self.peers[pid].complete)


def _counts(peer: PeerFiles) -> bool:
    """Does rule (a) of the others wait for this peer?"""
    return peer.role == ROLE_PEER


def _has(peer: PeerFiles, name: str) -> bool:
    return name in peer.complete or name in peer.excused
