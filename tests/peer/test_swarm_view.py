"""SwarmView: the Clone pattern's snapshot + numbered events, with gaps and stale events."""

from __future__ import annotations

from swarm.peer.swarm_view import EventResult, SwarmView, ViewChanges
from swarm.protocol import messages as m
from swarm.protocol.meta import HASH_BYTES

ENDPOINT = "tcp://127.0.0.1:7000"


def summary(name: str, available: bool = True) -> m.FileSummary:
    # The view never checks digests against content: any 32 bytes will do.
    digest = name.encode().ljust(HASH_BYTES, b"\0")[:HASH_BYTES]
    return m.FileSummary(name, 100, digest, available)


def snapshot(seq: int, peers: dict[int, tuple[str, ...]] | None = None,
             files: tuple[m.FileSummary, ...] = ()) -> m.Snapshot:
    """A snapshot with the given peers (id -> complete names) and files."""
    summaries = tuple(
        m.PeerSummary(pid, ENDPOINT, complete, ()) for pid, complete in (peers or {}).items()
    )
    return m.Snapshot(seq, summaries, files)


def synced_view(seq: int = 5) -> SwarmView:
    view = SwarmView()
    view.apply_snapshot(snapshot(seq, {1: ("a",)}, (summary("a"),)))
    return view


def test_new_view_waits_for_a_snapshot() -> None:
    view = SwarmView()
    assert not view.synced
    assert view.seq == -1


def test_snapshot_then_events_in_order() -> None:
    view = synced_view(5)
    assert view.synced and view.seq == 5
    assert view.on_event(m.PeerJoined(6, 2, ENDPOINT)) == (EventResult.APPLIED, ViewChanges())
    result, changes = view.on_event(m.FileAdded(7, summary("b"), 2))
    assert result is EventResult.APPLIED
    assert changes.new_files == ("b",)
    result, changes = view.on_event(m.FileCompleted(8, 2, "b"))
    assert result is EventResult.APPLIED and changes.touched_files == ("b",)
    assert view.on_event(m.Availability(9, "a", False))[0] is EventResult.APPLIED
    assert view.on_event(m.Excused(10, 2, "a"))[0] is EventResult.APPLIED
    assert view.seq == 10
    assert view.peers[2].complete == {"b"}
    assert view.peers[2].excused == {"a"}
    assert view.available_names() == ["b"]


def test_events_at_or_below_the_snapshot_are_stale() -> None:
    view = synced_view(5)
    for seq in (1, 4, 5):
        result, changes = view.on_event(m.PeerLeft(seq, 1))
        assert result is EventResult.STALE and not changes
    assert 1 in view.peers
    assert view.seq == 5
    view.on_event(m.PeerJoined(6, 2, ENDPOINT))
    assert view.on_event(m.PeerJoined(6, 2, ENDPOINT))[0] is EventResult.STALE  # a repeat


def test_gap_asks_for_a_snapshot_and_drops_events_until_it_comes() -> None:
    view = synced_view(5)
    result, changes = view.on_event(m.PeerLeft(7, 1))  # 6 was lost
    assert result is EventResult.GAP and not changes
    assert view.awaiting_snapshot and not view.synced
    assert 1 in view.peers  # nothing applied
    assert view.on_event(m.PeerJoined(8, 2, ENDPOINT))[0] is EventResult.WAITING
    view.apply_snapshot(snapshot(8, {2: ()}))
    assert (view.synced, view.seq) == (True, 8)
    assert view.on_event(m.PeerLeft(9, 2))[0] is EventResult.APPLIED


def test_events_before_the_first_snapshot_are_kept_and_applied_if_newer() -> None:
    view = SwarmView()
    early = [
        m.PeerJoined(4, 3, ENDPOINT),  # already inside the snapshot: dropped
        m.FileAdded(5, summary("old"), 3),  # likewise
        m.FileAdded(6, summary("new"), 3),
        m.PeerLeft(7, 1),
    ]
    for event in early:
        assert view.on_event(event) == (EventResult.WAITING, ViewChanges())
    changes = view.apply_snapshot(snapshot(5, {1: ("old",), 3: ()}, (summary("old"),)))
    assert view.seq == 7
    assert set(view.files) == {"old", "new"}
    assert set(view.peers) == {3}
    assert changes.new_files == ("old", "new")
    assert changes.left_peers == (1,)


def test_early_events_with_a_gap_after_the_snapshot_ask_again() -> None:
    view = SwarmView()
    view.on_event(m.PeerJoined(9, 3, ENDPOINT))
    view.apply_snapshot(snapshot(5))
    assert view.awaiting_snapshot  # 6..8 are missing
    assert 3 not in view.peers


def test_note_seq_newer_than_the_view_requests_a_resync() -> None:
    view = synced_view(5)
    assert not view.note_seq(4)
    assert not view.note_seq(5)
    assert view.synced
    assert view.note_seq(6)
    assert view.awaiting_snapshot
    assert not view.note_seq(7)  # already waiting: do not ask twice
    view.apply_snapshot(snapshot(7))
    assert view.synced and view.seq == 7


def test_note_seq_before_any_snapshot_does_nothing() -> None:
    view = SwarmView()
    assert not view.note_seq(3)


def test_snapshot_reports_new_files_and_left_peers() -> None:
    view = SwarmView()
    first = view.apply_snapshot(snapshot(3, {1: ("a",), 2: ()}, (summary("a"),)))
    assert first.new_files == ("a",)
    assert first.left_peers == ()
    assert first.touched_files == ("a",)
    second = view.apply_snapshot(
        snapshot(9, {2: ("a",), 4: ()}, (summary("a"), summary("c"), summary("b")))
    )
    assert second.new_files == ("b", "c")
    assert second.left_peers == (1,)
    assert set(view.peers) == {2, 4}
    assert view.peers[2].complete == {"a"}


def test_events_report_new_files_and_left_peers() -> None:
    view = synced_view(5)
    _, added = view.on_event(m.FileAdded(6, summary("b"), 1))
    assert added.new_files == ("b",) and added.touched_files == ("b",)
    # A name the view already has is not new, even if announced again.
    _, again = view.on_event(m.FileAdded(7, summary("a"), 1))
    assert again.new_files == () and again.touched_files == ("a",)
    _, left = view.on_event(m.PeerLeft(8, 1))
    assert left.left_peers == (1,) and left.new_files == ()
    assert 1 not in view.peers
    assert not ViewChanges()
    assert ViewChanges(left_peers=(1,))


def test_availability_of_an_unknown_file_changes_nothing() -> None:
    view = synced_view(5)
    result, changes = view.on_event(m.Availability(6, "ghost", True))
    assert result is EventResult.APPLIED
    assert "ghost" not in view.files
    assert changes.touched_files == ("ghost",)


def test_excuses_withdrawals_and_removals() -> None:
    view = SwarmView()
    view.apply_snapshot(snapshot(5, {1: ("a", "b"), 2: ("a",)}, (summary("a"), summary("b"))))
    assert view.on_event(m.Excused(6, 2, "b"))[1] == ViewChanges(touched_files=("b",))
    assert view.on_event(m.ExcuseWithdrawn(7, 2, "b"))[1] == ViewChanges(touched_files=("b",))
    assert view.peers[2].excused == set()
    result, changes = view.on_event(m.FileDropped(8, 1, "a"))
    assert result is EventResult.APPLIED
    assert changes == ViewChanges(dropped=((1, "a"),), touched_files=("a",))
    assert view.peers[1].complete == {"b"}
    view.on_event(m.Excused(9, 2, "b"))
    result, changes = view.on_event(m.FileRemoved(10, "b"))
    assert changes == ViewChanges(removed_files=("b",))
    assert list(view.files) == ["a"]
    assert view.peers[1].complete == set() and view.peers[2].excused == set()
    # Removed again (a late duplicate in a resync): nothing to do.
    assert view.on_event(m.FileRemoved(11, "b"))[1] == ViewChanges()


def test_a_snapshot_without_a_file_removes_it() -> None:
    view = synced_view(5)
    changes = view.apply_snapshot(snapshot(9, {1: ()}, ()))
    assert changes.removed_files == ("a",)
    assert view.files == {}
