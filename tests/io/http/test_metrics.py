"""TrackerMetrics: gauges read from the dashboard feed, counters fed by the
actions of a real tracker state, the whole read back with prometheus_client's
parser."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from swarm.io.http.feed import DashboardFeed
from swarm.io.http.metrics import TrackerMetrics
from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.chunks import CHUNK_SIZE_BYTES
from swarm.protocol.output import Action
from swarm.tracker.listing_json import status_json
from swarm.tracker.registry import STRIKES_TO_EXPEL
from swarm.tracker.state import TrackerState
from tests.tracker.helpers import (
    BIG,
    EXPIRY_S,
    OTHER_SMALL,
    SMALL,
    blocks,
    events,
    have,
    join,
    new_state,
    send,
)

Families = dict[str, tuple[str, list[Sample]]]


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def scrape(metrics: TrackerMetrics) -> Families:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=")
    return {f.name: (f.type, f.samples) for f in text_string_to_metric_families(body.decode())}


def value(families: Families, name: str, **labels: str) -> float:
    """The one sample of ``name`` (a sample name, e.g. with ``_total``) with those labels."""
    family = name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    found = [s.value for s in families[family][1] if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, families.get(family))
    return found[0]


def carry_out(metrics: TrackerMetrics, state: TrackerState,
              actions: list[Action]) -> list[Action]:
    """As the tracker's loop does with the actions of each call."""
    metrics.count_actions(actions, state.figures())
    return actions


def status(peers: list[dict[str, Any]], files: list[dict[str, Any]],
           remaining: int, eta_s: float | None) -> dict[str, Any]:
    return {"event": 3, "totals": {"peers": len(peers), "files": len(files), "moved_bytes": 0,
                                   "recv_bytes_s": 0, "send_bytes_s": 0,
                                   "remaining_bytes": remaining, "eta_s": eta_s},
            "peers": peers, "files": files}


def peer_row(peer: int, recv: int, send: int, held: int) -> dict[str, Any]:
    return {"peer": peer, "recv_bytes_s": recv, "send_bytes_s": send, "bytes_held": held}


# --- gauges, from the feed -----------------------------------------------------------


def test_before_any_status_there_are_no_gauges_and_the_scrape_asks_for_one() -> None:
    feed = DashboardFeed(clock=FakeClock())
    families = scrape(TrackerMetrics(feed))
    assert "swarm_peers" not in families and "swarm_status_age_seconds" not in families
    assert families["swarm_chunks_acquired"] == ("counter", [])
    assert feed.status_wanted()  # a scrape is somebody watching: the tracker builds one


def test_gauges_are_read_from_the_latest_status_with_their_age() -> None:
    clock = FakeClock()
    feed = DashboardFeed(clock=clock)
    metrics = TrackerMetrics(feed)
    files: list[dict[str, Any]] = [{"name": "a.bin", "complete_holders": [1, 2]},
                                   {"name": 'odd "name" \\ é.txt', "complete_holders": []}]
    feed.publish_status(status([peer_row(1, 0, 2048, 5000), peer_row(2, 1024, 0, 4000)], files,
                               remaining=7000, eta_s=6.5))
    clock.now_s += 1.5
    families = scrape(metrics)
    assert families["swarm_peers"][0] == "gauge"
    assert value(families, "swarm_peers") == 2
    assert value(families, "swarm_files") == 2
    assert value(families, "swarm_status_age_seconds") == 1.5
    assert value(families, "swarm_remaining_bytes") == 7000
    assert value(families, "swarm_eta_seconds") == 6.5
    # Label values are escaped by the library and read back as they were.
    assert value(families, "swarm_file_copies", file="a.bin") == 2
    assert value(families, "swarm_file_copies", file='odd "name" \\ é.txt') == 0
    assert value(families, "swarm_peer_receive_bytes_per_second", peer="2") == 1024
    assert value(families, "swarm_peer_send_bytes_per_second", peer="1") == 2048
    assert value(families, "swarm_peer_held_bytes", peer="1") == 5000
    # A newer status replaces the old one; a time left unknown is absent, not 0.
    feed.publish_status(status([peer_row(1, 0, 0, 5000)], files[:1], remaining=0, eta_s=None))
    families = scrape(metrics)
    assert value(families, "swarm_peers") == 1
    assert "swarm_eta_seconds" not in families
    assert [s.labels for s in families["swarm_peer_held_bytes"][1]] == [{"peer": "1"}]


def test_a_status_as_the_tracker_builds_it_gives_every_gauge() -> None:
    state = new_state()
    join(state, 1, [BIG, SMALL])
    join(state, 2)
    send(state, 2, have(BIG.digest, 0, 10), 0.5)
    feed = DashboardFeed(clock=FakeClock())
    feed.publish_status(status_json(state.listing(1.0)))
    families = scrape(TrackerMetrics(feed))
    assert value(families, "swarm_peers") == 2
    assert value(families, "swarm_files") == 2
    assert value(families, "swarm_file_copies", file="big.bin") == 1
    assert value(families, "swarm_peer_held_bytes", peer="2") == 10 * CHUNK_SIZE_BYTES
    assert value(families, "swarm_peer_receive_bytes_per_second", peer="2") > 0
    assert value(families, "swarm_remaining_bytes") == BIG.size_bytes - 10 * CHUNK_SIZE_BYTES \
        + SMALL.size_bytes


# --- counters, from actions ----------------------------------------------------------


def test_chunks_acquired_per_peer_are_the_acquired_lines_and_bytes_moved_follow_the_state(
) -> None:
    state = new_state()
    metrics = TrackerMetrics(DashboardFeed(clock=FakeClock()))
    carry_out(metrics, state, join(state, 1, [BIG, SMALL]))
    carry_out(metrics, state, join(state, 2))
    carry_out(metrics, state, join(state, 3))
    answers = [carry_out(metrics, state, send(state, 2, have(BIG.digest, 0, 10, 20, 25))),
                carry_out(metrics, state, send(state, 3, have(SMALL.digest, 0, 3))),
                carry_out(metrics, state, send(state, 2, have(BIG.digest, 5, 40)))]
    lines: dict[str, int] = {}
    for out in answers:
        for block in blocks(out):
            if isinstance(block, display.Acquired):
                text = display.render(block)
                lines[str(block.peer_id)] = lines.get(str(block.peer_id), 0) + text.count(
                    "ACQUIRED")
    families = scrape(metrics)
    assert families["swarm_chunks_acquired"][0] == "counter"
    assert lines == {"2": 40, "3": 3}  # the overlap of the second report counts once
    for peer, count in lines.items():
        assert value(families, "swarm_chunks_acquired_total", peer=peer) == count
    assert value(families, "swarm_moved_bytes_total") == state.figures().moved_bytes == \
        40 * CHUNK_SIZE_BYTES + SMALL.size_bytes


def test_events_snapshots_and_refusals_are_counted_from_what_is_sent() -> None:
    state = new_state()
    metrics = TrackerMetrics(DashboardFeed(clock=FakeClock()))
    published: dict[str, int] = {}
    for out in (join(state, 1, [BIG, SMALL]), join(state, 2, [OTHER_SMALL]),
                send(state, 2, m.Offer((OTHER_SMALL,))), send(state, 1, m.SyncRequest()),
                state.handle(b"tool", m.ListQuery(), "127.0.0.1", 0.0)):
        carry_out(metrics, state, out)
        for event in events(out):
            published[type(event).__name__] = published.get(type(event).__name__, 0) + 1
    families = scrape(metrics)
    assert published["PeerJoined"] == 2 and published["FileCompleted"] == 2
    for kind, count in published.items():
        assert value(families, "swarm_events_published_total", kind=kind) == count
    assert value(families, "swarm_snapshots_served_total", kind="welcome") == 2
    assert value(families, "swarm_snapshots_served_total", kind="snapshot") == 1
    assert value(families, "swarm_snapshots_served_total", kind="listing") == 1
    # Refused at its join (in the Welcome); offered again, it is already
    # excused and refused once more (a Refused answer).
    assert value(families, "swarm_refused_offers_total") == 2


def test_strikes_expulsions_and_expiries() -> None:
    state = new_state()
    metrics = TrackerMetrics(DashboardFeed(clock=FakeClock()))
    carry_out(metrics, state, join(state, 1, [BIG]))
    carry_out(metrics, state, join(state, 2))
    carry_out(metrics, state, join(state, 3))
    carry_out(metrics, state, send(state, 3, have(SMALL.digest, 0, 1)))  # an unknown file
    assert value(scrape(metrics), "swarm_strikes_total") == 1
    for _ in range(STRIKES_TO_EXPEL - 1):
        carry_out(metrics, state, send(state, 3, have(SMALL.digest, 0, 1)))
    assert 3 not in state.registry.peers
    carry_out(metrics, state, send(state, 1, m.Heartbeat(), EXPIRY_S))
    carry_out(metrics, state, state.expire(EXPIRY_S + 0.5))
    assert list(state.registry.peers) == [1]
    families = scrape(metrics)
    assert value(families, "swarm_strikes_total") == STRIKES_TO_EXPEL
    assert value(families, "swarm_expulsions_total") == 1
    assert value(families, "swarm_expiries_total") == 1


def test_bad_messages_and_request_latency() -> None:
    metrics = TrackerMetrics(DashboardFeed(clock=FakeClock()))
    metrics.bad_message()
    metrics.bad_message()
    for seconds in (0.000004, 0.00002, 0.003, 2.0):
        metrics.request_handled(seconds)
    families = scrape(metrics)
    assert value(families, "swarm_bad_messages_total") == 2
    kind, samples = families["swarm_request_duration_seconds"]
    assert kind == "histogram"
    buckets = {s.labels["le"]: s.value for s in samples if s.name.endswith("_bucket")}
    assert buckets["1e-05"] == 1 and buckets["2.5e-05"] == 2
    assert buckets["0.0025"] == 2 and buckets["0.005"] == 3
    assert buckets["1.0"] == 3 and buckets["+Inf"] == 4
    assert value(families, "swarm_request_duration_seconds_count") == 4
