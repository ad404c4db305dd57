"""The tracker's logic as a plain object (sans-IO): a request and ``now``
in, an ``Outcome`` (replies, events to publish, stdout blocks) out.  No
socket, no disk, no clock, no randomness of its own: ``swarm.io`` carries
the outcome out."""
