"""When a peer asks the tracker who holds a file it fetches (pure).

The tracker names the holders a download needs; the peer asks when a
download starts, and again after a wait that doubles with every answer
that names someone (an answer naming nobody starts again from the
``holders_refresh_s`` setting), so a long download in a wide swarm asks a
few times a minute, not every second.  (Asking again whenever an answer
names someone new would never slow down: the tracker draws the holders it
names afresh each time.)  A download that no known source can feed asks
sooner.  A question unanswered is asked again only after a long wait:
questions are not lost on a live connection, so a late answer means a busy
tracker, and asking again would only make it busier.
"""

from __future__ import annotations

from swarm.peer.actions import ToTracker
from swarm.peer.transfer_plan import TransferPlan
from swarm.protocol.messages import HoldersQuery
from swarm.protocol.output import Outbox
from swarm.protocol.record import Record

QUERY_RETRY_S = 30.0  # a holder or metadata question unanswered this long is asked again
STARVING_REFRESH_S = 0.25  # how soon a download no known source can feed asks again
MAX_HOLDERS_REFRESH_S = 8.0  # the longest wait between questions about one download


class HolderQuery(Record, frozen=False):
    """The questions about one file's holders (None: not so)."""

    asked_at_s: float | None = None  # a question is out, unanswered
    due_at_s: float | None = None  # when to ask again
    answered_at_s: float | None = None  # the last answer
    interval_s: float | None = None  # the wait after the last answer

    def __bool__(self) -> bool:
        return any(t is not None for t in (self.asked_at_s, self.due_at_s,
                                           self.answered_at_s, self.interval_s))

    def due_s(self, now_s: float, starving: bool) -> float:
        """When to ask again: now if nothing says later; for a download no
        known source can feed, soon after the last answer."""
        due = now_s if self.due_at_s is None else self.due_at_s
        if starving:
            answered = now_s if self.answered_at_s is None else self.answered_at_s
            due = min(due, answered + STARVING_REFRESH_S)
        return due


NEVER_ASKED = HolderQuery()  # the query of a download never asked about; only ever read


class HolderQueries:
    def __init__(self, out: Outbox, plan: TransferPlan, refresh_s: float, now_s: float) -> None:
        """``refresh_s``: the first wait before asking again (the
        ``holders_refresh_s`` setting)."""
        self.out = out
        self.plan = plan
        self.refresh_s = refresh_s
        self._by_digest: dict[bytes, HolderQuery] = {}
        self._next_check_s = now_s

    def ask(self, digest: bytes, now_s: float) -> None:
        """Ask who holds ``digest``, unless a question is out already."""
        query = self._by_digest.setdefault(digest, HolderQuery())
        if query.asked_at_s is not None and now_s - query.asked_at_s < QUERY_RETRY_S:
            return
        query.asked_at_s = now_s
        query.due_at_s = now_s + QUERY_RETRY_S  # set anew by the answer
        self.out.put(ToTracker(HoldersQuery(digest, 0, 0)))

    def answered(self, digest: bytes, named_anyone: bool, now_s: float) -> None:
        """An answer came: when to ask again, if the file is still fetched."""
        query = self._by_digest.get(digest)
        if query is not None:
            query.asked_at_s = None
        if digest not in self.plan.downloads:
            self._tidy(digest)
            return
        query = self._by_digest.setdefault(digest, HolderQuery())
        interval = query.interval_s
        if interval is None or not named_anyone:
            interval = self.refresh_s
        else:
            interval = min(max(self.refresh_s, MAX_HOLDERS_REFRESH_S), 2 * interval)
        query.interval_s = interval
        query.answered_at_s = now_s
        query.due_at_s = now_s + interval

    def refresh(self, now_s: float) -> None:
        """Ask again for the downloads that are due (sooner for those that no
        known source can feed)."""
        if now_s < self._next_check_s:
            return
        self._next_check_s = now_s + STARVING_REFRESH_S
        starving = {d.digest for d in self.plan.starving()}
        for digest, download in self.plan.downloads.items():
            if download.done:
                continue
            query = self._by_digest.get(digest, NEVER_ASKED)
            if now_s >= query.due_s(now_s, digest in starving):
                self.ask(digest, now_s)

    def forget(self, digest: bytes) -> None:
        """The download is dropped: no more asking (an answer still on its
        way is taken as such)."""
        query = self._by_digest.get(digest)
        if query is not None:
            query.due_at_s = query.answered_at_s = query.interval_s = None
            self._tidy(digest)

    def tracker_forgot_us(self) -> None:
        """Questions put to a tracker that no longer knows us will not be
        answered: every download asks again at once."""
        for digest, query in list(self._by_digest.items()):
            query.asked_at_s = None
            if query.due_at_s is not None:
                query.due_at_s = 0.0
            self._tidy(digest)

    def next_deadline_s(self) -> float:
        return self._next_check_s if self.plan.downloads else float("inf")

    def _tidy(self, digest: bytes) -> None:
        query = self._by_digest.get(digest)
        if query is not None and not query:
            del self._by_digest[digest]
