"""The dashboard's share of the tracker's open files: the peers' room first."""

from __future__ import annotations

import pytest

from swarm.io.common.process_limits import (
    DASHBOARD_OWN_FDS,
    MAX_DASHBOARD_CONNECTIONS,
    MIN_DASHBOARD_CONNECTIONS,
    RESERVED_FDS,
    DashboardLimits,
    dashboard_limits,
    peers_within,
)

TRACKER_FDS_PER_PEER = 2  # swarm.io.tracker.loop's


@pytest.mark.parametrize("limit, connections, streams", [
    (1024, 54, 13),  # (1024 - 32) / 16 = 62 descriptors, 8 of them the server's own
    (4096, 246, 61),
    (20_000, 512, 128),  # 1,240 would be its share: memory bounds it first
    (1 << 20, 512, 128),
    (256, 6, 1),
    (48, 4, 1),  # its share would be 1: it keeps the least a page needs
])
def test_the_dashboard_takes_a_sixteenth_of_what_the_tracker_has_beyond_its_own(
        limit: int, connections: int, streams: int) -> None:
    assert dashboard_limits(limit) == DashboardLimits(connections, streams,
                                                      connections + DASHBOARD_OWN_FDS)


@pytest.mark.parametrize("limit", [40, 48, 100, 256, 1000, 1024, 4096, 20_000, 65_536, 1 << 20])
def test_the_peers_room_is_counted_after_the_dashboards_share(limit: int) -> None:
    dashboard = dashboard_limits(limit)
    peers = peers_within(limit, TRACKER_FDS_PER_PEER, dashboard.descriptors)
    # Every peer the tracker says it has room for fits beside a full dashboard.
    assert RESERVED_FDS + peers * TRACKER_FDS_PER_PEER + dashboard.descriptors <= max(
        limit, RESERVED_FDS + dashboard.descriptors)
    assert MIN_DASHBOARD_CONNECTIONS <= dashboard.connections <= MAX_DASHBOARD_CONNECTIONS
    assert dashboard.streams == max(1, dashboard.connections // 4)
    if limit >= 1024:  # the swarm keeps at least fifteen sixteenths
        spare = limit - RESERVED_FDS
        assert peers * TRACKER_FDS_PER_PEER >= spare * 15 // 16 - 1


def test_the_cap_grows_with_the_limit_until_memory_bounds_it() -> None:
    caps = [dashboard_limits(limit).connections for limit in range(32, 40_000, 97)]
    assert caps == sorted(caps) and caps[-1] == MAX_DASHBOARD_CONNECTIONS


def test_without_a_dashboard_the_peers_have_it_all() -> None:
    assert peers_within(48, 2) == 8
    assert peers_within(48, 2, dashboard_limits(48).descriptors) == 2
    assert peers_within(20_000, 2, dashboard_limits(20_000).descriptors) == 9_724
