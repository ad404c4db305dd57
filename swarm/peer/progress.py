"""What a peer is doing, as the state reports it for a person to read: a
record per download (the bars) and one for the peer as a whole (the status
line), and the words of that line; and the figures of a run, said when it
ends.  Pure: the terminal is drawn elsewhere."""

from __future__ import annotations

from swarm.peer.transfer_plan import TransferPlan
from swarm.protocol.record import Record


class FileProgress(Record):
    """One download, as the bars show it."""

    key: bytes
    name: str
    size_bytes: int
    held_bytes: int
    sources: int
    done: bool
    # Held before this run fetched anything (resumed from an earlier run):
    # shown as resumed, never counted into a rate.
    resumed_bytes: int = 0


def download_progress(plan: TransferPlan) -> list[FileProgress]:
    """The downloads under way, for progress bars."""
    out = []
    for digest, download in plan.downloads.items():
        layout = download.layout
        held = min(layout.size_bytes, (layout.pieces - download.missing) * layout.piece_bytes)
        resumed = min(layout.size_bytes, download.resumed_pieces * layout.piece_bytes)
        out.append(FileProgress(digest, download.meta.name, layout.size_bytes, held,
                                len(download.sources()), download.done, resumed))
    return out


def transfer_summary(peer_id: int, plan: TransferPlan) -> str:
    """The transfer figures of a run, for stderr (tests and benchmarks read them)."""
    banned = sorted(pid for pid, s in plan.sources.items() if s.banned)
    return (
        f"summary: peer {peer_id} received {plan.pieces_good} pieces "
        f"({plan.chunks_good} chunks); fetched twice {plan.chunks_wasted} chunks; "
        f"bad pieces {plan.bad_pieces}; timeouts {plan.timeouts}; "
        f"end-game duplicates {plan.duplicate_requests}; banned {banned or 'none'}"
    )


class PeerStatus(Record):
    """Why the peer is still here, in parts the status line puts into words."""

    joined: bool  # the tracker gave it an id
    holds: int  # files it holds whole
    fetching: int  # downloads under way
    waiting_files: int  # files to fetch once a download slot frees
    serving_peers: int  # peers it sent data to in the last few seconds
    leaving: bool  # its goodbye is out
    quiet_left_s: float | None  # until rule (c) holds, if it does not yet
    tracker_reason: str | None  # why rules (a)/(b) do not hold, as the tracker said
    waiting_for_tracker: bool  # no word on rules (a) and (b) yet


def status_line(status: PeerStatus) -> str:
    """The live line under the bars: what the peer does and why it stays,
    with time left in seconds from now (never a clock value)."""
    if not status.joined:
        return "joining the swarm"
    if status.leaving:
        return "leaving: saying goodbye to the tracker"
    parts = []
    files = plural(status.holds, "file")
    if status.serving_peers:
        parts.append(f"seeding {files} to {plural(status.serving_peers, 'peer')}")
    else:
        parts.append(f"holding {files}")
    if status.fetching:
        waiting = f", {status.waiting_files} queued" if status.waiting_files else ""
        parts.append(f"fetching {plural(status.fetching, 'file')}{waiting}")
    elif status.tracker_reason:
        reason = status.tracker_reason
        parts.append(reason if reason.startswith("waiting") else f"waiting: {reason}")
    elif status.waiting_for_tracker:
        parts.append("waiting for the tracker's word on leaving")
    if status.quiet_left_s is not None:
        parts.append(f"quiet period ends in {_seconds(status.quiet_left_s)}")
    elif not status.fetching and not status.tracker_reason and not status.waiting_for_tracker:
        parts.append("leaving")
    return " · ".join(parts)


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _seconds(seconds: float) -> str:
    whole = max(0, int(seconds + 0.999))  # "ends in 1 s" until it has ended
    if whole < 120:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest:02d} s"
