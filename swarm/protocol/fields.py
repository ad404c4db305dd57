"""The checks every message field goes through, and the protocol's limits.

A message checks its fields when it is built (``__post_init__``), each with
one of these: ``as_int(value, what, lo, hi)`` returns the value when it is
one, and raises ``ProtocolError`` naming the field when it is not.  So a
message object that exists is a valid one, whatever the network sent.
"""

from __future__ import annotations

from operator import lt
from typing import Any

from swarm.protocol.meta import HASH_BYTES, FileMeta, MetaError
from swarm.protocol.names import name_problem
from swarm.protocol.record import Record

MAX_ID = 2**31 - 1


MAX_SIZE_BYTES = 2**50


MAX_CHUNKS = MAX_SIZE_BYTES // 512


MAX_LIST = 100_000  # entries in any one list field


MAX_TEXT = 1000  # characters in a free-text field (reasons)


MAX_ENDPOINT = 300


LONG_RANGES = 16  # range bounds beyond which checking them in C pays


class ProtocolError(ValueError):
    """A message from the network that is not a valid swarm message."""


def as_int(value: object, what: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    # type() rather than isinstance(): a bool is an int subclass, and not one of ours.
    if type(value) is not int:
        raise ProtocolError(f"{what}: expected an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ProtocolError(f"{what}: {value} is outside [{lo}, {hi}]")
    return value


def as_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(f"{what}: expected a boolean, got {type(value).__name__}")
    return value


def as_text(value: object, what: str, max_len: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{what}: expected a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise ProtocolError(f"{what}: longer than {max_len} characters")
    return value


def as_name(value: object, what: str = "file name") -> str:
    problem = name_problem(value)
    if problem is not None:
        raise ProtocolError(f"{what} {value!r}: {problem}")
    assert isinstance(value, str)
    return value


def as_digest(value: object, what: str = "digest") -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_BYTES:
        raise ProtocolError(f"{what}: expected {HASH_BYTES} bytes")
    return value


def as_list(value: object, what: str) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise ProtocolError(f"{what}: expected a list, got {type(value).__name__}")
    if len(value) > MAX_LIST:
        raise ProtocolError(f"{what}: more than {MAX_LIST} entries")
    return tuple(value)


def as_ranges(value: object, what: str, limit: int = MAX_CHUNKS) -> tuple[int, ...]:
    """Flat chunk ranges [s0, e0, s1, e1, ...]: sorted, disjoint, non-empty."""
    flat = as_list(value, what)
    # Sorted, disjoint and non-empty is: every bound above the one before.
    # A long list is checked so in C first (a report of scattered pieces);
    # a short one, or one that fails, goes through the loop, which says why.
    if (len(flat) > LONG_RANGES and not len(flat) % 2 and set(map(type, flat)) == {int}
            and flat[0] >= 0 and flat[-1] <= limit and all(map(lt, flat, flat[1:]))):
        return flat
    if len(flat) % 2:
        raise ProtocolError(f"{what}: odd number of range bounds")
    previous_end = -1
    for i in range(0, len(flat), 2):
        start = as_int(flat[i], what, 0, limit)
        end = as_int(flat[i + 1], what, 0, limit)
        if start >= end or start <= previous_end:
            raise ProtocolError(f"{what}: ranges must be sorted, disjoint and non-empty")
        previous_end = end
    return flat


TOKEN_BYTES = 16


def as_token(value: object) -> bytes:
    if not isinstance(value, bytes) or len(value) != TOKEN_BYTES:
        raise ProtocolError(f"token: expected {TOKEN_BYTES} bytes")
    return value


def as_endpoint(value: object) -> str:
    endpoint = as_text(value, "endpoint", MAX_ENDPOINT)
    if not endpoint.startswith("tcp://"):
        raise ProtocolError(f"endpoint {endpoint!r} is not tcp://")
    return endpoint


def as_meta(value: object) -> FileMeta:
    if isinstance(value, FileMeta):
        return value
    items = as_list(value, "file metadata")
    if len(items) != 4:
        raise ProtocolError("file metadata: expected [name, size, digest, piece hashes]")
    try:
        return FileMeta(*items)
    except MetaError as exc:
        raise ProtocolError(str(exc)) from None


def field_count(cls: type[Record]) -> int:
    return len(cls._fields)


def as_record(value: object, what: str, record: type[Any]) -> Any:
    """A nested record: already built, or its wire list."""
    if isinstance(value, record):
        return value
    items = as_list(value, what)
    if len(items) != field_count(record):
        raise ProtocolError(f"{what}: entry has {len(items)} fields")
    return record(*items)


def as_records(value: object, what: str, record: type[Any]) -> tuple[Any, ...]:
    return tuple(as_record(item, what, record) for item in as_list(value, what))


def as_metas(value: object, what: str) -> tuple[FileMeta, ...]:
    return tuple(as_meta(item) for item in as_list(value, what))


def as_peer_amounts(value: object, what: str, amount: str) -> tuple[tuple[int, int], ...]:
    """A list of [peer id, non-negative amount] pairs."""
    pairs = []
    for entry in as_list(value, what):
        pair = as_list(entry, what)
        if len(pair) != 2:
            raise ProtocolError(f"{what}: expected [peer id, {amount}]")
        pairs.append((as_int(pair[0], "peer id", 1, MAX_ID), as_int(pair[1], amount)))
    return tuple(pairs)
