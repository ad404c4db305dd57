"""What a participant came for, and so what it fetches and when it leaves (pure).

A peer (``swarm peer``) fetches every file and leaves by rules (a), (b) and
(c).  A get (``swarm get``) fetches the files it names and leaves as soon as
it holds them; no peer waits for it.  A seed (``swarm seed``) fetches
nothing and leaves by rule (a) alone -- every counted peer holds what it
offers -- or, with ``forever``, only on a signal.  The tracker knows which is
which from the Join (``role``), and keeps rule (a) of the peers from counting
the other two.
"""

from __future__ import annotations

from collections.abc import Mapping

from swarm.protocol.message_parts import FileSummary
from swarm.protocol.messages import LeaveStatus
from swarm.protocol.meta import FileMeta
from swarm.protocol.record import Record
from swarm.protocol.roles import ROLE_GET, ROLE_PEER, ROLE_SEED


class Mode(Record):
    role: int = ROLE_PEER
    # A get's files, as the swarm listed them when it started: (name, digest).
    wanted: tuple[tuple[str, bytes], ...] = ()
    forever: bool = False  # a seed that stays until a signal

    @classmethod
    def get(cls, wanted: Mapping[str, bytes]) -> Mode:
        return cls(ROLE_GET, tuple(sorted(wanted.items())))

    @classmethod
    def seed(cls, forever: bool = False) -> Mode:
        return cls(ROLE_SEED, (), forever)

    @property
    def one_shot(self) -> bool:
        """No quiet period, no SHUTDOWN block: a get or a seed."""
        return self.role != ROLE_PEER

    def fetches(self, summary: FileSummary) -> bool:
        """Is this one of the swarm's files to fetch?"""
        if self.role == ROLE_PEER:
            return True
        if self.role == ROLE_GET:
            return (summary.name, summary.digest) in self.wanted
        return False

    def missing(self, local: Mapping[str, FileMeta]) -> list[str]:
        """A get's files it does not hold yet (with the content it asked for)."""
        return [name for name, digest in self.wanted
                if (meta := local.get(name)) is None or meta.digest != digest]

    def cannot_have(self, files: Mapping[str, FileSummary],
                    local: Mapping[str, FileMeta]) -> str | None:
        """Why a get can never finish, on the swarm's newest state (None while
        it can): a file it came for is gone, changed, or no living peer
        covers it.  Asked only once the peer is in step with the tracker."""
        for name in self.missing(local):
            summary = files.get(name)
            digest = dict(self.wanted)[name]
            if summary is None or summary.digest != digest:
                return f"{name!r} is no longer in the swarm"
            if not summary.available:
                return f"{name!r} is not available: no living peer holds all of it"
        return None

    def blockers(self, local: Mapping[str, FileMeta], status: LeaveStatus | None) -> list[str]:
        """Why a get or a seed stays (empty when it may leave)."""
        if self.role == ROLE_GET:
            return [f"still fetching {name!r}" for name in self.missing(local)]
        if self.forever:
            return ["seeding until stopped"]
        if status is None:
            return ["no word from the tracker yet on rule (a)"]
        return [] if status.ready else [status.reason]
