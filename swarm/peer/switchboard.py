"""Who in a peer hears what another peer sends (pure).

Other peers reach this peer three ways: on its chunk port (requests to
serve, and a source's introduction when it connects to us instead), on the
connections it opened to sources (their replies; over a punched link, the
other side's requests too), and on the connections it opened to serve a
peer that cannot reach it (that peer's requests, on a ``ReverseRoute``).
Requests and cancels go to ``Uploads``, replies to the ``Fetcher``,
introductions to ``Links``; anything else is dropped and said.
"""

from __future__ import annotations

from collections.abc import Hashable

from swarm.peer.actions import Reply
from swarm.peer.fetcher import Fetcher
from swarm.peer.links import Links
from swarm.peer.piece_requests import PieceRequests
from swarm.peer.reversal import ReverseRoute
from swarm.peer.uploads import Uploads
from swarm.protocol.messages import ErrorReply, Message
from swarm.protocol.output import Outbox
from swarm.protocol.peer_messages import Cancel, ChunkData, ChunkRefused, ChunkRequest, Introduce


class Switchboard:
    def __init__(self, out: Outbox, links: Links, fetcher: Fetcher, requests: PieceRequests,
                 uploads: Uploads) -> None:
        self.out = out
        self.links = links
        self.fetcher = fetcher
        self.requests = requests
        self.uploads = uploads

    def from_source(self, peer_id: int, message: Message, payload: memoryview | None,
                    now_s: float) -> None:
        """A message on a connection we opened to a source."""
        if isinstance(message, (ChunkRequest, Cancel)) and self.links.punched(peer_id):
            # A punched link carries the other side's requests too; we answer
            # over the same connection, which we opened ourselves.
            self.to_port(ReverseRoute(peer_id), message, payload, now_s)
        else:
            self.fetcher.on_reply(peer_id, message, payload, now_s)

    def to_port(self, route: Hashable, message: Message, payload: memoryview | None,
                now_s: float) -> None:
        """A message on our chunk port, or on a connection we opened to serve
        a peer that cannot reach us (``route`` is then a ReverseRoute)."""
        source = self.links.source_of(route)
        if source is not None and isinstance(message, (ChunkData, ChunkRefused)):
            self.fetcher.on_reply(source, message, payload, now_s)
        elif isinstance(message, Introduce):
            if self.links.introduced(message, route):
                self.requests.link_up(message.peer_id)
            else:
                self.uploads.unwanted(f"an introduction as peer {message.peer_id} with a token "
                                      "the tracker did not give")
        elif isinstance(message, ChunkRequest):
            self.uploads.request(route, message, now_s)
        elif isinstance(message, Cancel):
            self.uploads.cancel(route, message.request_id)
        else:
            self.uploads.unwanted(f"{type(message).__name__} on our chunk port")
            self.out.put(Reply(route, ErrorReply(f"unexpected {type(message).__name__}")))
