"""The tracker's logic as plain objects (sans-IO): a request and ``now`` in,
actions out (replies, events to publish, stdout blocks, lines for stderr,
entries of the ``--events`` log).  No socket, no disk, no clock, no
randomness of its own: ``swarm.io.tracker`` carries the actions out."""
