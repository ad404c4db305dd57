#!/bin/sh
# Runs the swarm tracker. It writes its port to ./port.txt.
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
if [ -x "$here/.venv/bin/python" ]; then py="$here/.venv/bin/python"; else py=python3; fi
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m swarm tracker "$@"
