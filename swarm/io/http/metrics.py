"""The tracker's Prometheus metrics, for the dashboard's ``/metrics``.

Two kinds.  Gauges (peers, files, copies, rates, bytes held and left, time
left) are read from the latest status the dashboard feed holds, at scrape
time, so the tracker's loop does nothing for them but build a status while
somebody reads them, as it does for the page.  Counters and the request
latency histogram are counted by the loop as things happen, in plain
numbers (one call per request, never one per chunk), and turned
into metric families at scrape time.  The library writes the exposition
(names, types, escaping, bucket labels); everything lives in a private
registry, nothing in the library's global one.

Imported only when the dashboard is on, so a tracker without it does not pay
for importing the library.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from swarm.io.http.feed import DashboardFeed
from swarm.protocol.display import Acquired, Block, Disconnect
from swarm.protocol.messages import Listing, Message, Refused, Snapshot, Welcome
from swarm.protocol.output import Action, Show
from swarm.tracker.actions import Publish, Send
from swarm.tracker.state import TrackerFigures

# From a heartbeat answered at once (tens of microseconds) to a request that
# held the loop long enough for peers to notice (a second).
REQUEST_SECONDS_BUCKETS = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)
# The `le` labels, written as the library writes a Histogram's.
BUCKET_LABELS = tuple(floatToGoString(b)  # type: ignore[no-untyped-call]
                      for b in (*REQUEST_SECONDS_BUCKETS, math.inf))

# The answers that carry the swarm's state whole: a Snapshot (a peer
# resynchronising after a gap), a Listing (swarm ls, who, status), a
# Welcome (a joining peer).
SNAPSHOT_KINDS = ("snapshot", "listing", "welcome")


class SnapshotGauges(Collector):
    """The gauges, computed from the feed's latest status at each scrape.

    A scrape counts as somebody watching: it asks the feed to keep statuses
    coming, so the next scrape reads a fresh one.  How old the one read now
    is says ``swarm_status_age_seconds``."""

    def __init__(self, feed: DashboardFeed) -> None:
        self.feed = feed

    def collect(self) -> Iterable[Metric]:
        self.feed.want_status()
        snapshot = self.feed.status()
        if snapshot is None:
            return []  # nothing known yet: absent, not zero
        age = GaugeMetricFamily("swarm_status_age_seconds",
                                "How old the status the other gauges are read from is.",
                                value=self.feed.status_age_s(snapshot))
        return [age, *_gauges(snapshot.status)]


def _gauges(status: dict[str, Any]) -> Iterator[Metric]:
    totals = status["totals"]
    yield GaugeMetricFamily("swarm_peers", "Living peers in the swarm.", value=totals["peers"])
    yield GaugeMetricFamily("swarm_files", "Files in the swarm.", value=totals["files"])
    yield GaugeMetricFamily("swarm_remaining_bytes",
                            "Bytes the living peers still lack of the files they take.",
                            value=totals["remaining_bytes"])
    if totals["eta_s"] is not None:
        yield GaugeMetricFamily("swarm_eta_seconds",
                                "Seconds until the living peers hold what they take, "
                                "at the current rate (absent when it cannot be told).",
                                value=totals["eta_s"])
    copies = GaugeMetricFamily("swarm_file_copies",
                               "Complete copies of a file held by living peers.", labels=["file"])
    for file in status["files"]:
        copies.add_metric([file["name"]], len(file["complete_holders"]))
    yield copies
    receive = GaugeMetricFamily("swarm_peer_receive_bytes_per_second",
                                "Verified bytes a peer reports receiving, over the last seconds.",
                                labels=["peer"])
    send = GaugeMetricFamily("swarm_peer_send_bytes_per_second",
                             "Bytes a peer says it served, over the last seconds.",
                             labels=["peer"])
    held = GaugeMetricFamily("swarm_peer_held_bytes", "Bytes of the swarm's files a peer holds.",
                             labels=["peer"])
    for peer in status["peers"]:
        label = [str(peer["peer"])]
        receive.add_metric(label, peer["recv_bytes_s"])
        send.add_metric(label, peer["send_bytes_s"])
        held.add_metric(label, peer["bytes_held"])
    yield from (receive, send, held)


class LoopTally:
    """Counts the tracker's loop keeps as things happen: plain numbers,
    written by that loop alone, so counting takes no lock and costs a few
    dict and list operations a request.  A scrape reads them from another
    thread: each read copies a dict or list in one step under the
    interpreter lock, and a count read a request early is still a count."""

    def __init__(self) -> None:
        self.chunks_acquired: dict[int, int] = {}  # by peer id
        self.events_published: dict[str, int] = {}  # by event kind
        self.snapshots_served: dict[str, int] = dict.fromkeys(SNAPSHOT_KINDS, 0)
        self.refused_offers = 0
        self.bad_messages = 0
        self.expiries = 0
        self.expulsions = 0
        # The state's own running totals, as of the last request.
        self.moved_bytes = 0
        self.strikes = 0
        # Requests per latency bucket (the last one past every bound), and
        # the seconds they took together.
        self.request_buckets = [0] * (len(REQUEST_SECONDS_BUCKETS) + 1)
        self.request_seconds = 0.0


class TallyCounters(Collector):
    """The loop's counts as Prometheus counters and a histogram."""

    def __init__(self, tally: LoopTally) -> None:
        self.tally = tally

    def collect(self) -> Iterable[Metric]:
        t = self.tally
        acquired = CounterMetricFamily(
            "swarm_chunks_acquired", "Chunks peers reported receiving (the ACQUIRED lines).",
            labels=["peer"])
        for peer_id, count in sorted(dict(t.chunks_acquired).items()):
            acquired.add_metric([str(peer_id)], count)
        yield acquired
        yield _labelled_counter("swarm_events_published",
                                "Events the tracker published, by kind.", "kind",
                                dict(t.events_published))
        yield _labelled_counter("swarm_snapshots_served",
                                "Answers carrying the swarm's state whole: snapshot (a peer's "
                                "resync), listing (ls, who, status), welcome (a join).", "kind",
                                dict(t.snapshots_served))
        for name, help_text, value in (
            ("swarm_moved_bytes", "Verified bytes peers reported receiving.", t.moved_bytes),
            ("swarm_refused_offers", "Offered files refused (a name the swarm has with "
             "other content).", t.refused_offers),
            ("swarm_bad_messages", "Requests that could not be decoded.", t.bad_messages),
            ("swarm_expiries", "Peers removed for missing their heartbeats.", t.expiries),
            ("swarm_strikes", "Requests from peers refused as bad.", t.strikes),
            ("swarm_expulsions", "Peers removed for sending too many bad requests.",
             t.expulsions),
        ):
            yield CounterMetricFamily(name, help_text, value=value)
        yield self._request_histogram()

    def _request_histogram(self) -> HistogramMetricFamily:
        seconds = self.tally.request_seconds
        counts = list(self.tally.request_buckets)
        buckets: list[tuple[str, float]] = []
        cumulative = 0
        for bound, count in zip(BUCKET_LABELS, counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        return HistogramMetricFamily(
            "swarm_request_duration_seconds",
            "Time from a request's receipt at the tracker's ROUTER to its outcome carried out.",
            buckets=buckets, sum_value=seconds)


def _labelled_counter(name: str, help_text: str, label: str,
                      counts: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, help_text, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family


class TrackerMetrics:
    """The tracker's metrics: gauges read from ``feed`` when scraped, and
    counts the tracker's loop feeds (``count_actions``, ``bad_message``,
    ``request_handled``), all in a private registry."""

    def __init__(self, feed: DashboardFeed) -> None:
        self.tally = LoopTally()
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(SnapshotGauges(feed))
        self.registry.register(TallyCounters(self.tally))

    def render(self) -> tuple[bytes, str]:
        """The exposition: body and content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # --- fed by the tracker's loop, in its thread ----------------------------

    def count_actions(self, actions: list[Action], figures: TrackerFigures) -> None:
        """What the actions of one call of the tracker's state did, with the
        state's running totals after it.

        Kinds are told apart by ``type(x) is``: ``isinstance`` on the
        record classes (their metaclass is not ``type``) costs ten times
        as much, and this runs for every request."""
        t = self.tally
        for action in actions:
            if type(action) is Send:
                self._count_answer(action.message)
            elif type(action) is Publish:
                kind = type(action.event).__name__
                t.events_published[kind] = t.events_published.get(kind, 0) + 1
            elif type(action) is Show:
                self._count_block(action.block)
        t.moved_bytes = figures.moved_bytes
        t.strikes = figures.strikes

    def _count_answer(self, message: Message) -> None:
        t = self.tally
        if type(message) is Welcome:
            t.snapshots_served["welcome"] += 1
            t.refused_offers += len(message.refused)
        elif type(message) is Refused:
            t.refused_offers += len(message.refused)
        elif type(message) is Listing:
            t.snapshots_served["listing"] += 1
        elif type(message) is Snapshot:
            t.snapshots_served["snapshot"] += 1

    def _count_block(self, block: Block) -> None:
        t = self.tally
        if type(block) is Acquired:
            chunks = t.chunks_acquired.get(block.peer_id, 0)
            for start, end in block.ranges:  # a loop: a generator costs more here
                chunks += end - start
            t.chunks_acquired[block.peer_id] = chunks
        elif type(block) is Disconnect:
            if block.reason == "expired":
                t.expiries += 1
            elif block.reason == "expelled":
                t.expulsions += 1

    def bad_message(self) -> None:
        self.tally.bad_messages += 1

    def request_handled(self, seconds: float) -> None:
        t = self.tally
        t.request_buckets[bisect_left(REQUEST_SECONDS_BUCKETS, seconds)] += 1
        t.request_seconds += seconds
