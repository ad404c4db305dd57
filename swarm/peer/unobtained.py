"""What a peer leaves without: the swarm's files it wanted and does not
hold, and why.  Said on stderr when it leaves, so a peer that got nothing
because nobody could serve it does not end in silence."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from swarm.protocol.message_parts import FileSummary
from swarm.protocol.record import Record
from swarm.units import human_size


class HoldsFiles(Protocol):
    """What a peer holds whole, and what it is excused from."""

    @property
    def complete(self) -> Iterable[str]: ...

    @property
    def excused(self) -> Iterable[str]: ...


class Unobtained(Record):
    """One file of the swarm's list this peer leaves without."""

    name: str
    size_bytes: int
    # No living peer holds it (its holders left or died), as the tracker
    # last said: nobody could have served it.  Otherwise the peer left
    # before it came (a signal, a silent tracker).
    stranded: bool
    pieces_kept: int  # verified pieces left in the state folder for a later run
    pieces: int  # of the file; 0 when its download never started

    @property
    def reason(self) -> str:
        if self.stranded:
            return "no living peer holds it"
        return "the peer left before it came"

    def describe(self) -> str:
        if self.pieces_kept:
            kept = f"{self.pieces_kept} of {self.pieces} pieces kept for a later run"
        else:
            kept = "nothing of it was received"
        return f"{self.name!r} ({human_size(self.size_bytes)}): {self.reason}; {kept}"


def unobtained(files: Iterable[FileSummary], holdings: HoldsFiles,
               kept: Mapping[bytes, tuple[int, int]]) -> list[Unobtained]:
    """The files of the swarm's list that ``holdings`` neither holds nor is
    excused from, by name.  ``kept``: per digest, the pieces a download
    holds and the file's piece count."""
    complete, excused = set(holdings.complete), set(holdings.excused)
    out = []
    for summary in sorted(files, key=lambda f: f.name):
        if summary.name in complete or summary.name in excused:
            continue
        pieces_kept, pieces = kept.get(summary.digest, (0, 0))
        out.append(Unobtained(summary.name, summary.size_bytes, not summary.available,
                              pieces_kept, pieces))
    return out
