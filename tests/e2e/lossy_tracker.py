"""The real tracker, except that it never publishes the file events (the
topic peers follow) whose numbers it is given, as if its PUB socket had
dropped them: peers must notice the gap and repair it with a snapshot.

    python -m tests.e2e.lossy_tracker 4,5,6 [swarm tracker options]

Each event it keeps back is named on stderr ("event 4 not published").
Everything else -- settings, logging, sockets, stdout -- is `swarm tracker`'s.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection
from pathlib import Path

from swarm import cli
from swarm.config import Settings
from swarm.io.tracker import loop as tracker_loop
from swarm.protocol.events import FILE_TOPIC, Event

log = logging.getLogger("swarm.tracker")


class LossyTrackerLoop(tracker_loop.TrackerLoop):
    def __init__(self, lost_seqs: Collection[int], settings: Settings, workdir: Path,
                 events: Path | None = None) -> None:
        super().__init__(settings, workdir, events)
        self.lost_seqs = frozenset(lost_seqs)

    def _publish(self, event: Event) -> None:
        if event.TOPIC == FILE_TOPIC and event.seq in self.lost_seqs:
            log.warning("event %d not published (lost on purpose)", event.seq)
            return
        super()._publish(event)


def parse_seqs(text: str) -> frozenset[int]:
    """Event numbers, comma-separated: "4,5,6"."""
    return frozenset(int(part) for part in text.split(",") if part.strip())


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m tests.e2e.lossy_tracker SEQ[,SEQ...] [tracker options]",
              file=sys.stderr)
        return cli.EXIT_USAGE
    lost = parse_seqs(argv[0])

    def run_lossy_tracker(settings: Settings, workdir: Path, events: Path | None = None) -> int:
        return LossyTrackerLoop(lost, settings, workdir, events).run()

    # `swarm tracker` looks the loop up when it runs, so it runs this one.
    tracker_loop.run_tracker = run_lossy_tracker
    return cli.main(["tracker", *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
