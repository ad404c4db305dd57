"""Serving chunks to other peers, free of sockets.

A request is checked first -- within the size a request may have, in range,
of pieces this peer holds verified -- and refused at once if it fails, so a
bad request costs nothing.  Servable requests are answered at once, or,
under an upload limit, queued and answered as the limit allows (a Cancel
takes a queued one back).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Hashable
from typing import Protocol

from swarm.peer.disk import ContentChanged
from swarm.peer.rate_limit import TokenBucket
from swarm.protocol.chunks import CHUNK_SIZE_BYTES
from swarm.protocol.messages import ChunkData, ChunkRefused, ChunkRequest, Message
from swarm.protocol.meta import FileMeta

log = logging.getLogger("swarm.peer")

MAX_SERVE_CHUNKS = 4096  # 2 MiB: the most one request may ask for
MAX_QUEUED_UPLOADS = 4096  # requests waiting for the upload limit; beyond: "busy"

# What this peer holds of a file: its metadata, and for a download under way
# which pieces are stored (have[p] == 1); None when it holds nothing of it.
Servable = Callable[[bytes], tuple[FileMeta, bytearray | None] | None]
# Told when a file of Shared turns out to have changed as it is read: the
# digest, what happened, and when.
ChangeHandler = Callable[[bytes, str, float], None]


class Reader(Protocol):
    def read(self, digest: bytes, offset: int, length: int) -> bytes: ...


class Replier(Protocol):
    def reply(self, route: Hashable, message: Message, payload: bytes | None = None) -> None: ...


class Uploads:
    def __init__(self, limit_bytes_s: int, store: Reader, net: Replier, servable: Servable,
                 now_s: float, on_changed: ChangeHandler) -> None:
        self.store = store
        self.net = net
        self.servable = servable
        self.on_changed = on_changed
        self.limit = TokenBucket(limit_bytes_s, now_s) if limit_bytes_s else None
        self.queue: deque[tuple[Hashable, ChunkRequest]] = deque()
        self.bytes_served = 0

    def request(self, route: Hashable, request: ChunkRequest, now_s: float) -> None:
        reason = self.cannot_serve(request)
        if reason is not None:
            self.net.reply(route, ChunkRefused(request.request_id, reason))
        elif self.limit is None:
            self._serve(route, request, now_s)
        elif len(self.queue) >= MAX_QUEUED_UPLOADS:
            self.net.reply(route, ChunkRefused(request.request_id, "busy"))
        else:
            self.queue.append((route, request))
            self.serve_queued(now_s)

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
            self._serve(route, request, now_s)

    def next_deadline_s(self, now_s: float) -> float | None:
        if self.queue and self.limit is not None:
            return self.limit.ready_at_s(now_s)
        return None

    def cannot_serve(self, request: ChunkRequest) -> str | None:
        """Why this request will not be answered with data (None: it will)."""
        if request.chunk_count > MAX_SERVE_CHUNKS:
            return f"at most {MAX_SERVE_CHUNKS} chunks per request"
        held = self.servable(request.digest)
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

    def _serve(self, route: Hashable, request: ChunkRequest, now_s: float) -> None:
        # Checked again: a queued request may have waited while things changed.
        reason = self.cannot_serve(request)
        held = self.servable(request.digest)
        if reason is not None or held is None:
            self.net.reply(route, ChunkRefused(request.request_id, reason or "file not held"))
            return
        meta, _ = held
        offset, length = meta.layout.chunk_byte_range(
            request.first_chunk, request.first_chunk + request.chunk_count)
        try:
            data = self.store.read(request.digest, offset, length)
        except ContentChanged as exc:
            self.net.reply(route, ChunkRefused(request.request_id, "file changed"))
            self.on_changed(request.digest, exc.change, now_s)
            return
        except (OSError, KeyError) as exc:
            log.warning("cannot read %r for a peer: %s", meta.name, exc)
            self.net.reply(route, ChunkRefused(request.request_id, "read failed"))
            return
        self.bytes_served += length
        reply = ChunkData(request.request_id, request.digest, request.first_chunk,
                          request.chunk_count)
        self.net.reply(route, reply, data)
