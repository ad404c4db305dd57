"""The swarm key: CurveZMQ on every socket, for swarms that are not open.

One secret, shared out of band (``swarm keygen``), stands for the whole swarm.
From it every process derives the same two Curve25519 key pairs, one for the
serving side of a connection (the tracker's ROUTER and PUB, each peer's chunk
ROUTER) and one for the connecting side (a peer's DEALERs and SUB, the
tools).  A connecting socket must know the server's public key to complete
the handshake, and every serving socket runs ZeroMQ's authentication (ZAP)
to accept only the swarm's client key: without the secret, nobody can join,
subscribe, or fetch a byte -- and the traffic is encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import TYPE_CHECKING

import zmq
from zmq.utils import z85

from swarm.protocol.record import Record

if TYPE_CHECKING:
    from zmq.auth.thread import ThreadAuthenticator

KEY_BYTES = 32
HTTP_TOKEN_LABEL = b"swarm http token v1"  # a new version of the token changes this


class SwarmKeyError(ValueError):
    """A swarm key that is not 64 hexadecimal digits."""


class CurveKeys(Record):
    server_public: bytes
    server_secret: bytes
    client_public: bytes
    client_secret: bytes


def new_swarm_key() -> str:
    return os.urandom(KEY_BYTES).hex()


def keys_from(swarm_key: str) -> CurveKeys | None:
    """The key pairs of a swarm key; None for an open swarm (no key)."""
    if not swarm_key:
        return None
    seed = _key_bytes(swarm_key)
    pairs = []
    for role in (b"server", b"client"):
        # Any 32 bytes make a Curve25519 secret key; hashing with the role
        # keeps the two pairs unrelated to each other and to the key itself.
        secret = z85.encode(hashlib.sha256(b"swarm-curve-" + role + b"\0" + seed).digest())
        pairs += [zmq.curve_public(secret), secret]
    return CurveKeys(*pairs)


def http_token(swarm_key: str) -> str | None:
    """The token the tracker's HTTP server asks of every request in a keyed
    swarm (``swarm keygen --http-token``); None for an open swarm.  A MAC of
    a fixed label under the key: it proves the key's holder made it, and
    gives away nothing of the key (nor of the Curve keys made from it)."""
    if not swarm_key:
        return None
    return hmac.new(_key_bytes(swarm_key), HTTP_TOKEN_LABEL, hashlib.sha256).hexdigest()


def _key_bytes(swarm_key: str) -> bytes:
    try:
        seed = bytes.fromhex(swarm_key)
    except ValueError:
        seed = b""
    if len(seed) != KEY_BYTES:
        raise SwarmKeyError("a swarm key is 64 hexadecimal digits (make one: swarm keygen)")
    return seed


def make_server(sock: zmq.Socket[bytes], keys: CurveKeys) -> None:
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.server_secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.server_public)


def make_client(sock: zmq.Socket[bytes], keys: CurveKeys) -> None:
    sock.setsockopt(zmq.CURVE_SERVERKEY, keys.server_public)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys.client_public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys.client_secret)


class _SwarmMembers:
    """ZAP credentials: the swarm's client key and no other."""

    def __init__(self, client_public: bytes) -> None:
        self.client_public = client_public

    def callback(self, domain: str, key: bytes) -> bool:
        return key == z85.decode(self.client_public) or key == self.client_public


def start_authenticator(ctx: zmq.Context[zmq.Socket[bytes]],
                        keys: CurveKeys) -> ThreadAuthenticator:
    """ZeroMQ's authentication thread for this context's serving sockets;
    stop it (``.stop()``) before the context is terminated."""
    from zmq.auth.thread import ThreadAuthenticator  # only swarms with a key pay for it

    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve_callback(domain="*", credentials_provider=_SwarmMembers(
        keys.client_public))
    return auth
