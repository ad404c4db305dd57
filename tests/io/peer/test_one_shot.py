"""The one-shot clients on a real file system: a get never writes over a
file, a seed names its files as the swarm will know them."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm.config import Settings
from swarm.io.peer import one_shot
from swarm.io.peer.hashing import hash_file


def digest_of(path: Path) -> bytes:
    meta, _ = hash_file(path, path.name)
    return meta.digest


def test_a_get_refuses_to_write_over_another_file(tmp_path: Path) -> None:
    theirs = tmp_path / "swarm" / "a.bin"
    theirs.parent.mkdir()
    theirs.write_bytes(b"the swarm's content")
    into = tmp_path / "into"
    into.mkdir()
    (into / "a.bin").write_bytes(b"mine")
    code, placed = one_shot.run_get(Settings(), "127.0.0.1", 1, {"a.bin": digest_of(theirs)},
                                    into)
    assert (code, placed) == (1, [])
    assert (into / "a.bin").read_bytes() == b"mine"
    assert sorted(p.name for p in into.iterdir()) == ["a.bin"]


def test_a_get_of_files_already_there_only_names_them(tmp_path: Path) -> None:
    """Nothing to fetch: it does not even join (port 1 has no tracker)."""
    into = tmp_path / "into"
    into.mkdir()
    (into / "a.bin").write_bytes(b"same")
    code, placed = one_shot.run_get(Settings(), "127.0.0.1", 1,
                                    {"a.bin": digest_of(into / "a.bin")}, into)
    assert (code, placed) == (0, [into / "a.bin"])


def test_placing_links_and_never_replaces(tmp_path: Path) -> None:
    source = tmp_path / "held"
    source.write_bytes(b"fetched")
    digest = digest_of(source)
    target = tmp_path / "out"
    target.write_bytes(b"something else")
    with pytest.raises(one_shot.GetError, match="not overwriting"):
        one_shot._place(source, target, "held", digest)
    assert target.read_bytes() == b"something else" and source.exists()
    target.unlink()
    one_shot._place(source, target, "held", digest)
    assert target.read_bytes() == b"fetched" and not source.exists()


def test_a_seed_shares_files_under_their_names(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    for folder in ("x", "y"):
        (tmp_path / folder / "report.pdf").write_bytes(folder.encode())
    (tmp_path / ".hidden").write_bytes(b"h")
    one = tmp_path / "x" / "report.pdf"
    assert one_shot.seed_links([one]) == {"report.pdf": one.absolute()}
    with pytest.raises(ValueError, match="same name"):
        one_shot.seed_links([one, tmp_path / "y" / "report.pdf"])
    with pytest.raises(ValueError, match="cannot carry"):
        one_shot.seed_links([tmp_path / ".hidden"])
    with pytest.raises(FileNotFoundError):
        one_shot.seed_links([tmp_path / "missing"])
    with pytest.raises(FileNotFoundError):
        one_shot.seed_links([tmp_path / "x"])
