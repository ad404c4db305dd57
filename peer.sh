#!/bin/sh
# Runs a swarm peer: sh peer.sh TRACKER_IP TRACKER_PORT MIN_ALIVE_SECONDS
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
if [ -x "$here/.venv/bin/python" ]; then py="$here/.venv/bin/python"; else py=python3; fi
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m swarm peer "$@"
