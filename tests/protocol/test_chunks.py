"""Chunk and piece arithmetic, and ChunkSet checked against a plain set of ints."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarm.protocol.chunks import (
    CHUNK_SIZE_BYTES,
    PIECE_CHUNKS,
    ChunkSet,
    Layout,
    chunk_count,
    pairs,
    union_covers,
)

MIB = 1 << 20
GIB = 1 << 30


def members(ranges: list[tuple[int, int]]) -> set[int]:
    """Every chunk number named by half-open ranges."""
    return {chunk for start, end in ranges for chunk in range(start, end)}


# --- chunk_count and piece size ------------------------------------------------


@pytest.mark.parametrize(
    ("size_bytes", "chunks"),
    [
        (0, 0),
        (1, 1),
        (511, 1),
        (512, 1),
        (513, 2),
        (1024, 2),
        (1025, 3),
        (32 * MIB, 65536),
        (GIB, 2097152),
    ],
)
def test_chunk_count_is_ceil_of_size_over_512(size_bytes: int, chunks: int) -> None:
    assert chunk_count(size_bytes) == chunks


@pytest.mark.parametrize("size_bytes", [0, 1, 512 * 64, MIB, 32 * MIB, GIB, 64 * GIB])
def test_every_file_has_pieces_of_one_mib(size_bytes: int) -> None:
    layout = Layout.for_size(size_bytes)
    assert layout.piece_chunks == PIECE_CHUNKS
    assert layout.piece_bytes == MIB
    assert layout.pieces == -(-size_bytes // MIB)


# --- Layout ----------------------------------------------------------------------

P = PIECE_CHUNKS  # chunks per piece


def layout_short_last() -> Layout:
    """A file of P + 37 full chunks plus 3 bytes: two pieces, the last one short."""
    layout = Layout.for_size((P + 36) * CHUNK_SIZE_BYTES + 3)
    assert (layout.chunks, layout.piece_chunks, layout.pieces) == (P + 37, P, 2)
    return layout


def test_layout_piece_ranges_with_a_short_last_piece() -> None:
    layout = layout_short_last()
    assert layout.piece_chunk_range(0) == (0, P)
    assert layout.piece_chunk_range(1) == (P, P + 37)
    assert layout.piece_bytes == P * CHUNK_SIZE_BYTES
    assert layout.piece_byte_range(0) == (0, P * CHUNK_SIZE_BYTES)
    assert layout.piece_byte_range(1) == (P * CHUNK_SIZE_BYTES, 36 * CHUNK_SIZE_BYTES + 3)


def test_layout_chunk_byte_range_stops_at_end_of_file() -> None:
    layout = layout_short_last()
    assert layout.chunk_byte_range(0, 2) == (0, 1024)
    assert layout.chunk_byte_range(P + 36, P + 37) == ((P + 36) * CHUNK_SIZE_BYTES, 3)


def test_layout_of_empty_file_has_no_pieces() -> None:
    layout = Layout.for_size(0)
    assert (layout.chunks, layout.pieces) == (0, 0)
    assert layout.pieces_to_chunk_ranges([]) == []


def test_layout_pieces_cover_every_chunk_exactly_once() -> None:
    layout = Layout.for_size(1000 * CHUNK_SIZE_BYTES + 17)
    covered = members([layout.piece_chunk_range(p) for p in range(layout.pieces)])
    assert covered == set(range(layout.chunks))


def test_pieces_to_chunk_ranges_merges_adjacent_pieces() -> None:
    layout = Layout.for_size(5 * P * CHUNK_SIZE_BYTES - 1)  # 5 pieces, last one short
    assert layout.pieces == 5
    # Given out of order on purpose: the result is sorted and merged.
    assert layout.pieces_to_chunk_ranges([4, 0, 1, 3]) == [(0, 2 * P), (3 * P, 5 * P)]
    assert layout.pieces_to_chunk_ranges([2]) == [(2 * P, 3 * P)]
    assert layout.pieces_to_chunk_ranges(range(5)) == [(0, 5 * P)]


def test_whole_pieces_in_counts_only_fully_covered_pieces() -> None:
    layout = layout_short_last()
    assert list(layout.whole_pieces_in([(0, P + 37)])) == [0, 1]
    assert list(layout.whole_pieces_in([(0, P)])) == [0]
    assert list(layout.whole_pieces_in([(1, P)])) == []
    assert list(layout.whole_pieces_in([(0, P + 36)])) == [0]  # last chunk missing
    assert list(layout.whole_pieces_in([(10, 20)])) == []


def test_whole_pieces_in_includes_the_final_short_piece() -> None:
    layout = layout_short_last()
    assert list(layout.whole_pieces_in([(P, P + 37)])) == [1]
    assert list(layout.whole_pieces_in([(0, 30), (P, P + 37)])) == [1]


@given(st.integers(min_value=1, max_value=5000 * CHUNK_SIZE_BYTES), st.data())
def test_whole_pieces_in_inverts_pieces_to_chunk_ranges(
    size_bytes: int, data: st.DataObject
) -> None:
    layout = Layout.for_size(size_bytes)
    pieces = data.draw(st.sets(st.integers(0, layout.pieces - 1)))
    ranges = layout.pieces_to_chunk_ranges(pieces)
    assert sorted(layout.whole_pieces_in(ranges)) == sorted(pieces)


# --- ChunkSet: examples ------------------------------------------------------------


def test_chunkset_add_returns_only_new_subranges() -> None:
    chunks = ChunkSet()
    assert chunks.add(10, 20) == [(10, 20)]
    assert chunks.add(10, 20) == []
    assert chunks.add(5, 25) == [(5, 10), (20, 25)]
    assert chunks.ranges() == [(5, 25)]
    assert len(chunks) == 20


def test_chunkset_add_of_empty_or_inverted_range_changes_nothing() -> None:
    chunks = ChunkSet([(0, 4)])
    assert chunks.add(7, 7) == []
    assert chunks.add(9, 3) == []
    assert chunks.ranges() == [(0, 4)]


def test_chunkset_merges_touching_ranges() -> None:
    chunks = ChunkSet()
    chunks.add(0, 10)
    chunks.add(20, 30)
    assert chunks.ranges() == [(0, 10), (20, 30)]
    assert chunks.add(10, 20) == [(10, 20)]
    assert chunks.ranges() == [(0, 30)]


def test_chunkset_merges_overlaps_spanning_several_ranges() -> None:
    chunks = ChunkSet([(0, 2), (4, 6), (8, 10), (20, 22)])
    assert chunks.add(1, 9) == [(2, 4), (6, 8)]
    assert chunks.ranges() == [(0, 10), (20, 22)]
    assert len(chunks) == 12


def test_chunkset_contains_range_and_membership() -> None:
    chunks = ChunkSet([(0, 10), (20, 30)])
    assert chunks.contains_range(0, 10)
    assert chunks.contains_range(22, 25)
    assert not chunks.contains_range(5, 21)  # crosses the hole
    assert not chunks.contains_range(30, 31)
    assert chunks.contains_range(50, 50)  # an empty range is always held
    assert 0 in chunks and 9 in chunks and 29 in chunks
    assert 10 not in chunks and 30 not in chunks and -1 not in chunks
    assert "3" not in chunks


def test_chunkset_full_and_flat_round_trip() -> None:
    assert ChunkSet.full(0).ranges() == []
    assert ChunkSet.full(7).ranges() == [(0, 7)]
    chunks = ChunkSet([(3, 5), (9, 12)])
    flat = chunks.to_flat()
    assert flat == [3, 5, 9, 12]
    assert pairs(flat) == [(3, 5), (9, 12)]
    assert ChunkSet(pairs(flat)) == chunks
    assert ChunkSet(pairs([])) == ChunkSet()


def test_union_covers() -> None:
    assert union_covers([], 0)
    assert not union_covers([], 1)
    assert union_covers([ChunkSet([(0, 5)]), ChunkSet([(5, 10)])], 10)
    assert union_covers([ChunkSet([(0, 6)]), ChunkSet([(3, 10)])], 10)
    assert not union_covers([ChunkSet([(0, 5)]), ChunkSet([(6, 10)])], 10)
    assert not union_covers([ChunkSet([(1, 10)])], 10)
    assert not union_covers([ChunkSet([(0, 9)])], 10)


# --- ChunkSet against a plain set ------------------------------------------------------

range_bounds = st.tuples(st.integers(0, 60), st.integers(0, 60))


@given(st.lists(range_bounds, max_size=25))
def test_chunkset_matches_a_plain_set(adds: list[tuple[int, int]]) -> None:
    chunks = ChunkSet()
    reference: set[int] = set()
    for start, end in adds:
        new = chunks.add(start, end)
        wanted = set(range(start, end)) - reference
        assert members(new) == wanted
        # The new pieces are sorted, non-empty and separated by held chunks.
        assert all(a < b for a, b in new)
        assert all(prev[1] < following[0] for prev, following in pairwise(new))
        assert sum(b - a for a, b in new) == len(wanted)
        reference |= wanted
        assert len(chunks) == len(reference)
    assert {c for c in range(-2, 64) if c in chunks} == reference
    assert members(chunks.ranges()) == reference
    # Kept ranges never touch: touching ones are merged.
    kept = chunks.ranges()
    assert all(prev[1] < following[0] for prev, following in pairwise(kept))


@given(st.lists(range_bounds, max_size=15), range_bounds)
def test_chunkset_contains_range_matches_a_plain_set(
    adds: list[tuple[int, int]], probe: tuple[int, int]
) -> None:
    chunks = ChunkSet(adds)
    reference = members(adds)
    start, end = probe
    assert chunks.contains_range(start, end) == set(range(start, end)).issubset(reference)


@given(st.lists(range_bounds, max_size=15), range_bounds)
def test_chunkset_clip_matches_a_plain_set(
    adds: list[tuple[int, int]], window: tuple[int, int]
) -> None:
    start, end = window
    clipped = pairs(ChunkSet(adds).clip(start, end))
    assert members(clipped) == members(adds) & set(range(start, end))
    assert ChunkSet(clipped).ranges() == clipped  # already sorted, disjoint, merged


@given(st.lists(range_bounds, max_size=15))
def test_chunkset_flat_round_trip(adds: list[tuple[int, int]]) -> None:
    chunks = ChunkSet(adds)
    assert ChunkSet(pairs(chunks.to_flat())) == chunks


@given(st.lists(st.lists(range_bounds, max_size=5), max_size=4), st.integers(1, 60))
def test_union_covers_matches_a_plain_set(
    sets: list[list[tuple[int, int]]], total_chunks: int
) -> None:
    union = set().union(*(members(adds) for adds in sets))
    expected = set(range(total_chunks)).issubset(union)
    assert union_covers([ChunkSet(adds) for adds in sets], total_chunks) == expected


def test_union_covers_zero_chunks_is_always_true() -> None:
    assert union_covers([ChunkSet([(0, 2)])], 0)
    assert union_covers([ChunkSet([(1, 2)])], 0)
