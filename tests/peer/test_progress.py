"""The status line: what a peer does and why it stays, in words."""

from __future__ import annotations

from swarm.peer.progress import PeerStatus, status_line


def status(**changes: object) -> PeerStatus:
    base = PeerStatus(joined=True, holds=3, fetching=0, waiting_files=0, serving_peers=2,
                      leaving=False, quiet_left_s=None, tracker_reason=None,
                      waiting_for_tracker=False)
    return base.replace(**changes)


def test_seeding_and_waiting_says_why_and_for_how_long() -> None:
    line = status_line(status(tracker_reason="1 peer still lacks 'a.bin'", quiet_left_s=11.2))
    assert line == ("seeding 3 files to 2 peers · waiting: 1 peer still lacks 'a.bin'"
                    " · quiet period ends in 12 s")


def test_the_trackers_detailed_words_are_not_prefixed_twice() -> None:
    line = status_line(status(tracker_reason="waiting for peer 3 (a.bin 61 %) and 1 more"))
    assert line == "seeding 3 files to 2 peers · waiting for peer 3 (a.bin 61 %) and 1 more"


def test_fetching_counts_the_queued_files() -> None:
    line = status_line(status(serving_peers=0, holds=1, fetching=8, waiting_files=4))
    assert line == "holding 1 file · fetching 8 files, 4 queued"


def test_long_quiet_periods_read_in_minutes_and_the_end_is_named() -> None:
    assert status_line(status(quiet_left_s=125.0)).endswith("quiet period ends in 2 min 05 s")
    assert status_line(status(serving_peers=1, holds=1)) == "seeding 1 file to 1 peer · leaving"
    assert status_line(status(joined=False)) == "joining the swarm"
    assert status_line(status(leaving=True)) == "leaving: saying goodbye to the tracker"
    assert status_line(status(waiting_for_tracker=True)).endswith(
        "waiting for the tracker's word on leaving")
