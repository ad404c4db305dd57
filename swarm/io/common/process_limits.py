"""What the operating system grants a process: open files and CPU priority.

The open-file limit bounds how many peers a process can talk to.  Every TCP
connection is a file descriptor: the tracker holds two per peer (a
request and an event connection), a peer up to two per other peer (one it
fetches over, one a fetcher opened).  The soft limit is raised to the hard
one at start (as servers do; the default soft limit of 1,024 is a relic of
select()), and a connection refused for want of descriptors is said on
stderr with what to do, instead of peers that silently never connect.

The tracker's dashboard (``--http``) has a share of the descriptors of its
own, set aside before the peers' room is counted: the swarm keeps fifteen
sixteenths of what the process has beyond its own, so no dashboard client
ever takes a descriptor a peer would need (``dashboard_limits``).

A peer runs nicer than the tracker (``peer_niceness``, as Syncthing lowers
its own priority by default): every peer waits on the tracker's answers, and
on a machine full of busy peers a tracker with an equal share of the CPU
falls seconds behind.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
import sys

import zmq

from swarm.protocol.record import Record

log = logging.getLogger("swarm.limits")

RESERVED_FDS = 32  # the process's own: Python, ZeroMQ's context and sockets, the files it reads
UNLIMITED_TARGET = 1 << 20  # the kernel's usual nr_open when the hard limit is "unlimited"
REPORT_EVERY_S = 10.0  # while connections are refused, one line per this long
# The dashboard's share: at most 1/16 of the descriptors beyond RESERVED_FDS
# (the peers keep 15/16), less what its server holds of its own ...
DASHBOARD_SHARE = 16
# Its listening sockets (two for a name with both an IPv4 and an IPv6 address),
# its event loop's selector and wake-up pair, and the few connections between
# being taken and being counted, or between being closed and their descriptor
# being released at the loop's next turn.
DASHBOARD_OWN_FDS = 8
# ... in connections, at least a page's status poll and event stream, a scrape
# and one more; at most as many as memory bears (a connection may hold a
# request head of up to 24 KiB) however high the limit.
MIN_DASHBOARD_CONNECTIONS = 4
MAX_DASHBOARD_CONNECTIONS = 512
STREAM_SHARE = 4  # event streams: at most a quarter of the connections, so they leave room


def raise_open_file_limit() -> int:
    """Raise the soft limit to the hard one; return the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the open-file limit from %d to %d (%s)", soft, target, exc)
        return soft
    log.info("open-file limit raised from %d to %d", soft, target)
    return target


def lower_priority(niceness: int) -> None:
    """Run at least ``niceness`` (never less nice than started; 0: as started)."""
    if niceness <= 0:
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if current < niceness:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
            log.info("niceness raised from %d to %d (peer_niceness)", current, niceness)
    except OSError as exc:
        log.warning("cannot change this peer's niceness: %s", exc.strerror)


def peers_within(limit: int, fds_per_peer: int, set_aside_fds: int = 0) -> int:
    """How many peers a process with ``limit`` descriptors can keep connected,
    ``set_aside_fds`` of them being another's (the dashboard's)."""
    return max(0, (limit - RESERVED_FDS - set_aside_fds) // fds_per_peer)


class DashboardLimits(Record):
    connections: int  # open at once; at the cap, the longest waiting makes room
    streams: int  # of them, event streams
    descriptors: int  # the most it holds: its connections and its own


def dashboard_limits(limit: int) -> DashboardLimits:
    """The dashboard's bounds in a tracker with ``limit`` descriptors: a
    sixteenth of those beyond the process's own, its server's own eight out
    of it, the rest connections (4 to 512), a quarter of them event streams."""
    share = max(0, limit - RESERVED_FDS) // DASHBOARD_SHARE
    connections = min(MAX_DASHBOARD_CONNECTIONS,
                      max(MIN_DASHBOARD_CONNECTIONS, share - DASHBOARD_OWN_FDS))
    return DashboardLimits(connections, max(1, connections // STREAM_SHARE),
                           connections + DASHBOARD_OWN_FDS)


class AcceptWatch:
    """Reports connections a listening socket cannot accept for want of file
    descriptors.  libzmq retries such a connection at once and for as long
    as it waits, each time with a monitor event; the events are always read
    (libzmq's I/O thread blocks on a full monitor pipe, which would stall
    every connection), and said at most once per REPORT_EVERY_S."""

    def __init__(self, sockets: dict[str, zmq.Socket[bytes]], limit: int, fds_per_peer: int,
                 poller: zmq.Poller, set_aside_fds: int = 0) -> None:
        self.limit = limit
        self.fds_per_peer = fds_per_peer
        self.set_aside_fds = set_aside_fds  # the dashboard's, if any
        self.monitors = {sock.get_monitor_socket(zmq.EVENT_ACCEPT_FAILED): (what, sock)
                         for what, sock in sockets.items()}
        for monitor in self.monitors:
            poller.register(monitor, zmq.POLLIN)
        self.reported = 0
        self.refused_since_report = 0
        self._next_report_s = 0.0

    def check(self, monitor: zmq.Socket[bytes], now_s: float) -> None:
        """Read the failures waiting on one of ``monitors``."""
        errors = _failures(monitor)
        if not errors:
            return
        self.refused_since_report += len(errors)
        if now_s < self._next_report_s:
            return
        what, _ = self.monitors[monitor]
        error = errors[-1]
        if error not in (errno.EMFILE, errno.ENFILE):
            log.warning("cannot accept a connection on the %s: %s", what, os.strerror(error))
        elif self.reported == 0:
            log.error("cannot accept a connection on the %s: too many open files (limit %d: "
                      "room for about %d peers). Raise the limit (`ulimit -n`, or "
                      "LimitNOFILE= for a service) and restart",
                      what, self.limit,
                      peers_within(self.limit, self.fds_per_peer, self.set_aside_fds))
        else:
            log.error("still refusing connections on the %s: too many open files (limit %d; "
                      "%d tries refused since the last report)", what, self.limit,
                      self.refused_since_report)
        self.reported += 1
        self.refused_since_report = 0
        self._next_report_s = now_s + REPORT_EVERY_S

    def close(self) -> None:
        for monitor, (_, sock) in self.monitors.items():
            if not sock.closed:
                sock.disable_monitor()
            monitor.close(linger=0)


def _failures(monitor: zmq.Socket[bytes]) -> list[int]:
    """The errno of each failure waiting on a monitor.  Its messages are the
    event number (uint16) and value (uint32, here the errno) in native
    order, then the endpoint."""
    errors: list[int] = []
    while True:
        try:
            frames = monitor.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return errors
        if frames and len(frames[0]) >= 6:
            errors.append(int.from_bytes(frames[0][2:6], sys.byteorder))
