"""The tracker on fixed ports (tracker_port), on 127.0.0.1: every port by
the rule, the same ports again after a restart, and a port already taken
refused clearly with nothing left behind."""

from __future__ import annotations

import io
import logging
import socket
from pathlib import Path

import pytest

from swarm.config import Settings
from swarm.io.common.ports import PortUnavailable
from swarm.io.common.stdout import StdoutWriter
from swarm.io.tracker.loop import TrackerLoop, run_tracker
from swarm.io.tracker.port_file import FolderLock
from tests.free_ports import free_ports


def fixed(port: int) -> Settings:
    return Settings(bind_address="127.0.0.1", tracker_port=port)


def loop_at(port: int, workdir: Path) -> TrackerLoop:
    return TrackerLoop(fixed(port), workdir, writer=StdoutWriter(io.BytesIO()))


def test_every_port_is_the_rules(tmp_path: Path) -> None:
    base = free_ports(4)
    loop = loop_at(base, tmp_path)
    try:
        assert (loop.port, loop.pub_port, loop.echo.ports) == (base, base + 1,
                                                                (base + 2, base + 3))
    finally:
        loop.close()


def test_the_same_ports_again_after_connections_to_them(tmp_path: Path) -> None:
    """An echo closes its connections first, and a killed tracker's
    connections close from its side: the ports are left with connections in
    TIME_WAIT, which must not keep a tracker started again from them."""
    base = free_ports(4)
    loop = loop_at(base, tmp_path)
    loop.watch()
    try:
        for port in (base, base + 2, base + 3):
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                loop.run_once(0.05)
        loop.run_once(0.05)
    finally:
        loop.close()
    again = loop_at(base, tmp_path)
    again.close()


@pytest.mark.parametrize(("offset", "what"), [
    (0, "tracker_port"), (1, "tracker_port + 1, the event port"),
    (2, "tracker_port + 2, an address echo"), (3, "tracker_port + 3, an address echo"),
])
def test_a_taken_port_is_named_and_nothing_is_left_behind(tmp_path: Path, offset: int,
                                                          what: str) -> None:
    base = free_ports(4)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + offset))
        squatter.listen(1)
        with pytest.raises(PortUnavailable) as caught:
            loop_at(base, tmp_path)
    assert (caught.value.port, caught.value.what) == (base + offset, what)
    assert not (tmp_path / "port.txt").exists()
    with FolderLock(tmp_path):  # the folder is free again
        pass


def test_run_tracker_says_which_port_and_exits_2(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    base = free_ports(4)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base))
        squatter.listen(1)
        with caplog.at_level(logging.ERROR, logger="swarm.tracker"):
            assert run_tracker(fixed(base), tmp_path) == 2
    assert caplog.messages == [
        f"not starting: cannot listen on port {base} (tracker_port): Address already in use; "
        "stop what uses it, or choose another port"]
