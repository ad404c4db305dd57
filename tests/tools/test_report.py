"""What `swarm ls`, `who` and `status` print for people, from a Listing (the
JSON they print with --json: tests/tracker/test_listing_json.py)."""

from __future__ import annotations

from swarm.protocol.message_parts import FileListing, FileSummary, PeerSummary, PeerTraffic
from swarm.protocol.messages import Listing
from swarm.tools import report
from swarm.tracker import listing_json
from swarm.units import human_size
from tests.tracker.test_listing_json import DIGEST_A, listing, traffic_free


def test_ls_table_has_a_row_per_file() -> None:
    table = report.ls_table(listing()).splitlines()
    assert table[0].split() == ["NAME", "SIZE", "CHUNKS", "DIGEST", "COMPLETE", "PARTIAL"]
    assert table[1].startswith("a.bin") and "2:50%" in table[1]
    assert table[2].startswith("b file.txt (lost)")


def test_who_json_gives_each_holder_and_its_share() -> None:
    data = listing()
    out = listing_json.who_json(data, listing_json.find_file(data, "a.bin"))
    assert out["holders"] == [
        {"peer": 1, "endpoint": "tcp://127.0.0.1:1001", "chunks": 2, "fraction": 1.0,
         "complete": True},
        {"peer": 2, "endpoint": "tcp://127.0.0.1:1002", "chunks": 1, "fraction": 0.5,
         "complete": False},
    ]
    assert "complete" in report.who_table(data, listing_json.find_file(data, "a.bin"))


def test_status_gives_each_peer_its_holdings_and_both_directions() -> None:
    status = listing_json.status_json(listing())
    one, two = status["peers"]
    assert one["chunks"] == {"a.bin": 2, "b file.txt": 5}
    assert one["bytes_held"] == 1024 + 5 * 512 and two["bytes_held"] == 512
    assert (one["recv_bytes_s"], one["send_bytes_s"]) == (512, 256)
    assert (one["received_bytes"], one["sent_bytes"]) == (4096, 8192)
    assert (two["recv_bytes_s"], two["send_bytes_s"]) == (0, 0)
    table = report.status_table(status)
    assert "RECV" in table and "SEND" in table
    assert "512 B/s" in table and "256 B/s" in table and "a.bin" in table


def test_status_totals_for_the_whole_swarm() -> None:
    totals = listing_json.status_json(listing())["totals"]
    assert totals == {"peers": 2, "files": 2, "moved_bytes": 9000, "recv_bytes_s": 512,
                      "send_bytes_s": 256, "remaining_bytes": 512 + 2440 + 5000,
                      "eta_s": None}  # a lost file is never done
    table = report.status_table(listing_json.status_json(listing()))
    total_line = table.splitlines()[-1]
    assert total_line.startswith("total: moved 8.8 KiB, receiving 512 B/s, sending 256 B/s")
    assert total_line.endswith("ETA \u2014")


def test_eta_is_a_dash_when_nothing_arrives_and_done_when_nothing_remains() -> None:
    a = FileSummary("a.bin", 1 << 20, DIGEST_A, True)
    peers = (PeerSummary(1, "tcp://127.0.0.1:1001", ("a.bin",), ()),
             PeerSummary(2, "tcp://127.0.0.1:1002", (), ()))
    stalled = listing_json.status_json(
        traffic_free((FileListing(a, (1,), ((2, 100),)),), peers, {}))
    assert stalled["files"][0]["eta_s"] is None and stalled["totals"]["eta_s"] is None
    rows = report.status_table(stalled).splitlines()
    file_row = next(r for r in rows if r.startswith("a.bin"))
    assert file_row.split()[6] == "\u2014"  # FILE, SIZE (2 words), COPIES, RECV (2), ETA
    assert rows[-1].endswith("ETA \u2014")

    moving = listing_json.status_json(traffic_free((FileListing(a, (1,), ((2, 100),), 1 << 19),),
                                             peers, {2: 1 << 19}))
    remaining = (1 << 20) - 100 * 512
    assert moving["files"][0]["eta_s"] == remaining / (1 << 19)
    assert moving["totals"]["eta_s"] == remaining / (1 << 19)
    assert "0.5 MiB/s" not in report.status_table(moving)  # sizes keep one unit style
    assert "512.0 KiB/s" in report.status_table(moving)

    whole = (PeerSummary(1, "tcp://127.0.0.1:1001", ("a.bin",), ()),
             PeerSummary(2, "tcp://127.0.0.1:1002", ("a.bin",), ()))
    done = listing_json.status_json(traffic_free((FileListing(a, (1, 2), ()),), whole, {}))
    assert done["files"][0]["eta_s"] == 0 and done["totals"]["eta_s"] == 0
    assert done["files"][0]["lacking"] == []
    rows = report.status_table(done).splitlines()
    assert next(r for r in rows if r.startswith("a.bin")).split()[6] == "done"
    assert rows[-1].endswith("ETA done")


def test_human_eta() -> None:
    assert report.human_eta(None) == "\u2014"
    assert report.human_eta(0) == "0s"
    assert report.human_eta(0.2) == "1s"  # rounded up: never "0s" while bytes remain
    assert report.human_eta(59) == "59s"
    assert report.human_eta(185) == "3m05s"
    assert report.human_eta(2 * 3600 + 600) == "2h10m"
    assert report.human_eta(5 * 86400) == "5d"


def wide_swarm(peers: int, files: int) -> Listing:
    names = [f"file number {i} with a name longer than the column.bin" for i in range(files)]
    summaries = [FileSummary(n, (i + 1) << 24, bytes([i]) * 32, True)
                 for i, n in enumerate(names)]
    listings = tuple(FileListing(s, (1,), tuple((p, 9999) for p in range(2, peers + 1)), 1 << 20)
                     for s in summaries)
    members = tuple(PeerSummary(p, f"tcp://127.0.0.1:{40000 + p}",
                                tuple(names) if p == 1 else (), ()) for p in range(1, peers + 1))
    traffic = tuple(PeerTraffic(p, 1 << 20, 1 << 20, 1 << 30, 1 << 30)
                    for p in range(1, peers + 1))
    return Listing(99, members, listings, traffic, 1 << 40)


def test_status_table_fits_100_columns_for_8_peers_and_8_files() -> None:
    table = report.status_table(listing_json.status_json(wide_swarm(8, 8)))
    lines = table.splitlines()
    assert max(map(len, lines)) <= report.STATUS_WIDTH
    assert sum(1 for line in lines if line.startswith("file number")) == 8
    assert len([line for line in lines if line[:1].isdigit()]) == 8 + 1  # peers, and the header
    assert "7 peer" not in table and "more" not in table
    for unit in (" kB", " MB", " M ", "MB/s", "kB/s"):
        assert unit not in table


def test_status_table_cuts_64_peers_short_and_says_so() -> None:
    status = listing_json.status_json(wide_swarm(64, 3))
    assert len(status["peers"]) == 64  # JSON keeps every one
    lines = report.status_table(status).splitlines()
    assert max(map(len, lines)) <= report.STATUS_WIDTH
    peer_rows = [line for line in lines if line[:1].isdigit()][1:]  # past the heading line
    assert len(peer_rows) == report.MAX_STATUS_ROWS - 1
    hidden = 64 - (report.MAX_STATUS_ROWS - 1)
    assert f"\u2026 {hidden} more peers (--json lists all)" in lines
    file_rows = [line for line in lines if line.startswith("file number")]
    assert all(row.split()[-1].startswith("+") for row in file_rows)  # lackers not shown
    assert lines[-1].startswith("total: moved 1024.0 GiB, receiving 64.0 MiB/s")


def test_human_sizes() -> None:
    assert human_size(0) == "0 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(3 << 20) == "3.0 MiB"


def test_a_live_table_fits_the_terminal_it_is_drawn_on() -> None:
    status = listing_json.status_json(wide_swarm(64, 30))
    for lines, columns in ((24, 80), (40, 100), (10, 80)):
        rows = report.rows_for_terminal(lines)
        table = report.status_table(status, rows, columns).splitlines()
        assert len(table) <= max(lines, 2 * report.MIN_STATUS_ROWS + report.STATUS_FIXED_LINES)
        file_rows = [line for line in table if line.startswith("file number")]
        assert len(file_rows) == rows - 1  # and a line that says how many more
        assert max(map(len, table)) <= columns
    assert report.rows_for_terminal(200) == report.MAX_STATUS_ROWS
