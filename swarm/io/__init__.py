"""Everything that touches the world: the ZeroMQ sockets and the poll
loops of the tracker and the peer, the disk store and the Shared watcher,
CurveZMQ, stdout, the event log and the progress bars.  Thin: each loop
hands what arrives to the pure state and carries out what it returns."""
