"""What `swarm ls`, `who` and `status` print, from a Listing."""

from __future__ import annotations

import pytest

from swarm.protocol.messages import FileListing, FileSummary, Listing, PeerSummary
from swarm.tools import report
from swarm.units import human_size

DIGEST_A = bytes.fromhex("ab" * 32)
DIGEST_B = bytes.fromhex("abcd" + "00" * 30)


def listing() -> Listing:
    a = FileSummary("a.bin", 1024, DIGEST_A, True)  # 2 chunks
    b = FileSummary("b file.txt", 5000, DIGEST_B, False)  # 10 chunks
    return Listing(
        7,
        (PeerSummary(1, "tcp://127.0.0.1:1001", ("a.bin",), ()),
         PeerSummary(2, "tcp://127.0.0.1:1002", (), ())),
        (FileListing(a, (1,), ((2, 1),)), FileListing(b, (), ((1, 5),))),
        ((1, 512), (2, 0)),
    )


def test_ls_json_lists_every_file_with_its_holders() -> None:
    out = report.ls_json(listing())
    assert out["event"] == 7
    a, b = out["files"]
    assert a == {"name": "a.bin", "size": 1024, "chunks": 2, "digest": DIGEST_A.hex(),
                 "available": True, "complete_holders": [1],
                 "partial_holders": [{"peer": 2, "chunks": 1}]}
    assert b["available"] is False and b["chunks"] == 10


def test_ls_table_has_a_row_per_file() -> None:
    table = report.ls_table(listing()).splitlines()
    assert table[0].split() == ["NAME", "SIZE", "CHUNKS", "DIGEST", "COMPLETE", "PARTIAL"]
    assert table[1].startswith("a.bin") and "2:50%" in table[1]
    assert table[2].startswith("b file.txt (lost)")


def test_find_file_by_name_or_digest_prefix() -> None:
    data = listing()
    assert report.find_file(data, "a.bin").summary.name == "a.bin"
    assert report.find_file(data, "abab").summary.name == "a.bin"
    assert report.find_file(data, "ABCD").summary.name == "b file.txt"
    with pytest.raises(report.FileNotFound):
        report.find_file(data, "ababx")  # not hex
    with pytest.raises(report.FileNotFound):
        report.find_file(data, "nope")
    with pytest.raises(report.FileNotFound):
        report.find_file(data, "ab")  # too short to be a digest prefix


def test_ambiguous_digest_prefix_is_refused() -> None:
    a = FileSummary("one", 1, bytes.fromhex("ab1200" + "00" * 29), True)
    b = FileSummary("two", 1, bytes.fromhex("ab12ff" + "00" * 29), True)
    data = Listing(1, (), (FileListing(a, (), ()), FileListing(b, (), ())), ())
    with pytest.raises(report.FileNotFound, match="give more digits"):
        report.find_file(data, "ab12")
    assert report.find_file(data, "ab12f").summary.name == "two"


def test_who_json_gives_each_holder_and_its_share() -> None:
    data = listing()
    out = report.who_json(data, report.find_file(data, "a.bin"))
    assert out["holders"] == [
        {"peer": 1, "endpoint": "tcp://127.0.0.1:1001", "chunks": 2, "fraction": 1.0,
         "complete": True},
        {"peer": 2, "endpoint": "tcp://127.0.0.1:1002", "chunks": 1, "fraction": 0.5,
         "complete": False},
    ]
    assert "complete" in report.who_table(data, report.find_file(data, "a.bin"))


def test_status_gives_each_peer_its_holdings_and_the_trackers_rate() -> None:
    status = report.status_json(listing())
    one, two = status["peers"]
    assert one["chunks"] == {"a.bin": 2, "b file.txt": 5}
    assert one["bytes_held"] == 1024 + 5 * 512 and two["bytes_held"] == 512
    assert [p["rate_bytes_s"] for p in status["peers"]] == [512, 0]
    table = report.status_table(status)
    assert "512 B/s" in table and "0 B/s" in table and "a.bin" in table


def test_human_sizes() -> None:
    assert human_size(0) == "0 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(3 << 20) == "3.0 MiB"
