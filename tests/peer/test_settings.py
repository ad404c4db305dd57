"""PeerSettings: the values a peer's state runs by, built from the one owner
of the defaults (swarm.config.Settings)."""

from __future__ import annotations

from swarm.config import Settings
from swarm.peer.settings import PeerSettings


def test_the_peer_settings_carry_the_settings_values() -> None:
    settings = Settings(heartbeat_interval_s=2.0, upload_limit_bytes_s=1000)
    peer = settings.peer_settings()
    for name in PeerSettings._fields:
        if name != "curve":
            assert getattr(peer, name) == getattr(settings, name), name
    assert peer.curve is False
    assert Settings(key="ab" * 32).peer_settings().curve is True
