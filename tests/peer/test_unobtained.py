"""What a peer leaves without, and why: the pure rule, the state that
answers it, and a simulated swarm whose only holder dies mid-transfer."""

from __future__ import annotations

import random

from swarm.config import Settings
from swarm.peer.state import PeerState
from swarm.peer.unobtained import Unobtained, unobtained
from swarm.protocol import messages as m
from swarm.protocol.message_parts import FileSummary
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.units import human_size
from tests.swarms.sim import Simulation

MIB = 1 << 20


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


class Mine:
    def __init__(self, complete: set[str], excused: set[str] | None = None) -> None:
        self.complete = complete
        self.excused = excused or set()


def summary(name: str, available: bool, size: int = 1000) -> FileSummary:
    return FileSummary(name, size, bytes([len(name)]) * 32, available)


# --- the rule ------------------------------------------------------------------------


def test_files_held_or_excused_are_not_missed() -> None:
    files = [summary("held", True), summary("excused", False), summary("gone", False)]
    got = unobtained(files, Mine({"held"}, {"excused"}), {})
    assert [u.name for u in got] == ["gone"]


def test_a_file_nobody_living_holds_is_stranded_and_says_so() -> None:
    gone = summary("gone.bin", False, 4 * MIB)
    (missing,) = unobtained([gone], Mine(set()), {gone.digest: (3, 16)})
    assert missing == Unobtained("gone.bin", 4 * MIB, True, 3, 16)
    assert missing.describe() == (f"'gone.bin' ({human_size(4 * MIB)}): no living peer holds it; "
                                  "3 of 16 pieces kept for a later run")


def test_a_file_left_before_it_came_is_not_stranded() -> None:
    (missing,) = unobtained([summary("later.bin", True)], Mine(set()), {})
    assert not missing.stranded
    assert missing.reason == "the peer left before it came"
    assert missing.describe().endswith("; nothing of it was received")


def test_missed_files_come_sorted_by_name() -> None:
    files = [summary(n, False) for n in ("c", "a", "b")]
    assert [u.name for u in unobtained(files, Mine(set()), {})] == ["a", "b", "c"]


# --- the state that answers it --------------------------------------------------------


def joined(local: list[FileMeta], leftovers: list[tuple[FileMeta, list[int]]],
           files: list[FileSummary]) -> PeerState:
    state = PeerState(Settings().peer_settings(), 1.0, local, leftovers, {}, 20001, 0.0,
                      random.Random(1))
    state.start()
    state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 0.1)
    state.on_tracker(m.Welcome(3, m.Snapshot(0, tuple(files)), ()), 0.2)
    return state


def swarm_file(meta: FileMeta, available: bool) -> FileSummary:
    return FileSummary(meta.name, meta.size_bytes, meta.digest, available)


def test_the_state_names_what_it_leaves_without_with_the_pieces_it_kept() -> None:
    mine = meta_of_bytes("mine.bin", data(1, 1000))
    half = meta_of_bytes("half.bin", data(2, 4 * MIB))
    never = meta_of_bytes("never.bin", data(3, 4 * MIB))
    state = joined([mine], [(half, [0, 1]), (never, [])],
                   [swarm_file(mine, True), swarm_file(half, False), swarm_file(never, False)])
    pieces = half.layout.pieces
    assert state.unobtained() == [
        Unobtained("half.bin", 4 * MIB, True, 2, pieces),
        Unobtained("never.bin", 4 * MIB, True, 0, never.layout.pieces),
    ]


def test_downloads_that_never_stored_a_piece_are_the_empty_partials() -> None:
    half = meta_of_bytes("half.bin", data(2, 4 * MIB))
    never = meta_of_bytes("never.bin", data(3, 4 * MIB))
    state = joined([], [(half, [0]), (never, [])],
                   [swarm_file(half, False), swarm_file(never, False)])
    assert state.empty_partials() == [never.digest]


def test_a_peer_whose_only_holder_dies_leaves_naming_the_file_it_lacks() -> None:
    content = data(4, 2 * MIB)
    sim = Simulation(Settings(upload_limit_bytes_s=300_000))
    holder = sim.add_peer({"only.bin": content})
    fetcher = sim.add_peer({})
    sim.run(lambda: fetcher.state is not None
            and any(f.held_bytes > 0 for f in fetcher.state.progress()), limit_s=30)
    sim.kill(holder)
    sim.run(lambda: fetcher.state is not None and fetcher.state.done, limit_s=60)
    assert fetcher.state is not None and fetcher.state.exit_code == 0
    (missing,) = fetcher.state.unobtained()
    assert missing.name == "only.bin" and missing.stranded
    assert 0 < missing.pieces_kept < missing.pieces
    assert fetcher.state.empty_partials() == []
