"""``python -m swarm``: the `swarm` command."""

from swarm.cli import main

raise SystemExit(main())
