"""What the tracker measures for `swarm status`: each peer's receive and send
rates, each file's receive rate, and the bytes moved since it started."""

from __future__ import annotations

from swarm.protocol import messages as m
from swarm.protocol.message_parts import PeerTraffic
from swarm.tracker.state import TrackerState
from tests.tracker.helpers import (
    ADDRESS,
    BIG,
    SMALL,
    fetch_whole,
    have,
    join,
    new_state,
    only_reply,
    send,
    sends,
)


def listing_at(state: TrackerState, now_s: float) -> m.Listing:
    [(_, listing)] = sends(state.handle(b"tool", m.ListQuery(), ADDRESS, now_s))
    assert isinstance(listing, m.Listing)
    return listing


def traffic_at(state: TrackerState, now_s: float) -> dict[int, PeerTraffic]:
    return {t.peer_id: t for t in listing_at(state, now_s).traffic}


def test_heartbeat_counts_of_bytes_served_become_a_send_rate() -> None:
    state = new_state()
    join(state, 1, [BIG], now_s=0.0)
    join(state, 2, now_s=0.0)
    for second in range(1, 5):
        reply = only_reply(send(state, 1, m.Heartbeat(second * 100_000), now_s=float(second)), 1)
        assert isinstance(reply, m.Pong)
    one = traffic_at(state, 4.0)[1]
    assert one.send_bytes_s == 100_000
    assert one.sent_bytes == 400_000
    assert one.recv_bytes_s == 0 and one.received_bytes == 0
    assert traffic_at(state, 4.0)[2].send_bytes_s == 0
    # It stops serving: the same count, heartbeat after heartbeat.
    for second in range(5, 10):
        send(state, 1, m.Heartbeat(400_000), now_s=float(second))
    assert traffic_at(state, 9.0)[1].send_bytes_s == 0
    assert traffic_at(state, 9.0)[1].sent_bytes == 400_000


def test_a_count_that_goes_backwards_or_leaps_is_not_believed() -> None:
    state = new_state()
    join(state, 1, [BIG], now_s=0.0)
    send(state, 1, m.Heartbeat(500_000), now_s=1.0)
    # Backwards: no growth is counted, and the low count is the new base.
    reply = only_reply(send(state, 1, m.Heartbeat(100), now_s=2.0), 1)
    assert isinstance(reply, m.Pong)  # a bad count is no strike
    assert traffic_at(state, 2.0)[1].sent_bytes == 500_000
    send(state, 1, m.Heartbeat(200_100), now_s=3.0)
    assert traffic_at(state, 3.0)[1].sent_bytes == 700_000
    # A count beyond anything a machine could have served in the time.
    send(state, 1, m.Heartbeat(2**62), now_s=4.0)
    send(state, 1, m.Heartbeat(2**62 + 1000), now_s=5.0)
    after = traffic_at(state, 5.0)[1]
    assert after.sent_bytes == 701_000
    assert after.send_bytes_s < 1_000_000
    assert state.registry.peers[1].strikes == 0


def test_bytes_moved_sums_every_verified_report_and_outlives_the_peers() -> None:
    state = new_state()
    join(state, 1, [BIG, SMALL], now_s=0.0)
    join(state, 2, now_s=0.0)
    join(state, 3, now_s=0.0)
    fetch_whole(state, 2, SMALL, now_s=1.0)
    send(state, 3, have(BIG.digest, 0, 10), now_s=1.0)
    send(state, 3, have(BIG.digest, 5, 12), now_s=1.0)  # only 10-11 are new
    moved = SMALL.size_bytes + 12 * 512
    listing = listing_at(state, 1.0)
    assert listing.moved_bytes == moved
    traffic = {t.peer_id: t for t in listing.traffic}
    assert traffic[2].received_bytes == SMALL.size_bytes
    assert traffic[3].received_bytes == 12 * 512
    send(state, 2, m.Goodbye(True), now_s=2.0)
    assert listing_at(state, 2.0).moved_bytes == moved
    assert sorted(t.peer_id for t in listing_at(state, 2.0).traffic) == [1, 3]


def test_each_file_has_the_rate_its_bytes_arrive_at() -> None:
    state = new_state()
    join(state, 1, [BIG, SMALL], now_s=0.0)
    join(state, 2, now_s=0.0)
    join(state, 3, now_s=0.0)
    send(state, 2, have(BIG.digest, 0, 20), now_s=1.0)
    send(state, 3, have(BIG.digest, 0, 20), now_s=1.5)
    # Measured from the first report of the file's bytes, a second before.
    rates = {f.summary.name: f.recv_bytes_s for f in listing_at(state, 2.0).files}
    assert rates == {"big.bin": 2 * 20 * 512, "small.txt": 0}
    rates = {f.summary.name: f.recv_bytes_s for f in listing_at(state, 10.0).files}
    assert rates == {"big.bin": 0, "small.txt": 0}
