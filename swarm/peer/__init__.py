"""A peer's logic as plain objects (sans-IO): its phases, its copy of the
swarm, what to fetch and from whom, what to serve, when to leave.
Messages, disk results and ``now`` in; actions out, carried out by
``swarm.io``.  No socket, no disk, no clock, no randomness of its own."""
