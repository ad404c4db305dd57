"""swarm: a peer-to-peer file-sharing swarm on ZeroMQ."""

__version__ = "0.1.0"
