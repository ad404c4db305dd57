"""What a peer's state asks the world to do: the actions it returns.

Every input of ``PeerState`` (a message, a disk result, the time) returns a
list of these, in order, with the actions common to both state machines
(``swarm.protocol.output``: Show, Say, Observe); the IO loop carries them out and feeds back what
the world answered (a disk result, a file found changed).  Nothing here does
anything: these are plain records, so a test reads them like messages.
"""

from __future__ import annotations

from collections.abc import Hashable

from swarm.protocol.messages import Message
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Action
from swarm.protocol.peer_messages import ChunkData

# --- the network ----------------------------------------------------------------


class ToTracker(Action):
    message: Message


class ToPeer(Action):
    """A message to a source, over our connection to ``endpoint``."""

    peer_id: int
    endpoint: str
    message: Message


class Reply(Action):
    """A message on a connection the other side opened: an answer on our
    chunk port, or (``route`` a ReverseRoute) on a connection we opened to
    serve a peer that cannot reach us, or a request to a source that
    connected to us (a reversal)."""

    route: Hashable
    message: Message


class SendChunks(Action):
    """Answer a chunk request with data: read ``length`` bytes at ``offset``
    of the file and send them as ``reply``'s payload.  If the file turns out
    to have changed, refuse the request and say so (``on_local_changed``)."""

    route: Hashable
    reply: ChunkData
    offset: int
    length: int


class Subscribe(Action):
    pub_port: int


class OpenReverse(Action):
    """Connect out to ``peer_id``, which cannot reach us, to serve it."""

    peer_id: int
    endpoint: str


class LearnMapping(Action):
    """Reach the tracker's address echoes (these ports) from our punch port,
    and tell ``on_mapping`` what they saw."""

    echo_ports: tuple[int, ...]


class OpenPunch(Action):
    """Connect from our punch port to ``peer_id``'s public punch mapping,
    now (it does the same to us): the link we fetch from it and serve it on.
    ``curve_server``: with a swarm key, this side is the link's CURVE server."""

    peer_id: int
    endpoint: str
    curve_server: bool = False


class CloseLink(Action):
    """Our connection to a source is of no further use (it connected to us
    instead)."""

    peer_id: int


class DropPeer(Action):
    """Forget every connection with a peer (it left, or it is banned)."""

    peer_id: int


# --- the disk ---------------------------------------------------------------------


class StartPartial(Action):
    """Create the partial file of a download (answer: ``on_partial_started``)."""

    meta: FileMeta


class WritePiece(Action):
    """Write a verified piece (answer: ``on_piece_written``)."""

    digest: bytes
    piece: int
    data: bytes | memoryview


class Place(Action):
    """Put a finished download into Shared, replacing nothing (answer: ``on_placed``)."""

    digest: bytes
    name: str


class DropPartial(Action):
    digest: bytes


class ServeFile(Action):
    """Serve this file of Shared from now on, and watch it for changes."""

    meta: FileMeta


class StopServing(Action):
    digest: bytes


class CheckShared(Action):
    """Look whether the files served are still as hashed (answer:
    ``on_shared_checked``); asked just before a goodbye."""
