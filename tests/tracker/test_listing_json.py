"""What `swarm ls`, `who` and `status` print with --json (and /api/status
serves), from a Listing."""

from __future__ import annotations

import pytest

from swarm.protocol.message_parts import FileListing, FileSummary, PeerSummary, PeerTraffic
from swarm.protocol.messages import Listing
from swarm.protocol.roles import ROLE_GET, ROLE_SEED
from swarm.tracker import listing_json

DIGEST_A = bytes.fromhex("ab" * 32)
DIGEST_B = bytes.fromhex("abcd" + "00" * 30)


def listing() -> Listing:
    a = FileSummary("a.bin", 1024, DIGEST_A, True)  # 2 chunks
    b = FileSummary("b file.txt", 5000, DIGEST_B, False)  # 10 chunks
    return Listing(
        7,
        (PeerSummary(1, "tcp://127.0.0.1:1001", ("a.bin",), ()),
         PeerSummary(2, "tcp://127.0.0.1:1002", (), ())),
        (FileListing(a, (1,), ((2, 1),), 256), FileListing(b, (), ((1, 5),))),
        (PeerTraffic(1, 512, 256, 4096, 8192), PeerTraffic(2, 0, 0, 512, 0)),
        9000,
    )


def test_ls_json_lists_every_file_with_its_holders() -> None:
    out = listing_json.ls_json(listing())
    assert out["event"] == 7
    a, b = out["files"]
    assert a == {"name": "a.bin", "size": 1024, "chunks": 2, "digest": DIGEST_A.hex(),
                 "available": True, "complete_holders": [1],
                 "partial_holders": [{"peer": 2, "chunks": 1}]}
    assert b["available"] is False and b["chunks"] == 10


def test_find_file_by_name_or_digest_prefix() -> None:
    data = listing()
    assert listing_json.find_file(data, "a.bin").summary.name == "a.bin"
    assert listing_json.find_file(data, "abab").summary.name == "a.bin"
    assert listing_json.find_file(data, "ABCD").summary.name == "b file.txt"
    with pytest.raises(listing_json.FileNotFound):
        listing_json.find_file(data, "ababx")  # not hex
    with pytest.raises(listing_json.FileNotFound):
        listing_json.find_file(data, "nope")
    with pytest.raises(listing_json.FileNotFound):
        listing_json.find_file(data, "ab")  # too short to be a digest prefix


def test_ambiguous_digest_prefix_is_refused() -> None:
    a = FileSummary("one", 1, bytes.fromhex("ab1200" + "00" * 29), True)
    b = FileSummary("two", 1, bytes.fromhex("ab12ff" + "00" * 29), True)
    data = Listing(1, (), (FileListing(a, (), ()), FileListing(b, (), ())), ())
    with pytest.raises(listing_json.FileNotFound, match="give more digits"):
        listing_json.find_file(data, "ab12")
    assert listing_json.find_file(data, "ab12f").summary.name == "two"


def test_status_gives_each_file_what_remains_and_when_it_should_be_done() -> None:
    a, b = listing_json.status_json(listing())["files"]
    # a.bin (1,024 bytes): peer 2 holds one chunk of two; 256 B/s arrive.
    assert a["lacking"] == [2] and a["remaining_bytes"] == 512
    assert a["recv_bytes_s"] == 256 and a["eta_s"] == 2.0
    # b file.txt: nobody has it whole, nobody covers it: no time can be told.
    assert b["lacking"] == [1, 2]
    assert b["remaining_bytes"] == (5000 - 5 * 512) + 5000
    assert b["eta_s"] is None


def traffic_free(files: tuple[FileListing, ...], peers: tuple[PeerSummary, ...],
                 rates: dict[int, int]) -> Listing:
    return Listing(3, peers, files,
                   tuple(PeerTraffic(p.peer_id, rates.get(p.peer_id, 0), 0, 0, 0) for p in peers))


def test_an_excused_peer_is_not_waited_for() -> None:
    a = FileSummary("a.bin", 1024, DIGEST_A, True)
    peers = (PeerSummary(1, "tcp://127.0.0.1:1001", ("a.bin",), ()),
             PeerSummary(2, "tcp://127.0.0.1:1002", (), ("a.bin",)))
    status = listing_json.status_json(traffic_free((FileListing(a, (1,), ()),), peers, {}))
    assert status["files"][0]["remaining_bytes"] == 0
    assert status["totals"]["eta_s"] == 0


def test_a_seed_lacks_nothing_and_a_get_only_what_it_began() -> None:
    a = FileSummary("a.bin", 1024, DIGEST_A, True)
    b = FileSummary("b file.txt", 5000, DIGEST_B, True)
    peers = (PeerSummary(1, "tcp://127.0.0.1:1001", ("a.bin", "b file.txt"), ()),
             PeerSummary(2, "tcp://127.0.0.1:1002", (), (), ROLE_SEED),
             PeerSummary(3, "tcp://127.0.0.1:1003", (), (), ROLE_GET))
    files = (FileListing(a, (1,), ((3, 1),)), FileListing(b, (1,), ()))
    status = listing_json.status_json(traffic_free(files, peers, {}))
    assert [p["role"] for p in status["peers"]] == ["peer", "seed", "get"]
    got_a, got_b = status["files"]
    assert got_a["lacking"] == [3] and got_a["remaining_bytes"] == 512
    assert got_b["lacking"] == [] and got_b["eta_s"] == 0
