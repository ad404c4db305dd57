"""Serving chunks to other peers, free of sockets and disk.

A request is checked first -- within the size a request may have, in range,
of pieces this peer holds verified -- and refused at once if it fails, so a
bad request costs nothing.  Servable requests are answered at once, or,
under an upload limit, queued and answered as the limit allows (a Cancel
takes a queued one back).  Answering is an action, ``SendChunks``: the IO
loop reads the bytes and sends them.  When it cannot, the request is checked
again (``unreadable``): an answer decided in the same batch as the read that
found its file changed asks for a file no longer served.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

from swarm.peer.actions import Reply, SendChunks
from swarm.peer.holdings import Holdings
from swarm.peer.rate_limit import TokenBucket
from swarm.peer.transfer_plan import TransferPlan
from swarm.protocol.chunks import CHUNK_SIZE_BYTES
from swarm.protocol.meta import FileMeta
from swarm.protocol.output import Outbox
from swarm.protocol.peer_messages import ChunkData, ChunkRefused, ChunkRequest

MAX_SERVE_CHUNKS = 4096  # 2 MiB: the most one request may ask for
UNWANTED_SAID = 20  # unwanted messages said one by one; then one in a thousand
MAX_QUEUED_UPLOADS = 4096  # requests waiting for the upload limit; beyond: "busy"
SERVING_WINDOW_S = 5.0  # a peer that asked this recently is one "being served"

class Uploads:
    def __init__(self, limit_bytes_s: int, out: Outbox, holdings: Holdings, plan: TransferPlan,
                 now_s: float) -> None:
        """What is served: the files of ``holdings``, and the stored pieces
        of the downloads under way in ``plan``."""
        self.out = out
        self.holdings = holdings
        self.plan = plan
        self.limit = TokenBucket(limit_bytes_s, now_s) if limit_bytes_s else None
        self.queue: deque[tuple[Hashable, ChunkRequest]] = deque()
        self.served_bytes = 0  # chunk data answered, all told (the heartbeat reports it)
        # When each peer last asked for data: who is being served, for the
        # status line a person reads (counted only when it is drawn).
        self._asked_at: dict[Hashable, float] = {}
        self._unwanted_count = 0

    def serving_peers(self, now_s: float) -> int:
        """Peers that asked for data in the last SERVING_WINDOW_S."""
        since = now_s - SERVING_WINDOW_S
        self._asked_at = {r: t for r, t in self._asked_at.items() if t >= since}
        return len(self._asked_at)

    def request(self, route: Hashable, request: ChunkRequest, now_s: float) -> None:
        self._asked_at[route] = now_s
        reason = self.cannot_serve(request)
        if reason is not None:
            self._refuse(route, request, reason)
        elif self.limit is None:
            self._serve(route, request)
        elif len(self.queue) >= MAX_QUEUED_UPLOADS:
            self._refuse(route, request, "busy")
        else:
            self.queue.append((route, request))
            self.serve_queued(now_s)

    def unwanted(self, what: str) -> None:
        """A message on our chunk port that is not ours to answer.  Said on
        stderr a few times, then only now and then: anyone can send valid
        messages to the chunk port, and a flood must not flood the log."""
        self._unwanted_count += 1
        if self._unwanted_count <= UNWANTED_SAID or self._unwanted_count % 1000 == 0:
            self.out.warning("dropped %s (%d so far)", what, self._unwanted_count)

    def cancel(self, route: Hashable, request_id: int) -> None:
        self.queue = deque((r, q) for r, q in self.queue
                           if not (r == route and q.request_id == request_id))

    def serve_queued(self, now_s: float) -> None:
        """Answer queued requests as far as the upload limit allows."""
        limit = self.limit
        while self.queue and limit is not None:
            route, request = self.queue[0]
            if not limit.try_take(request.chunk_count * CHUNK_SIZE_BYTES, now_s):
                break
            self.queue.popleft()
            self._serve(route, request)

    def next_deadline_s(self, now_s: float) -> float | None:
        if self.queue and self.limit is not None:
            return self.limit.ready_at_s(now_s)
        return None

    def cannot_serve(self, request: ChunkRequest | ChunkData) -> str | None:
        """Why this request (or the answer to it) will not be answered with
        data (None: it will)."""
        if request.chunk_count > MAX_SERVE_CHUNKS:
            return f"at most {MAX_SERVE_CHUNKS} chunks per request"
        held = self._held(request.digest)
        if held is None:
            return "file not held"
        meta, have = held
        end = request.first_chunk + request.chunk_count
        if end > meta.chunks:
            return "chunks out of range"
        if have is not None:
            piece_chunks = meta.layout.piece_chunks
            pieces = range(request.first_chunk // piece_chunks, (end - 1) // piece_chunks + 1)
            if any(have[p] != 1 for p in pieces):
                return "chunks not held"
        return None

    def _held(self, digest: bytes) -> tuple[FileMeta, bytearray | None] | None:
        """What this peer holds of a file: its metadata, and for a download
        under way which pieces are stored (have[p] == 1); None when it
        holds nothing of it."""
        meta = self.holdings.by_digest.get(digest)
        if meta is not None:
            return meta, None
        download = self.plan.downloads.get(digest)
        return (download.meta, download.have) if download is not None else None

    def unreadable(self, answer: SendChunks, error: OSError) -> None:
        """The disk could not read the bytes of ``answer``.  Checked again, as
        a request that came now would be: a file given up since the answer was
        decided (it changed or went, its download was dropped) is refused for
        the reason a fresh request gets, and nothing is wrong; only a file
        still ours that cannot be read is the disk's failure, and said."""
        reply = answer.reply
        reason = self.cannot_serve(reply)
        if reason is None:
            self.out.warning("cannot read a file for a peer: %s", error)
            reason = "read failed"
        self._refuse(answer.route, reply, reason)

    def file_changed(self, answer: SendChunks) -> None:
        """The file ``answer`` reads is no longer what was hashed."""
        self._refuse(answer.route, answer.reply, "file changed")

    def _refuse(self, route: Hashable, request: ChunkRequest | ChunkData, reason: str) -> None:
        self.out.put(Reply(route, ChunkRefused(request.request_id, reason)))

    def _serve(self, route: Hashable, request: ChunkRequest) -> None:
        # Checked again: a queued request may have waited while things changed.
        reason = self.cannot_serve(request)
        held = self._held(request.digest)
        if reason is not None or held is None:
            self._refuse(route, request, reason or "file not held")
            return
        meta, _ = held
        offset, length = meta.layout.chunk_byte_range(
            request.first_chunk, request.first_chunk + request.chunk_count)
        reply = ChunkData(request.request_id, request.digest, request.first_chunk,
                          request.chunk_count)
        self.served_bytes += length
        self.out.put(SendChunks(route, reply, offset, length))
