"""What the tracker's loop hands to its HTTP side, and nothing else.

The tracker's loop and the HTTP thread share only a ``DashboardFeed``.  The
loop's side is O(1) per call and never waits: it swaps in a status reference
(``publish_status``) and appends to a bounded deque of the recent entries of
its ``--events`` log (``publish_entry``), which ``/api/events`` streams.
The HTTP side reads them and says when somebody is watching
(``want_status``), so the tracker builds a status -- O(peers x files) --
only while it is read, and at most every ``STATUS_INTERVAL_S``.

Waking readers: a single listener (the HTTP server's event loop) is told that
something changed; a wake already pending is not repeated, so a burst of
entries costs the tracker one cross-thread call, not one per entry per client.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from swarm.protocol.record import Record

RECENT_ENTRIES = 500  # what a page just opened shows; bounds the feed's memory
STATUS_INTERVAL_S = 0.5  # the newest status is at most this old while watched
WANTED_HOLD_S = 5.0  # a read keeps the status coming this long (a page polls every 1-2 s)


class StatusSnapshot(Record):
    status: dict[str, Any]  # as `swarm status --json` prints it; never changed once published
    published_s: float  # on the feed's clock (monotonic)


class FeedEntry(Record):
    entry_id: int  # counts from 1, one per entry published; SSE's `id:`
    entry: dict[str, Any]  # as `--events` writes it; never changed once published


class DashboardFeed:
    def __init__(self, max_entries: int = RECENT_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: deque[FeedEntry] = deque(maxlen=max_entries)
        self._last_entry_id = 0
        self._status: StatusSnapshot | None = None
        self._wanted_s: float | None = None  # when the status was last asked for
        self._listener: Callable[[], None] | None = None
        self._wake_pending = False
        self._on_wanted: Callable[[], None] | None = None

    # -- the tracker's side -------------------------------------------------

    def publish_entry(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._last_entry_id += 1
            self._entries.append(FeedEntry(self._last_entry_id, entry))
        self._notify()

    def publish_status(self, status: dict[str, Any]) -> None:
        with self._lock:
            self._status = StatusSnapshot(status, self._clock())
        self._notify()

    def status_wanted(self) -> bool:
        """Somebody read the status lately: keep building it."""
        with self._lock:
            return self._wanted_s is not None and self._clock() - self._wanted_s < WANTED_HOLD_S

    def next_status_s(self) -> float | None:
        """When the tracker should next build a status (feed clock), or None
        while nobody watches."""
        if not self.status_wanted():
            return None
        with self._lock:
            if self._status is None:
                return self._clock()
            return self._status.published_s + STATUS_INTERVAL_S

    def status_due(self) -> bool:
        due = self.next_status_s()
        return due is not None and due <= self._clock()

    def on_wanted(self, wake_tracker: Callable[[], None]) -> None:
        """``wake_tracker`` is called (from the HTTP thread) when the status
        becomes wanted after nobody watched, so a tracker asleep in its poll
        builds one at once."""
        self._on_wanted = wake_tracker

    # -- the HTTP side -----------------------------------------------------

    def want_status(self) -> None:
        with self._lock:
            was_wanted = (self._wanted_s is not None
                          and self._clock() - self._wanted_s < WANTED_HOLD_S)
            self._wanted_s = self._clock()
        if not was_wanted and self._on_wanted is not None:
            self._on_wanted()

    def status(self) -> StatusSnapshot | None:
        with self._lock:
            return self._status

    def status_age_s(self, snapshot: StatusSnapshot) -> float:
        return self._clock() - snapshot.published_s

    def entries_after(self, entry_id: int) -> list[FeedEntry]:
        """The entries kept that came after ``entry_id``, oldest first (0:
        all of them; those that fell out of the deque are gone: a slow
        reader sees a gap in ids)."""
        with self._lock:
            newer: list[FeedEntry] = []
            for item in reversed(self._entries):
                if item.entry_id <= entry_id:
                    break
                newer.append(item)
        newer.reverse()
        return newer

    def listen(self, listener: Callable[[], None] | None) -> None:
        """One listener (or None to stop): called from the publishing thread
        after a change, at most once until ``acknowledge`` is called."""
        with self._lock:
            self._listener = listener
            self._wake_pending = False

    def acknowledge(self) -> None:
        """The listener has looked: the next change wakes it again."""
        with self._lock:
            self._wake_pending = False

    def _notify(self) -> None:
        with self._lock:
            listener = self._listener
            if listener is None or self._wake_pending:
                return
            self._wake_pending = True
        listener()
