"""A peer's links beyond a plain connection out (pure): what the NAT in
front of it does, hole punching, and connection reversal.

A source that cannot be reached is asked, through the tracker, to connect
to us instead (a reversal: ``reversal.py``); a peer that cannot reach us is
connected to from here, to be served.  When neither side can reach the
other, both punch through their NATs at once (``punch.py``), if what the
tracker's address echoes saw of our punch port (the ``NatMapping``) allows
it.  The tracker only introduces; no chunk ever passes through it.
"""

from __future__ import annotations

from collections.abc import Hashable

from swarm.peer.actions import CloseLink, DropPeer, OpenPunch, OpenReverse, Reply, ToTracker
from swarm.peer.punch import NatMapping, Punches, judge_mapping, mapping_said
from swarm.peer.reversal import Reversals, ReverseRoute
from swarm.peer.swarm_view import SwarmView
from swarm.protocol.messages import ConnectTo, Punch, PunchReady, ReverseRequest
from swarm.protocol.output import Outbox
from swarm.protocol.peer_messages import Introduce


class Links:
    def __init__(self, out: Outbox, view: SwarmView, curve: bool) -> None:
        """``view`` tells this peer's id; ``curve``: a swarm key is set, so
        every link is CURVE."""
        self.out = out
        self.view = view
        self.curve = curve
        self.reversals = Reversals(out)
        self.punches = Punches(out)
        self.mapping: NatMapping | None = None  # our punch port as the tracker's echoes saw it

    # --- what the NAT allows ----------------------------------------------------------

    def can_punch(self) -> bool:
        mapping = self.mapping
        return mapping is not None and mapping.behind_nat and mapping.public_port is not None

    def mapping_seen(self, local_address: str, seen: list[tuple[str, int]]) -> None:
        """What the tracker's address echoes saw of our punch port."""
        self.mapping = judge_mapping(local_address, seen)
        said = mapping_said(self.mapping)
        if said is not None:
            self.out.warning("%s", said)
        if self.view.self_id is not None:
            self.say_punch_ready()

    def say_punch_ready(self) -> None:
        """Behind a NAT that allows it, this peer can be punched through to."""
        if self.can_punch():
            assert self.mapping is not None and self.mapping.public_port is not None
            self.out.put(ToTracker(PunchReady(self.mapping.public_port)))

    # --- what the tracker arranges ------------------------------------------------------

    def punch(self, order: Punch) -> None:
        mapping = self.mapping
        own_id = self.view.self_id
        if (own_id is None or order.peer_id == own_id or mapping is None
                or mapping.public_port is None):
            return  # not ours to punch: nothing was said to make the tracker think so
        self.out.info("punching through to peer %d at %s", order.peer_id, order.endpoint)
        self.punches.started(order.peer_id)
        # With a swarm key every link is CURVE, which needs a server side, and
        # both sides of a punched link connect: the lower id is the server.
        curve_server = self.curve and own_id < order.peer_id
        self.out.put(OpenPunch(order.peer_id, order.endpoint, curve_server))

    def connect_to(self, order: ConnectTo) -> None:
        """The tracker asks us to connect out to a peer that cannot reach us."""
        own_id = self.view.self_id
        if order.peer_id == own_id or own_id is None:
            return
        self.out.info("peer %d cannot reach us; connecting out to serve it", order.peer_id)
        self.out.put(OpenReverse(order.peer_id, order.endpoint))
        self.out.put(Reply(ReverseRoute(order.peer_id), Introduce(own_id, order.token)))

    def expect(self, peer_id: int, token: bytes) -> None:
        """The token a source we asked to reverse will show when it connects."""
        self.reversals.expect(peer_id, token)

    def introduced(self, introduce: Introduce, route: Hashable) -> bool:
        """A source introduced itself on ``route``; True when the tracker said
        it would, so that connection is its from now on."""
        if not self.reversals.introduced(introduce.peer_id, introduce.token, route):
            return False
        self.out.put(CloseLink(introduce.peer_id))  # the one that never came up
        return True

    # --- links that do not come up --------------------------------------------------------

    def unreachable(self, peer_id: int, now_s: float, endpoint_known: bool) -> None:
        """Our connection to a source never came up.  The tracker is asked to
        have it connect to us instead (or to have us both punch through); a
        punched link that never came up is asked for again, a few times."""
        if self.punches.punched(peer_id):
            if self.punches.failed(peer_id, now_s):
                self.out.put(ToTracker(ReverseRequest(peer_id)))
        elif self.reversals.should_ask(peer_id) and endpoint_known:
            self.out.info("cannot reach peer %d; asking the tracker to reverse the connection",
                          peer_id)
            self.out.put(ToTracker(ReverseRequest(peer_id)))

    def reversal_failed(self, peer_id: int) -> None:
        """The link we opened to serve ``peer_id`` (it cannot reach us) never
        came up: neither of us can reach the other.  Behind a NAT that allows
        it, we ask the tracker for a punch (it answers with one when the other
        can punch too: its own request may have come before either of us had
        said so); once punching was tried, the other gets our files from others."""
        if self.can_punch() and not self.punches.punched(peer_id):
            self.out.info("cannot connect out to peer %d either; asking the tracker to have us "
                          "both punch through", peer_id)
            self.out.put(ToTracker(ReverseRequest(peer_id)))
        else:
            self.out.warning("cannot connect out to peer %d either: neither of us can reach the "
                             "other, so it gets this peer's files from others", peer_id)

    # --- the links we have ------------------------------------------------------------------

    def punched(self, peer_id: int) -> bool:
        """A punched link to ``peer_id`` was asked for: it carries both ways."""
        return self.punches.punched(peer_id)

    def route_to(self, peer_id: int) -> Hashable | None:
        """The connection a source opened to us (a reversal), if it did."""
        return self.reversals.routes.get(peer_id)

    def source_of(self, route: Hashable) -> int | None:
        """The source whose reversed connection ``route`` is, if any."""
        return self.reversals.source_of(route)

    def link_up(self, peer_id: int) -> None:
        self.punches.link_up(peer_id)

    def link_down(self, peer_id: int) -> None:
        self.punches.link_down(peer_id)

    def forget(self, peer_id: int) -> None:
        """A source is of no further use: its connections close, but a
        punched link stays -- the other side may fetch from us over it, and
        it could not be made again without the tracker."""
        self.reversals.forget(peer_id)
        if not self.punches.punched(peer_id):
            self.out.put(DropPeer(peer_id))

    # --- time ------------------------------------------------------------------------------

    def on_timer(self, now_s: float) -> None:
        """Punched links that failed: asked for again once their back-off is over."""
        for peer_id in self.punches.due(now_s):
            self.out.put(ToTracker(ReverseRequest(peer_id)))

    def next_deadline_s(self) -> float:
        return self.punches.next_deadline_s()
