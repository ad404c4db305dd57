"""The values a peer's state runs by, handed in as values.

No defaults here: the defaults have one owner, ``swarm.config.Settings``,
whose ``peer_settings()`` builds this record (tests build it the same way,
from ``Settings()``).  The state reads no file and no environment.
"""

from __future__ import annotations

from swarm.protocol.record import Record


class PeerSettings(Record):
    heartbeat_interval_s: float  # between heartbeats to the tracker
    tracker_grace_s: float  # the tracker's silence after which the peer gives up
    request_window_bytes: int  # most bytes in flight to one source
    holders_refresh_s: float  # the first wait before asking again who holds a download
    report_interval_s: float  # verified chunks are reported to the tracker at most this far apart
    upload_limit_bytes_s: int  # 0: no limit
    download_limit_bytes_s: int  # 0: no limit
    # A swarm key is set: every link is CURVE, and a punched link, which both
    # sides connect, needs one of them to be the CURVE server.
    curve: bool
