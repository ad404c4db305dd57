"""What the tracker's state asks of its sockets, as actions (sans-IO).

``TrackerState`` returns these two besides the actions common to both state
machines (``swarm.protocol.output``: Show, Say, Observe); the tracker's IO
loop (``swarm.io.tracker.loop``) carries them out, in order.
"""

from __future__ import annotations

from swarm.protocol.events import Event
from swarm.protocol.messages import Message
from swarm.protocol.output import Action


class Send(Action):
    """A message to a peer or a tool, on the request socket: ``to`` is the
    routing id its requests come from."""

    to: bytes
    message: Message


class Publish(Action):
    """An event on the PUB socket, already numbered on its topic."""

    event: Event
