"""Connection reversal, a peer's side of it (pure).

When this peer cannot connect to a source (it is behind NAT or a firewall),
it asks the tracker to reverse the connection; the tracker tells the source
to connect out to us, and tells us the token the source will show.  The
source's first message on its new connection is Introduce(peer id, token);
from then on we send it requests through our ROUTER, on that connection's
route, and it answers on the same connection.  The tracker only introduces;
no chunk ever passes through it.
"""

from __future__ import annotations

from collections.abc import Hashable

from swarm.protocol.output import Outbox
from swarm.protocol.record import Record


class ReverseRoute(Record):
    """Where to answer a request that came over a connection we opened
    ourselves to serve ``peer_id`` (the serving side of a reversal)."""

    peer_id: int


class Reversals:
    def __init__(self, out: Outbox) -> None:
        self.out = out
        self.asked: set[int] = set()  # sources we asked the tracker to reverse
        self._tokens: dict[int, bytes] = {}  # source -> the token it will show
        self.routes: dict[int, Hashable] = {}  # source -> its route on our ROUTER
        self._by_route: dict[Hashable, int] = {}

    def should_ask(self, peer_id: int) -> bool:
        """True the first time a source is found unreachable."""
        if peer_id in self.asked or peer_id in self.routes:
            return False
        self.asked.add(peer_id)
        return True

    def expect(self, peer_id: int, token: bytes) -> None:
        self._tokens[peer_id] = token

    def introduced(self, peer_id: int, token: bytes, route: Hashable) -> bool:
        """A source introduced itself on ``route``; True when the tracker
        said it would (the token matches), so the route is its."""
        if self._tokens.get(peer_id) != token:
            return False  # not an introduction the tracker arranged
        del self._tokens[peer_id]
        self.routes[peer_id] = route
        self._by_route[route] = peer_id
        self.out.info("peer %d connected to us; its chunks come over that connection", peer_id)
        return True

    def source_of(self, route: Hashable) -> int | None:
        """The source whose reversed connection ``route`` is, if any."""
        return self._by_route.get(route)

    def forget(self, peer_id: int) -> None:
        self.asked.discard(peer_id)
        self._tokens.pop(peer_id, None)
        route = self.routes.pop(peer_id, None)
        if route is not None:
            self._by_route.pop(route, None)
