"""Serving other peers (swarm.peer.uploads), through PeerState: what is
answered, what is refused and why, and what happens when the disk cannot
read the bytes of an answer already decided."""

from __future__ import annotations

import errno
import random

from swarm.config import Settings
from swarm.peer.actions import Reply, SendChunks, StopServing
from swarm.peer.disk import ContentChanged
from swarm.peer.state import PeerState
from swarm.protocol import messages as m
from swarm.protocol.message_parts import FileSummary
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.protocol.output import Action, Level
from swarm.protocol.peer_messages import ChunkData, ChunkRefused, ChunkRequest
from tests.peer.said import said

DOC = meta_of_bytes("doc", bytes(range(256)) * 8)  # 2048 bytes: 4 chunks, one piece


def joined_peer(local: list[FileMeta], upload_limit_bytes_s: int = 0) -> PeerState:
    """A peer holding ``local``, welcomed into a swarm of those files."""
    settings = Settings(upload_limit_bytes_s=upload_limit_bytes_s).peer_settings()
    state = PeerState(settings, 10.0, local, [], {}, 20001, 0.0, random.Random(1))
    state.start()
    state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 0.0)
    files = tuple(FileSummary(f.name, f.size_bytes, f.digest, True) for f in local)
    state.on_tracker(m.Welcome(1, m.Snapshot(0, files), ()), 0.0)
    return state


def answers(actions: list[Action]) -> list[SendChunks]:
    return [a for a in actions if isinstance(a, SendChunks)]


def two_queued_answers(state: PeerState) -> list[SendChunks]:
    """Under the upload limit, a first request is answered at once and two
    more wait; the limit then lets both go in one batch."""
    assert len(answers(state.on_request(b"r1", ChunkRequest(1, DOC.digest, 0, 1), 0.0))) == 1
    for request_id, chunk in ((2, 1), (3, 2)):
        assert state.on_request(b"r2", ChunkRequest(request_id, DOC.digest, chunk, 1), 0.0) == []
    both = answers(state.on_timer(10.0))
    assert [a.reply.request_id for a in both] == [2, 3]
    return both


def test_an_answer_whose_file_changed_since_it_was_decided_is_refused_as_a_fresh_request() -> None:
    # The file is edited in Shared while two answers wait in one batch: the
    # first read finds it changed, and this peer stops serving it; the second
    # then asks the disk for a file no longer served.
    state = joined_peer([DOC], upload_limit_bytes_s=10_000)
    first, second = two_queued_answers(state)
    changed = state.on_read_failed(first, ContentChanged("doc", "modified"), 10.0)
    assert changed[0] == Reply(b"r2", ChunkRefused(2, "file changed"))
    assert StopServing(DOC.digest) in changed
    gone = state.on_read_failed(second, FileNotFoundError(errno.ENOENT, "no such file"), 10.0)
    assert gone == [Reply(b"r2", ChunkRefused(3, "file not held"))]  # and nothing said
    # The reason a request that came now would get.
    fresh = state.on_request(b"r3", ChunkRequest(4, DOC.digest, 3, 1), 10.0)
    assert fresh == [Reply(b"r3", ChunkRefused(4, "file not held"))]


def test_a_file_still_served_that_cannot_be_read_is_the_disk_failing_and_said() -> None:
    state = joined_peer([DOC])
    (answer,) = answers(state.on_request(b"r1", ChunkRequest(1, DOC.digest, 0, 2), 0.0))
    assert answer == SendChunks(b"r1", ChunkData(1, DOC.digest, 0, 2), 0, 1024)
    failed = state.on_read_failed(answer, OSError(errno.EIO, "Input/output error"), 0.0)
    assert said(failed, Level.WARNING) == [
        "cannot read a file for a peer: [Errno 5] Input/output error"]
    assert Reply(b"r1", ChunkRefused(1, "read failed")) in failed
    # Still served: the next request is answered.
    assert answers(state.on_request(b"r1", ChunkRequest(2, DOC.digest, 2, 2), 0.0))


def test_queued_requests_are_checked_again_when_the_limit_lets_them_go() -> None:
    # The file went (a scan saw it deleted) while requests waited for the limit.
    state = joined_peer([DOC], upload_limit_bytes_s=10_000)
    answers(state.on_request(b"r1", ChunkRequest(1, DOC.digest, 0, 1), 0.0))
    state.on_request(b"r2", ChunkRequest(2, DOC.digest, 1, 1), 0.0)
    state.on_local_changed(DOC.digest, "deleted", 1.0)
    later = state.on_timer(10.0)
    assert answers(later) == []
    assert Reply(b"r2", ChunkRefused(2, "file not held")) in later
