"""SwarmView: the Clone pattern's snapshot + numbered file events, with gaps
and stale events."""

from __future__ import annotations

from swarm.peer.swarm_view import EventResult, SwarmView, ViewChanges
from swarm.protocol import messages as m
from swarm.protocol.events import (
    FILE_TOPIC,
    PEER_TOPIC,
    Availability,
    FileAdded,
    FileCompleted,
    FileRemoved,
)
from swarm.protocol.message_parts import FileSummary
from swarm.protocol.meta import HASH_BYTES


def summary(name: str, available: bool = True) -> FileSummary:
    # The view never checks digests against content: any 32 bytes will do.
    digest = name.encode().ljust(HASH_BYTES, b"\0")[:HASH_BYTES]
    return FileSummary(name, 100, digest, available)


def snapshot(seq: int, files: tuple[FileSummary, ...] = ()) -> m.Snapshot:
    return m.Snapshot(seq, files)


def synced_view(seq: int = 5) -> SwarmView:
    view = SwarmView()
    view.apply_snapshot(snapshot(seq, (summary("a"),)))
    return view


def test_new_view_waits_for_a_snapshot() -> None:
    view = SwarmView()
    assert not view.synced
    assert view.seq == -1


def test_snapshot_then_events_in_order() -> None:
    view = synced_view(5)
    assert view.synced and view.seq == 5
    result, changes = view.on_event(FileAdded(6, summary("b"), 2))
    assert result is EventResult.APPLIED
    assert changes.new_files == ("b",)
    assert view.on_event(Availability(7, "a", False))[0] is EventResult.APPLIED
    assert view.seq == 7
    assert view.available_names() == ["b"]


def test_events_at_or_below_the_snapshot_are_stale() -> None:
    view = synced_view(5)
    for seq in (1, 4, 5):
        result, changes = view.on_event(FileRemoved(seq, "a"))
        assert result is EventResult.STALE and not changes
    assert "a" in view.files
    assert view.seq == 5
    view.on_event(FileAdded(6, summary("b"), 2))
    assert view.on_event(FileAdded(6, summary("b"), 2))[0] is EventResult.STALE  # a repeat


def test_gap_asks_for_a_snapshot_and_drops_events_until_it_comes() -> None:
    view = synced_view(5)
    result, changes = view.on_event(FileRemoved(7, "a"))  # 6 was lost
    assert result is EventResult.GAP and not changes
    assert view.awaiting_snapshot and not view.synced
    assert "a" in view.files  # nothing applied
    assert view.on_event(FileAdded(8, summary("b"), 2))[0] is EventResult.WAITING
    view.apply_snapshot(snapshot(8, (summary("b"),)))
    assert (view.synced, view.seq) == (True, 8)
    assert view.on_event(FileRemoved(9, "b"))[0] is EventResult.APPLIED


def test_events_before_the_first_snapshot_are_kept_and_applied_if_newer() -> None:
    view = SwarmView()
    early = [
        FileAdded(5, summary("old"), 3),  # already inside the snapshot: dropped
        FileAdded(6, summary("new"), 3),
        Availability(7, "old", False),
    ]
    for event in early:
        assert view.on_event(event) == (EventResult.WAITING, ViewChanges())
    changes = view.apply_snapshot(snapshot(5, (summary("old"),)))
    assert view.seq == 7
    assert set(view.files) == {"old", "new"}
    assert view.available_names() == ["new"]
    assert changes.new_files == ("old", "new")


def test_early_events_with_a_gap_after_the_snapshot_ask_again() -> None:
    view = SwarmView()
    view.on_event(FileAdded(9, summary("late"), 3))
    view.apply_snapshot(snapshot(5))
    assert view.awaiting_snapshot  # 6..8 are missing
    assert "late" not in view.files


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


def test_snapshot_reports_new_and_removed_files() -> None:
    view = SwarmView()
    first = view.apply_snapshot(snapshot(3, (summary("a"),)))
    assert first.new_files == ("a",) and first.touched_files == ("a",)
    assert first.removed_files == ()
    second = view.apply_snapshot(snapshot(9, (summary("c"), summary("b"))))
    assert second.new_files == ("b", "c")
    assert second.removed_files == ("a",)
    assert set(view.files) == {"b", "c"}


def test_events_report_new_files() -> None:
    view = synced_view(5)
    _, added = view.on_event(FileAdded(6, summary("b"), 1))
    assert added.new_files == ("b",) and added.touched_files == ("b",)
    # A name the view already has is not new, even if announced again.
    _, again = view.on_event(FileAdded(7, summary("a"), 1))
    assert again.new_files == () and again.touched_files == ("a",)
    assert not ViewChanges()
    assert ViewChanges(removed_files=("a",))


def test_availability_of_an_unknown_file_changes_nothing() -> None:
    view = synced_view(5)
    result, changes = view.on_event(Availability(6, "ghost", True))
    assert result is EventResult.APPLIED
    assert "ghost" not in view.files
    assert changes.touched_files == ("ghost",)


def test_removals() -> None:
    view = SwarmView()
    view.apply_snapshot(snapshot(5, (summary("a"), summary("b"))))
    result, changes = view.on_event(FileRemoved(6, "b"))
    assert result is EventResult.APPLIED
    assert changes == ViewChanges(removed_files=("b",))
    assert list(view.files) == ["a"]
    # Removed again (a late duplicate in a resync): nothing to do.
    assert view.on_event(FileRemoved(7, "b"))[1] == ViewChanges()


def test_events_of_the_peer_topic_change_nothing_in_a_peer_view() -> None:
    """A peer subscribes to the file topic only; should another event reach
    it, it is numbered on another topic and means nothing here."""
    view = synced_view(5)
    assert FileCompleted.TOPIC == PEER_TOPIC and FileAdded.TOPIC == FILE_TOPIC
    other = view.on_event(FileCompleted(6, 2, "a"))
    assert other == (EventResult.OTHER_TOPIC, ViewChanges())
    assert view.seq == 5 and view.synced


def test_a_snapshot_after_a_reset_calls_only_unheard_names_new() -> None:
    """A tracker started again lists the files it learns of anew: none of
    them is a new file of the swarm, which would restart rule (c)."""
    view = synced_view(40)
    view.on_event(FileAdded(41, summary("b"), 2))
    view.reset()
    view.reset()  # joining again twice before a welcome forgets nothing either
    changes = view.apply_snapshot(snapshot(3, (summary("b"), summary("c"), summary("a"))))
    assert changes.new_files == ("c",)
    assert changes.touched_files == ("a", "b", "c") and changes.removed_files == ()
    view.reset()
    assert view.apply_snapshot(snapshot(1, ())).removed_files == ()  # not said gone either
