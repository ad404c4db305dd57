"""The protocol's catalogue: every message kind, and who sends what to
whom over which sockets (the protocol reference, docs/protocol.md, is
generated from ``ROUTES``: python -m swarm.cli.reference --update)."""

from __future__ import annotations

from swarm.protocol.events import (
    Availability,
    Excused,
    ExcuseWithdrawn,
    FileAdded,
    FileCompleted,
    FileDropped,
    FileRemoved,
    PeerJoined,
    PeerLeft,
)
from swarm.protocol.message_parts import (
    FileListing,
    FileSummary,
    HaveReport,
    HolderRanges,
    PartialOffer,
    PeerSummary,
    PeerTraffic,
    Refusal,
)
from swarm.protocol.messages import (
    CanHoldAgain,
    CannotHold,
    Complaint,
    Complete,
    ConnectTo,
    ErrorReply,
    Farewell,
    Goodbye,
    Have,
    Heartbeat,
    Hello,
    HelloReply,
    Holders,
    HoldersQuery,
    Join,
    LeaveQuery,
    LeaveStatus,
    Listing,
    ListQuery,
    Message,
    MetaQuery,
    MetaReply,
    NotYet,
    Offer,
    Pong,
    Punch,
    PunchReady,
    Refused,
    Rejoin,
    ReverseRequest,
    ReverseToken,
    Snapshot,
    SyncRequest,
    Welcome,
    Withdraw,
)
from swarm.protocol.meta import FileMeta
from swarm.protocol.peer_messages import Cancel, ChunkData, ChunkRefused, ChunkRequest, Introduce
from swarm.protocol.record import Record

# Who sends what to whom, over which sockets: the protocol reference in the
# docs is generated from this table (python -m swarm.cli.reference --update).
ROUTES: tuple[tuple[str, str, tuple[type[Message], ...]], ...] = (
    ("peer → tracker", "DEALER → ROUTER",
     (Hello, Join, Heartbeat, Offer, Have, Complete, SyncRequest, HoldersQuery, MetaQuery,
      Complaint, ReverseRequest, PunchReady, CannotHold, CanHoldAgain, Withdraw, Goodbye,
      LeaveQuery)),
    ("tool → tracker", "DEALER → ROUTER", (ListQuery,)),
    ("tracker → peer", "ROUTER → DEALER",
     (HelloReply, Welcome, Snapshot, Holders, MetaReply, Refused, Pong, LeaveStatus, Farewell,
      NotYet, ErrorReply, Rejoin, ConnectTo, ReverseToken, Punch)),
    ("tracker → tool", "ROUTER → DEALER", (Listing,)),
    ("tracker → every peer", "PUB → SUB, topic f", (FileAdded, Availability, FileRemoved)),
    ("tracker → tools", "PUB → SUB, topic p",
     (PeerJoined, FileCompleted, PeerLeft, Excused, ExcuseWithdrawn, FileDropped)),
    ("peer → peer", "ROUTER → ROUTER", (ChunkRequest, Cancel)),
    ("peer → peer", "ROUTER → ROUTER", (ChunkData, ChunkRefused, ErrorReply)),
    # Reversed: the serving peer connects out (it cannot be reached), so the
    # roles of the sockets swap and the requester's ROUTER does the asking.
    ("serving peer → requester", "DEALER → ROUTER", (Introduce, ChunkData, ChunkRefused)),
    ("requester → serving peer", "ROUTER → DEALER", (ChunkRequest, Cancel)),
    # Punched: both peers connect at once (TCP simultaneous open), and the one
    # connection joins a ROUTER of each; each asks and answers over it.
    ("peer ↔ peer, punched", "ROUTER ↔ ROUTER",
     (ChunkRequest, Cancel, ChunkData, ChunkRefused)),
)


# The records nested inside messages, for the reference.
RECORDS: tuple[type[Record], ...] = (
    FileMeta, FileSummary, PeerSummary, PartialOffer, HaveReport, HolderRanges, Refusal,
    FileListing, PeerTraffic,
)


ALL_MESSAGES: tuple[type[Message], ...] = tuple(
    dict.fromkeys(cls for _, _, classes in ROUTES for cls in classes)
)
