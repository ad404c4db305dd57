"""Asking sources for pieces (pure): who holds what, as the tracker answers
(``HolderQueries`` times the questions), where each source serves, the
requests the ``TransferPlan`` picks sent -- over the connection a source
opened to us when it did (``Links``), within the download limit --, cancels,
links that come and go, and what the sources answer, checked.

Picking waits for ``pump``, once per batch of messages: handlers only note
that requests may go out (``schedule_pump``).  A verified piece is handed
back to the caller, which stores it.

A source that has gone costs no more than the time to learn it (peers hear
of no departures; the tracker names a holder until it leaves, and a holder
answer is kept for seconds): its link breaks, or its port refuses us, or the
tracker says it knows no such peer when asked to reverse a link that was
refused.  Its requests and pieces go to the others at once, and answers that
still name it are not believed.
"""

from __future__ import annotations

from swarm.peer.actions import DropPeer, Reply, ToPeer, ToTracker
from swarm.peer.holder_queries import HolderQueries
from swarm.peer.links import Links
from swarm.peer.rate_limit import TokenBucket
from swarm.peer.settings import PeerSettings
from swarm.peer.source import PendingRequest
from swarm.peer.transfer_plan import DataOutcome, DataVerdict, TransferPlan
from swarm.protocol.chunks import pairs
from swarm.protocol.messages import Complaint, ErrorReply, Holders, Message
from swarm.protocol.output import Outbox
from swarm.protocol.peer_messages import Cancel, ChunkData, ChunkRefused, ChunkRequest

# Peers known to have left, remembered so that holder answers still on
# their way do not bring them back; ids are never reused while the tracker
# lives, and the oldest are forgotten past this many.
GONE_REMEMBERED = 4096


class PieceRequests:
    def __init__(self, out: Outbox, plan: TransferPlan, links: Links, settings: PeerSettings,
                 now_s: float) -> None:
        self.out = out
        self.plan = plan
        self.links = links
        self.holder_queries = HolderQueries(out, plan, settings.holders_refresh_s, now_s)
        limit = settings.download_limit_bytes_s
        self.download_limit = TokenBucket(limit, now_s) if limit else None
        self._pump_due = False
        self._budget_due_s = float("inf")  # when a limited pump may go on
        # Where each source serves, from the holder answers: the tracker
        # names the holders a peer needs, so it need not follow who joins.
        self.endpoints: dict[int, str] = {}
        self.gone: dict[int, None] = {}  # peers known to have left, oldest first

    # --- who holds what -----------------------------------------------------------

    def holders_arrived(self, holders: Holders, self_id: int | None, now_s: float) -> None:
        digest = holders.digest
        self.holder_queries.answered(digest, bool(holders.holders), now_s)
        download = self.plan.downloads.get(digest)
        if download is None:
            return
        known = download.sources()
        chunks = download.meta.chunks
        complete, partial = [], {}
        for holder in holders.holders:
            if holder.peer_id == self_id or holder.peer_id in self.gone:
                continue
            self.endpoints[holder.peer_id] = holder.endpoint
            ranges = pairs(holder.ranges)
            if ranges == [(0, chunks)]:
                complete.append(holder.peer_id)
            else:
                partial[holder.peer_id] = ranges
        self.plan.set_holders(holders.digest, complete, partial, now_s)
        self._forget_sources_of_nothing(known - download.sources())
        self.schedule_pump()

    def _forget_sources_of_nothing(self, candidates: set[int]) -> None:
        """Of the peers an answer no longer names for its file, those no
        other download names either, with nothing asked of them, are gone or
        of no use: their connections are closed."""
        downloads = self.plan.downloads.values()
        for peer_id in candidates:
            source = self.plan.sources.get(peer_id)
            if source is None or source.in_flight_bytes:
                continue
            if not any(peer_id in d.complete_holders or peer_id in d.partial_holders
                       for d in downloads):
                self.drop_source(peer_id)

    def ask_holders(self, digest: bytes, now_s: float) -> None:
        """A download starts: who holds its file?"""
        self.holder_queries.ask(digest, now_s)

    def tracker_error(self, reply: ErrorReply) -> None:
        """An error the tracker answered with (most answer this side's
        questions: a file it does not know, a report it refused).  That it
        knows no peer to reverse, asked for a link that was refused, is the
        news that the source has left: no warning, its pieces go elsewhere."""
        gone = reply.peer_gone()
        if gone is None:
            self.out.warning("tracker: %s", reply.reason)
        else:
            self.source_gone(gone, "the tracker no longer knows it")

    def tracker_forgot_us(self) -> None:
        """Questions put to a tracker that no longer knows us are asked again
        (and a tracker restarted hands out the ids of the peers gone again)."""
        self.holder_queries.tracker_forgot_us()
        self.gone.clear()

    def drop_source(self, peer_id: int) -> None:
        self.plan.drop_source(peer_id)
        self.endpoints.pop(peer_id, None)
        self.links.forget(peer_id)

    def drop_download(self, digest: bytes) -> None:
        """A file is no longer fetched: its requests are cancelled, its
        questions stop."""
        self.cancel(self.plan.remove_download(digest))
        self.holder_queries.forget(digest)

    # --- requests -----------------------------------------------------------------

    def schedule_pump(self) -> None:
        """Requests may go out: credit was freed, or sources or pieces came.
        The picking itself waits for ``pump``, once per batch of messages."""
        self._pump_due = True

    def pump(self, now_s: float, more_files_to_come: bool) -> None:
        """Send the requests that the messages handled since the last call
        made possible; ``more_files_to_come``: files wait for a download slot."""
        if not self._pump_due:
            return
        budget = self._download_budget(now_s)
        if budget < 0:
            return
        self._pump_due = False
        requests = self.plan.pump(now_s, more_files_to_come=more_files_to_come,
                                  budget_bytes=budget)
        for request in requests:
            self._send(request.source, ChunkRequest(
                request.request_id, request.digest, request.first_chunk, request.chunk_count))
        if self.download_limit is not None and requests:
            self.download_limit.spend(sum(r.size_bytes for r in requests), now_s)
            self._pump_due = self._download_budget(now_s) < 0  # cut short, perhaps

    def _download_budget(self, now_s: float) -> float:
        """Bytes the download limit lets this pump ask for; negative while in
        debt, with ``_budget_due_s`` set to when the debt is paid."""
        if self.download_limit is None:
            return float("inf")
        budget = self.download_limit.balance_bytes(now_s)
        self._budget_due_s = self.download_limit.ready_at_s(now_s) if budget < 0 else float("inf")
        return budget

    def _send(self, peer_id: int, message: Message) -> None:
        route = self.links.route_to(peer_id)
        if route is not None:  # it connected to us: ask over that connection
            self.out.put(Reply(route, message))
            return
        endpoint = self.endpoints.get(peer_id)
        if endpoint is not None:
            self.out.put(ToPeer(peer_id, endpoint, message))

    def cancel(self, requests: list[PendingRequest]) -> None:
        for request in requests:
            self._send(request.source, Cancel(request.request_id))

    # --- links ----------------------------------------------------------------------

    def link_down(self, peer_id: int) -> None:
        """The connection to a source broke (it may be gone for good): its
        pieces go to other holders now, not at their deadlines."""
        released = self.plan.source_down(peer_id)
        if released:
            self.out.info("lost the connection to peer %d; %d request(s) go elsewhere",
                          peer_id, len(released))
        self.schedule_pump()

    def link_up(self, peer_id: int) -> None:
        self.plan.source_up(peer_id)
        self.schedule_pump()

    def link_unreachable(self, peer_id: int, now_s: float, refused: bool = False) -> None:
        """Our connection to a source is not up: it did not come up in time,
        or (``refused``) nothing listens at its endpoint.  A refusal after
        our link to it was up means the peer has gone (a peer's port listens
        for its whole life).  Otherwise it cannot be reached from here, or
        has gone: its requests go elsewhere at once, and ``Links`` asks the
        tracker to reverse the link -- whose answer says which."""
        source = self.plan.sources.get(peer_id)
        if refused and source is not None and source.linked and not self.links.punched(peer_id):
            self.source_gone(peer_id, "its port refuses connections")
            return
        self.plan.source_down(peer_id)
        self.links.unreachable(peer_id, now_s, peer_id in self.endpoints)
        self.schedule_pump()

    def source_gone(self, peer_id: int, why: str) -> None:
        """``peer_id`` has left the swarm: forgotten as a source at once, its
        requests and pieces go to the others, and holder answers that still
        name it are not believed."""
        if peer_id in self.endpoints or peer_id in self.plan.sources:
            self.out.info("peer %d has left (%s); its pieces go to other sources", peer_id, why)
        self.gone[peer_id] = None
        if len(self.gone) > GONE_REMEMBERED:
            del self.gone[next(iter(self.gone))]
        self.drop_source(peer_id)
        self.schedule_pump()

    # --- what the sources answer ------------------------------------------------------

    def on_reply(self, peer_id: int, message: Message, payload: memoryview | None,
                 now_s: float) -> DataOutcome | None:
        """A source's answer; returns a verified piece to store, if it brought one."""
        verified = None
        if isinstance(message, ChunkData) and payload is not None:
            verified = self._chunk_data(peer_id, message, payload, now_s)
        elif isinstance(message, ChunkRefused):
            if self.plan.on_refused(peer_id, message.request_id) is not None:
                self.out.info("peer %d refused a request: %s", peer_id, message.reason)
        else:
            self.out.warning("peer %d sent %s on a fetch link; dropped", peer_id,
                             type(message).__name__)
        self.schedule_pump()
        return verified

    def _chunk_data(self, peer_id: int, data: ChunkData, payload: memoryview,
                    now_s: float) -> DataOutcome | None:
        outcome = self.plan.on_data(peer_id, data.request_id, data.digest, data.first_chunk,
                                    data.chunk_count, payload, now_s)
        self.cancel(outcome.cancels)
        if outcome.verdict is DataVerdict.BAD and outcome.download is not None:
            name = outcome.download.meta.name
            self.out.warning("peer %d sent bad data for piece %d of %r: %s", peer_id,
                             outcome.piece, name, outcome.why)
            self.out.put(ToTracker(Complaint(peer_id, outcome.download.digest,
                                             f"piece {outcome.piece}: {outcome.why}")))
            if outcome.banned:
                self.out.warning("peer %d banned after repeated bad data", peer_id)
                self.out.put(DropPeer(peer_id))  # and whatever else it sends is not read
            return None
        if outcome.verdict is not DataVerdict.GOOD or outcome.download is None:
            return None
        return outcome

    # --- time ---------------------------------------------------------------------------

    def on_timer(self, now_s: float) -> None:
        expired = self.plan.expire(now_s)
        for request in expired:
            self.out.info("request to peer %d for piece %d timed out", request.source,
                          request.piece)
        if expired:
            self.schedule_pump()
        self.holder_queries.refresh(now_s)

    def next_deadline_s(self) -> float:
        candidates = [self.holder_queries.next_deadline_s()]
        deadline = self.plan.next_deadline_s()
        if deadline is not None:
            candidates.append(deadline)
        if self._pump_due:
            candidates.append(self._budget_due_s)
        return min(candidates)
