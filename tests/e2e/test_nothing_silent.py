"""End-to-end: nothing is skipped in silence.  What Shared holds that is not
shared is named once, with the reason; a peer that leaves without a file
nobody living could serve says so; it leaves no empty partial file behind;
and a missing Shared is created, with a word."""

from __future__ import annotations

import os
import re
import signal

from swarm.config import Settings
from tests.e2e.harness import (
    PEER_SH,
    Swarm,
    no_partial_data,
    parse_shutdown,
    random_bytes,
    start,
    wait_for,
)

LINK_LINE = ("not sharing 'link.bin': a symbolic link (links are not followed; the setting "
             "follow_symlinks shares what they point to)")


def not_sharing(stderr: str, level: str) -> list[str]:
    """The 'not sharing' lines said at ``level``, without time and pid."""
    return [line.split(f" {level} ", 1)[1] for line in stderr.splitlines()
            if f" {level} not sharing " in line]


def test_entries_of_shared_that_are_not_shared_are_named_once_each(swarm: Swarm) -> None:
    swarm.start_tracker()
    shared = swarm.root / "peer1" / "Shared"
    (shared / "album").mkdir(parents=True)
    (shared / "album" / "track.bin").write_bytes(b"in a subfolder")
    (shared / ".draft").write_bytes(b"hidden")
    os.symlink("offered.bin", shared / "link.bin")
    # A quiet period of 3 s: several looks at Shared before it leaves.
    peer = swarm.start_peer({"offered.bin": random_bytes(1, 2000)}, quiet_s=3.0, name="peer1")
    assert peer.proc.wait(30) == 0
    assert parse_shutdown(peer.proc.stdout())[1] == ["offered.bin"]
    stderr = peer.proc.stderr()
    # A choice, and said at every start: info.  A link: a warning.
    assert sorted(not_sharing(stderr, "INFO")) == [
        "not sharing '.draft': hidden (its name starts with a dot)",
        "not sharing 'album': a folder (subfolders are not shared)",
    ]
    assert not_sharing(stderr, "WARNING") == [LINK_LINE]


def test_a_link_and_a_fifo_in_shared_are_said_at_the_default_level(swarm: Swarm) -> None:
    """What a user sees with no settings: why the file they linked into
    Shared never reached the swarm, and the setting that would share it."""
    default = Settings().log_level
    assert default == "warning"
    swarm.start_tracker()
    shared = swarm.root / "linker" / "Shared"
    shared.mkdir(parents=True)
    (shared / "album").mkdir()
    (shared / ".draft").write_bytes(b"hidden")
    os.symlink(swarm.root / "elsewhere.bin", shared / "link.bin")
    os.mkfifo(shared / "pipe")
    peer = swarm.start_peer({"offered.bin": random_bytes(3, 2000)}, quiet_s=3.0, name="linker",
                            env={"SWARM_LOG_LEVEL": default})
    assert peer.proc.wait(30) == 0
    assert parse_shutdown(peer.proc.stdout())[1] == ["offered.bin"]
    stderr = peer.proc.stderr()
    assert not_sharing(stderr, "WARNING") == [
        LINK_LINE, "not sharing 'pipe': not a regular file but a FIFO"]
    assert " INFO " not in stderr  # hidden entries and folders: not at this level
    line = next(line for line in stderr.splitlines() if "'link.bin'" in line)
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} swarm-peer\[\d+\] WARNING " + re.escape(LINK_LINE),
                        line), line
    print(f"\nFIGURES the line a user sees for a link in Shared:\n{line}")


def test_a_peer_whose_only_holder_died_says_what_it_lacks_and_leaves_no_empty_part(
        swarm: Swarm) -> None:
    # Five missed heartbeats before the holder is declared dead: time for
    # the newcomer to join while the file is still listed as available.
    swarm.start_tracker(env={"SWARM_EXPIRY_MISSES": "5"})
    holder = swarm.start_peer({"only.bin": random_bytes(2, 64 * 1024)}, quiet_s=30.0)
    swarm.wait_connects(1)
    holder.proc.signal(signal.SIGKILL)
    holder.proc.wait(10)

    cwd = swarm.root / "newcomer"  # no Shared folder at all
    newcomer = start("newcomer", ["sh", str(PEER_SH), "127.0.0.1", str(swarm.port), "1"], cwd,
                     swarm.env)
    try:
        partial = cwd / ".swarm" / "partial"
        wait_for(lambda: partial.is_dir() and any(partial.glob("*.part")), 20,
                 "the newcomer to start its download")
        assert newcomer.wait(30) == 0
    finally:
        newcomer.kill_group()
    assert parse_shutdown(newcomer.stdout())[1] == []
    stderr = newcomer.stderr()
    assert "INFO created the shared folder" in stderr
    assert (cwd / "Shared").is_dir()
    warnings = [line.split(" WARNING ", 1)[1] for line in stderr.splitlines()
                if " WARNING leaving without " in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("leaving without 'only.bin' (")
    assert warnings[0].endswith("): no living peer holds it; nothing of it was received")
    assert no_partial_data(cwd), "no empty partial file is left behind"
    assert not (cwd / ".swarm").exists(), "nor an empty state folder"
