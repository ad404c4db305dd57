"""What the tracker's and the peer's IO both use: ZeroMQ helpers and the
wake-up pipe, CurveZMQ, the one writer of stdout, the --events log, process
limits, bulk writes, and the address echoes."""
