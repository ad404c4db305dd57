"""Driving a TrackerState in tests with a fake clock (plain floats), no
sockets, and reading the actions it returns."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any, TypeVar

from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.chunks import CHUNK_SIZE_BYTES
from swarm.protocol.events import Event
from swarm.protocol.fields import TOKEN_BYTES
from swarm.protocol.message_parts import HaveReport, PartialOffer
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.protocol.output import Action, Observe, Say, Show
from swarm.tracker.actions import Publish, Send
from swarm.tracker.state import TrackerState

PUB_PORT = 9100
EXPIRY_S = 3.0
ADDRESS = "127.0.0.1"

# 130 chunks in 3 pieces: enough to report in several runs.
BIG = meta_of_bytes("big.bin", bytes(i % 253 for i in range(130 * CHUNK_SIZE_BYTES)))
SMALL = meta_of_bytes("small.txt", b"small file\n" * 100)  # 1100 bytes, 3 chunks
EMPTY = meta_of_bytes("empty", b"")
OTHER_SMALL = meta_of_bytes("small.txt", b"other content\n")  # same name, other bytes

EventT = TypeVar("EventT", bound=Event)


def new_state() -> TrackerState:
    tokens = (i.to_bytes(TOKEN_BYTES, "big") for i in itertools.count(1))
    return TrackerState(PUB_PORT, EXPIRY_S, lambda: next(tokens), random.Random(1))


# --- driving it -------------------------------------------------------------------------


def sender(peer: int) -> bytes:
    """The routing id of a peer's socket; peers join in id order in these tests."""
    return f"routing-{peer}".encode()


def join(state: TrackerState, peer: int, files: Sequence[FileMeta] = (),
         partials: Sequence[PartialOffer] = (), now_s: float = 0.0) -> list[Action]:
    return state.handle(sender(peer), m.Join(1, 5000 + peer, tuple(files), tuple(partials)),
                        ADDRESS, now_s)


def send(state: TrackerState, peer: int, message: m.Message, now_s: float = 0.0) -> list[Action]:
    return state.handle(sender(peer), message, ADDRESS, now_s)


def have(digest: bytes, *flat: int) -> m.Have:
    return m.Have((HaveReport(digest, flat),))


def fetch_whole(state: TrackerState, peer: int, meta: FileMeta,
                now_s: float = 0.0) -> list[Action]:
    """A peer reports every chunk of a file and then completes it."""
    out: list[Action] = []
    if meta.chunks:
        out += send(state, peer, have(meta.digest, 0, meta.chunks), now_s)
    out += send(state, peer, m.Complete(meta.digest), now_s)
    return out


# --- reading its actions ------------------------------------------------------------------


def sends(actions: list[Action]) -> list[tuple[bytes, m.Message]]:
    """Every message sent, with its routing id."""
    return [(a.to, a.message) for a in actions if isinstance(a, Send)]


def replies(actions: list[Action]) -> list[tuple[bytes, m.Message]]:
    """What the tracker sends, but the LeaveStatus notices (tested on their own)."""
    return [(t, msg) for t, msg in sends(actions) if not isinstance(msg, m.LeaveStatus)]


def statuses(actions: list[Action]) -> dict[int, m.LeaveStatus]:
    """The LeaveStatus notices, by peer (senders are routing-N)."""
    return {int(t.decode().split("-")[1]): msg for t, msg in sends(actions)
            if isinstance(msg, m.LeaveStatus)}


def only_reply(actions: list[Action], peer: int) -> m.Message:
    sent = replies(actions)
    assert len(sent) == 1, sent
    target, message = sent[0]
    assert target == sender(peer)
    return message


def events(actions: list[Action]) -> list[Event]:
    """The events published, in order."""
    return [a.event for a in actions if isinstance(a, Publish)]


def events_of(actions: list[Action], kind: type[EventT]) -> list[EventT]:
    return [event for event in events(actions) if isinstance(event, kind)]


def blocks(actions: list[Action]) -> list[display.Block]:
    """The stdout blocks, in order."""
    return [a.block for a in actions if isinstance(a, Show)]


def said(actions: list[Action]) -> list[str]:
    """The stderr lines, as written."""
    return [a.text() for a in actions if isinstance(a, Say)]


def entries(actions: list[Action]) -> list[tuple[str, dict[str, Any]]]:
    """The entries of the --events log: (kind, fields)."""
    return [(a.kind, a.fields) for a in actions if isinstance(a, Observe)]
