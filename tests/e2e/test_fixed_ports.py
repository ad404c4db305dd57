"""Fixed ports, end to end on 127.0.0.1: a tracker started with --port
listens there and on the ports the rule derives, and writes that port to
port.txt; a peer started with --port (or SWARM_PEER_PORT) serves chunks
there; a port already taken stops a tracker or a peer with a clear error and
exit 2, never a traceback."""

from __future__ import annotations

import signal
import socket

from tests.e2e.harness import TRACKER_SH, Swarm, check_swarm, random_bytes, start
from tests.free_ports import free_ports


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def test_a_tracker_and_peers_listen_where_they_are_told(swarm: Swarm) -> None:
    tracker_port, seeder_port, fetcher_port = free_ports(4), free_ports(2), free_ports(2)
    data = {"fixed.bin": random_bytes(2201, 700_000)}
    assert swarm.start_tracker(args=["--port", str(tracker_port)]) == tracker_port
    # Requests, events, and the two address echoes, by the rule.
    assert all(listening(port) for port in range(tracker_port, tracker_port + 4))
    seeder = swarm.start_peer(data, quiet_s=2, args=["--port", str(seeder_port)])
    fetcher = swarm.start_peer({}, quiet_s=2, env={"SWARM_PEER_PORT": str(fetcher_port)})
    assert swarm.wait_peers(60) == [0, 0]
    assert swarm.stop_tracker() == 0
    out = check_swarm(swarm, data)
    assert swarm.tracker is not None
    stderr = swarm.tracker.stderr()
    # The only source of the file served it from its fixed port.
    for run, port in ((seeder, seeder_port), (fetcher, fetcher_port)):
        peer_id = out.peer_ids[run.proc.name]
        assert f"peer {peer_id} (peer) joined from tcp://127.0.0.1:{port} " in stderr


def test_a_port_taken_stops_a_tracker_and_a_peer_with_exit_2(swarm: Swarm) -> None:
    tracker_port, peer_port = free_ports(4), free_ports(2)
    swarm.start_tracker(args=["--port", str(tracker_port)])
    holder = swarm.start_peer({}, quiet_s=30, args=["--port", str(peer_port)])
    swarm.wait_connects(1)
    # A second tracker on the same port, from another folder.
    second = start("tracker2", ["sh", str(TRACKER_SH), "--port", str(tracker_port)],
                   swarm.root / "tracker2")
    try:
        assert second.wait(20) == 2
    finally:
        second.kill_group()
    assert f"cannot listen on port {tracker_port} (tracker_port)" in second.stderr()
    assert not (swarm.root / "tracker2" / "port.txt").exists()
    late = swarm.start_peer({}, args=["--port", str(peer_port)], name="late")
    assert late.proc.wait(20) == 2
    assert f"cannot listen on port {peer_port} (peer_port)" in late.proc.stderr()
    for proc in (second, late.proc):
        assert "Traceback" not in proc.stderr() and proc.stdout() == ""
    holder.proc.signal(signal.SIGTERM)
    assert holder.proc.wait(20) == 0
