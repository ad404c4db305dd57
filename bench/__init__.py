"""Benchmarks: `make bench` (python -m bench). Not tests: they print figures."""
