"""A peer's Shared folder while it runs, as its looks report it (pure).

A file that appears is offered once it has stopped changing (the IO side
hashes it then).  A file this peer serves that changes or goes is withdrawn
at once, so nobody is sent here for it and nobody waits for a file that no
longer exists.  Another entry that takes a swarm file's name -- a folder, a
link, a file not offered yet -- keeps that file from being fetched: said
once, and the peer is excused from it.
"""

from __future__ import annotations

from swarm.peer.actions import ServeFile, StopServing, ToTracker
from swarm.peer.fetcher import Fetcher
from swarm.peer.holdings import Holdings
from swarm.peer.leave_check import LeaveCheck
from swarm.protocol.message_parts import Refusal
from swarm.protocol.messages import Offer, Withdraw
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Outbox


class SharedFolder:
    def __init__(self, out: Outbox, holdings: Holdings, fetcher: Fetcher,
                 leave_check: LeaveCheck) -> None:
        self.out = out
        self.holdings = holdings
        self.fetcher = fetcher
        self.leave_check = leave_check

    def serve(self, meta: FileMeta) -> None:
        """A file of Shared, hashed, is this peer's to serve."""
        self.holdings.hold(meta)
        self.out.put(ServeFile(meta))

    def file_appeared(self, meta: FileMeta, now_s: float) -> None:
        """A file that appeared in Shared, hashed once it stopped changing."""
        if meta.name in self.holdings.local:
            return
        self.fetcher.local_file_appeared(meta)
        self.holdings.taken.pop(meta.name, None)
        self.serve(meta)
        self.leave_check.news(now_s)
        self.out.info("offering %r, new in Shared", meta.name)
        self.out.put(ToTracker(Offer((meta,))))

    def file_changed(self, digest: bytes, what: str, now_s: float, offered: bool) -> None:
        """A file this peer serves changed or went (``what``); ``offered``:
        the tracker has heard of this peer's files (its Join is out)."""
        self.out.put(StopServing(digest))
        meta = self.holdings.by_digest.get(digest)
        if meta is None:
            return
        was_complete = meta.name in self.holdings.complete
        self.holdings.release(digest)
        if was_complete and offered:
            self.out.put(ToTracker(Withdraw(digest, what)))
        if what == "deleted":
            # Like any file this peer lacks: fetched again if the swarm still has it.
            self.out.warning("%r was deleted from Shared: this peer no longer shares it", meta.name)
            self.fetcher.consider(meta.name, now_s)
        else:
            # Its new content is this peer's own file, offered once it stops
            # changing; the swarm's version is not to be fetched over it.
            self.out.warning("%r changed in Shared (%s): this peer no longer shares the version "
                             "the swarm knows; what is there now is offered once it stops changing",
                             meta.name, what)
            self.fetcher.excuse(meta.name, "its own copy changed", now_s)
        self.leave_check.news(now_s)

    def refused(self, refusals: tuple[Refusal, ...], now_s: float) -> None:
        """The tracker did not take these files of ours (the swarm has other
        bytes under the name): they stay here, but are not shared."""
        for refusal in refusals:
            self.out.error("the tracker refused our %r: %s; it stays here but is not shared",
                           refusal.name, refusal.reason)
            self.holdings.refused(refusal.name)
        self.leave_check.news(now_s)

    def offer_again(self, name: str) -> None:
        """The swarm's file of that name is gone: a file of ours under it is
        offered anew."""
        meta = self.holdings.local.get(name)
        if meta is not None:
            self.out.info("offering %r again: the swarm's file of that name is gone", name)
            self.holdings.unexcuse(name)
            self.holdings.hold(meta)
            self.out.put(ToTracker(Offer((meta,))))

    def entries_seen(self, taken: dict[str, str], now_s: float) -> None:
        """What else Shared holds (name -> what it is), as the last look saw it."""
        new = {name: what for name, what in taken.items() if name not in self.holdings.taken}
        self.holdings.taken = dict(taken)
        for name, what in sorted(new.items()):
            self.fetcher.name_taken_locally(name, what, now_s)
