"""One-shot questions to a tracker, for the command-line tools (ls, who,
status): a DEALER that sends one query and waits, with a deadline, for the
answer."""

from __future__ import annotations

import os

import zmq

from swarm.io.common.curve import CurveKeys, make_client
from swarm.protocol.addresses import bracketed, is_ipv6, tcp_endpoint
from swarm.protocol.codec import MAX_HEADER_BYTES, decode_header, encode_frames
from swarm.protocol.fields import ProtocolError
from swarm.protocol.messages import ErrorReply, Listing, ListQuery, Message


class TrackerQueryError(Exception):
    """A question to the tracker got no answer a tool can use."""


class TrackerUnreachable(TrackerQueryError):
    """No answer from the tracker in time."""


class BadTrackerAnswer(TrackerQueryError):
    """The tracker answered, but not with what was asked for: an answer that
    does not decode, an ErrorReply (with the tracker's reason), or a reply of
    another kind."""


class TrackerClient:
    def __init__(self, host: str, port: int, timeout_s: float = 5.0,
                 keys: CurveKeys | None = None) -> None:
        self.timeout_s = timeout_s
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        if keys is not None:
            make_client(self.sock, keys)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, MAX_HEADER_BYTES + 4096)
        self.sock.setsockopt(zmq.ROUTING_ID, b"tool-" + os.urandom(8))
        if is_ipv6(host):
            self.sock.setsockopt(zmq.IPV6, 1)
        self.sock.connect(tcp_endpoint(host, port))
        self.port = port
        self.where = f"{bracketed(host)}:{port}"  # the address tried, as typed back

    def ask(self, message: Message) -> Message:
        self.sock.send_multipart(encode_frames(message))
        if not self.sock.poll(int(self.timeout_s * 1000)):
            raise TrackerUnreachable(f"no answer from the tracker at {self.where} "
                                     f"within {self.timeout_s:g} s: is one running there, "
                                     f"and is {self.port} the port in its port.txt?")
        frames = self.sock.recv_multipart()
        try:
            if len(frames) != 1:
                raise ProtocolError(f"{len(frames)} frames")
            reply = decode_header(frames[0])
        except ProtocolError as exc:
            raise BadTrackerAnswer(f"bad answer from {self.where}: {exc}") from None
        if isinstance(reply, ErrorReply):
            raise BadTrackerAnswer(f"the tracker at {self.where} says: {reply.reason}")
        return reply

    def listing(self) -> Listing:
        reply = self.ask(ListQuery())
        if not isinstance(reply, Listing):
            raise BadTrackerAnswer(f"unexpected {type(reply).__name__} from {self.where}")
        return reply

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()

    def __enter__(self) -> TrackerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
