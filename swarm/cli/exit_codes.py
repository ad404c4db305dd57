"""What every `swarm` command exits with, and the text its --help ends with."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

EXIT_CODES = """exit codes:
  0  success
  1  failure: a peer gave up on a silent tracker, a tracker did not answer,
     a file was not found, the tracker's dashboard (--http) could not listen
  2  bad usage or settings, a tracker already serving from this folder, a
     port fixed by --port (or its setting) that cannot be had, or keygen
     --http-token without a swarm key"""
