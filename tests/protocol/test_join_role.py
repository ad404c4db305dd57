"""Join carries what a participant is: a peer, a get or a seed."""

from __future__ import annotations

import msgpack
import pytest

from swarm.protocol import messages as m
from swarm.protocol.codec import decode, encode
from swarm.protocol.fields import ProtocolError
from swarm.protocol.meta import meta_of_bytes
from swarm.protocol.roles import ROLE_GET, ROLE_PEER, ROLE_SEED

META = meta_of_bytes("a.bin", b"swarm" * 300)


@pytest.mark.parametrize("role", [ROLE_PEER, ROLE_GET, ROLE_SEED])
def test_the_role_round_trips(role: int) -> None:
    join = m.Join(m.PROTOCOL_VERSION, 4000, (META,), (), role)
    decoded, payload = decode([encode(join)])
    assert decoded == join and payload is None
    assert isinstance(decoded, m.Join) and decoded.role == role


def test_a_join_without_a_role_is_a_peer() -> None:
    assert m.Join(m.PROTOCOL_VERSION, 4000, (), ()).role == ROLE_PEER


@pytest.mark.parametrize("role", [-1, 3, 255, True, 1.0, "get", None])
def test_a_bad_role_is_refused(role: object) -> None:
    header = msgpack.packb([m.Join.KIND, m.PROTOCOL_VERSION, 4000, [], [], role],
                           use_bin_type=True)
    with pytest.raises(ProtocolError, match="role"):
        decode([header])


def test_a_join_of_the_previous_version_is_refused() -> None:
    """A version-4 peer sends four fields: refused, never read as a peer of this version."""
    header = msgpack.packb([m.Join.KIND, 4, 4000, [], []], use_bin_type=True)
    with pytest.raises(ProtocolError, match="fields"):
        decode([header])
