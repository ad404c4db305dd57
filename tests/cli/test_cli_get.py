"""How `swarm get` reads the files it is asked for, against a listing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from swarm.cli.run import wanted_files
from swarm.protocol.message_parts import FileSummary
from swarm.protocol.meta import meta_of_bytes
from swarm.tracker.listing_json import FileNotFound

A = meta_of_bytes("a.bin", b"a" * 1000)
B = meta_of_bytes("b.bin", b"b" * 1000)
LISTING = SimpleNamespace(files=[
    SimpleNamespace(summary=FileSummary("a.bin", A.size_bytes, A.digest, True)),
    SimpleNamespace(summary=FileSummary("b.bin", B.size_bytes, B.digest, False)),
])


def test_names_and_digest_prefixes_name_files() -> None:
    assert wanted_files(LISTING, ["a.bin"]) == {"a.bin": A.digest}
    assert wanted_files(LISTING, [A.digest.hex()[:6], "a.bin"]) == {"a.bin": A.digest}


def test_an_unknown_name_or_a_short_prefix_is_refused() -> None:
    with pytest.raises(FileNotFound, match=r"no file named 'c\.bin'"):
        wanted_files(LISTING, ["a.bin", "c.bin"])
    with pytest.raises(FileNotFound):
        wanted_files(LISTING, [A.digest.hex()[:3]])


def test_a_file_no_living_peer_covers_is_refused() -> None:
    with pytest.raises(FileNotFound, match=r"'b\.bin' is not available"):
        wanted_files(LISTING, ["b.bin"])
