"""What a participant is (``Join.role``).  The one-shot clients take an id
and appear in the tracker's blocks, but no peer's rule (a) waits for them."""

from __future__ import annotations

ROLE_PEER = 0  # swarm peer: fetches everything, leaves by rules (a), (b), (c)
ROLE_GET = 1  # swarm get: fetches the files it names, leaves once it holds them
ROLE_SEED = 2  # swarm seed: fetches nothing, leaves by rule (a) (or never)
ROLE_NAMES = {ROLE_PEER: "peer", ROLE_GET: "get", ROLE_SEED: "seed"}
