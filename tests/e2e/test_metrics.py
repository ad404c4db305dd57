"""The tracker's `/metrics` against what the tracker printed: a small swarm
with the dashboard on, scraped while it holds together and after its peers
have left, and read with prometheus_client's own parser."""

from __future__ import annotations

import signal
import urllib.request

import zmq
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.e2e.harness import (
    Swarm,
    check_swarm,
    dashboard_url,
    random_bytes,
    shared_contents,
    wait_for,
)

Samples = dict[str, list[Sample]]  # by family name


def metrics_url(swarm: Swarm) -> str:
    return dashboard_url(swarm) + "metrics"


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
        text = response.read().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def by_label(samples: Samples, family: str, sample: str, label: str) -> dict[str, float]:
    return {s.labels[label]: s.value for s in samples.get(family, []) if s.name == sample}


def gauge(samples: Samples, name: str) -> float | None:
    found = samples.get(name)
    return found[0].value if found else None


def send_garbage(port: int) -> None:
    """One request that does not decode, from a socket that never joined;
    the tracker answers it with an error."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    try:
        sock.connect(f"tcp://127.0.0.1:{port}")
        sock.send(b"\xc1 not msgpack")
        assert sock.poll(10_000), "no answer to a malformed request"
        sock.recv_multipart()
    finally:
        sock.close(linger=0)
        ctx.term()


def test_metrics_agree_with_the_trackers_stdout(swarm: Swarm) -> None:
    files = {"a.bin": random_bytes(14, 64 << 10), "b.txt": b"a small text file\n" * 60}
    swarm.start_tracker(args=["--http", "127.0.0.1:0"])
    url = metrics_url(swarm)
    # Peers that would stay a minute: they leave when told (SIGTERM), so the
    # swarm is whole for as long as the first scrapes take.
    swarm.start_peer({"a.bin": files["a.bin"]}, quiet_s=60)
    swarm.start_peer({"b.txt": files["b.txt"]}, quiet_s=60)
    swarm.start_peer({}, quiet_s=60)
    wait_for(lambda: all(shared_contents(p.shared) == files for p in swarm.peers), 30,
             "every peer to hold both files")

    def whole() -> bool:  # the status behind the gauges is at most 0.5 s old
        samples = scrape(url)
        copies = by_label(samples, "swarm_file_copies", "swarm_file_copies", "file")
        return (gauge(samples, "swarm_peers"), gauge(samples, "swarm_files"), copies) == (
            3, 2, {"a.bin": 3, "b.txt": 3})

    wait_for(whole, 15, "the gauges to show 3 peers each holding 2 files", poll_s=0.2)
    send_garbage(swarm.port)

    for peer in swarm.peers:
        peer.proc.signal(signal.SIGTERM)
    assert swarm.wait_peers(20) == [0, 0, 0]
    outcome = check_swarm(swarm, files)
    wait_for(lambda: gauge(scrape(url), "swarm_peers") == 0, 15, "the gauges to show no peer")
    samples = scrape(url)

    acquired_lines: dict[str, int] = {}
    for (peer_id, _), chunks in outcome.tracker.acquired.items():
        acquired_lines[str(peer_id)] = acquired_lines.get(str(peer_id), 0) + len(chunks)
    assert len(acquired_lines) == 3
    assert by_label(samples, "swarm_chunks_acquired", "swarm_chunks_acquired_total",
                    "peer") == acquired_lines
    # Each peer received the file it did not bring.
    received = sum(len(files[name]) for names in outcome.tracker.disconnects.values()
                   for name in names)
    assert received == 2 * len(files["a.bin"]) + 2 * len(files["b.txt"])
    assert gauge(samples, "swarm_moved_bytes") == received
    assert gauge(samples, "swarm_files") == 2
    assert gauge(samples, "swarm_bad_messages") == 1
    assert by_label(samples, "swarm_snapshots_served", "swarm_snapshots_served_total",
                    "kind")["welcome"] == 3
    events = by_label(samples, "swarm_events_published", "swarm_events_published_total", "kind")
    assert (events["PeerJoined"], events["PeerLeft"]) == (3, 3)
    assert (gauge(samples, "swarm_expiries"), gauge(samples, "swarm_expulsions")) == (0, 0)

    latency = {s.name.removeprefix("swarm_request_duration_seconds"): s
               for s in samples["swarm_request_duration_seconds"] if "le" not in s.labels}
    inf = [s for s in samples["swarm_request_duration_seconds"] if s.labels.get("le") == "+Inf"]
    assert latency["_count"].value > 0 and inf[0].value == latency["_count"].value
    assert swarm.stop_tracker() == 0
