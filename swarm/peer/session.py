"""A peer's session with the tracker, as the peer speaks it (pure).

First a hello, whose answer says where the tracker publishes its events (the
peer subscribes before it joins, so it misses none) and where its address
echoes are (to learn this peer's NAT mapping); then a Join with the peer's
files, what its partial files hold, and its role -- and the Join again
whenever the tracker forgot the peer.  The phases these move the peer
through are ``PeerState``'s; heartbeats are ``Heartbeats``', keeping the
view in step ``TrackerSync``'s.
"""

from __future__ import annotations

from swarm.peer.actions import LearnMapping, Subscribe, ToTracker
from swarm.peer.heartbeats import Heartbeats
from swarm.peer.holdings import Holdings
from swarm.peer.mode import Mode
from swarm.peer.partial_files import PartialFiles
from swarm.peer.sync import TrackerSync
from swarm.protocol.messages import PROTOCOL_VERSION, Hello, HelloReply, Join
from swarm.protocol.output import Observe, Outbox

# Our join is answered within a moment; the tracker's "who are you?"
# (Rejoin) this long after it answers a word said after the join, so the
# join never reached that tracker: it died with one that is gone.  (Words
# said before it are answered so until it arrives, quickly.)
JOIN_ANSWER_S = 3.0


class TrackerSession:
    def __init__(self, out: Outbox, holdings: Holdings, partials: PartialFiles,
                 heartbeats: Heartbeats, sync: TrackerSync, mode: Mode,
                 listen_port: int) -> None:
        """``listen_port``: where this peer serves chunks, said in its Join."""
        self.out = out
        self.holdings = holdings
        self.partials = partials
        self.heartbeats = heartbeats
        self.sync = sync
        self.mode = mode
        self.listen_port = listen_port
        self._hello_only = True  # no join said yet: the hello is our one question
        self._join_said_s = 0.0

    def hello(self) -> None:
        self.out.put(ToTracker(Hello(PROTOCOL_VERSION)))

    def hello_answered(self, reply: HelloReply) -> None:
        if reply.version != PROTOCOL_VERSION:
            self.out.warning("the tracker speaks protocol %d, this peer %d", reply.version,
                             PROTOCOL_VERSION)
        self.out.put(Subscribe(reply.pub_port))
        if reply.echo_ports:
            self.out.put(LearnMapping(reply.echo_ports))

    def join(self, now_s: float) -> None:
        self.heartbeats.joining()
        self.sync.joining()
        self._hello_only = False
        self._join_said_s = now_s
        self.out.put(ToTracker(self.join_message()))

    def not_known_yet(self, now_s: float) -> None:
        """The tracker does not know us, and has not welcomed us yet.  Our
        hello is the first word we say, answered before any later one: a
        "who are you?" before its answer means it died with a tracker that
        is gone (killed, and started again), so it is said again.  Our join,
        if no answer came long after it (JOIN_ANSWER_S), went the same way."""
        if self._hello_only:
            self.hello()
        elif now_s - self._join_said_s >= JOIN_ANSWER_S:
            self.out.info("the tracker does not know this peer %.1f s after it asked to join; "
                          "asking again", now_s - self._join_said_s)
            self.join(now_s)

    def join_message(self) -> Join:
        files = tuple(sorted(self.holdings.local.values(), key=lambda m: m.name))
        return Join(PROTOCOL_VERSION, self.listen_port, files, self.partials.offers(),
                    self.mode.role)

    def welcomed(self, peer_id: int) -> None:
        local = self.holdings.local
        self.out.info("joined as peer %d", peer_id)
        self.out.put(Observe("joined", {
            "peer": peer_id, "files": len(local), "port": self.listen_port,
            "bytes": sum(m.size_bytes for m in local.values())}))
