"""The ActionRunner (swarm.io.peer.runner) with in-memory stand-ins for what
it uses -- a network and a disk that record what they are asked, stdout, the
event log, the console -- and a real PeerState whose answers to the disk
come back: each action kind is carried out, and what the disk answers is
carried out before the next action."""

from __future__ import annotations

import errno
import logging
import random
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import pytest

from swarm.config import Settings
from swarm.io.peer.runner import CARRY_OUT, ActionRunner
from swarm.peer import actions as peer_actions
from swarm.peer.actions import (
    CheckShared,
    CloseLink,
    DropPartial,
    DropPeer,
    LearnMapping,
    OpenPunch,
    OpenReverse,
    Place,
    Reply,
    SendChunks,
    ServeFile,
    StartPartial,
    StopServing,
    Subscribe,
    ToPeer,
    ToTracker,
    WritePiece,
)
from swarm.peer.disk import ContentChanged, PlaceResult
from swarm.peer.state import PeerState
from swarm.protocol import display
from swarm.protocol import messages as m
from swarm.protocol.message_parts import FileSummary
from swarm.protocol.meta import FileMeta, meta_of_bytes
from swarm.protocol.output import Action, Level, Observe, Say, Show
from swarm.protocol.peer_messages import ChunkData, ChunkRefused, ChunkRequest

DOC_BYTES = bytes(range(256)) * 8  # 2048 bytes: 4 chunks, one piece
DOC = meta_of_bytes("doc", DOC_BYTES)
OTHER = meta_of_bytes("other", bytes(300))
NOW_S = 7.0
Call = tuple[Any, ...]


class RecordingNetwork:
    """Sockets that record what they are asked to do, in order."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def to_tracker(self, message: m.Message) -> None:
        self.calls.append(("to_tracker", message))

    def to_peer(self, peer_id: int, endpoint: str, message: m.Message) -> None:
        self.calls.append(("to_peer", peer_id, endpoint, message))

    def reply(self, route: Hashable, message: m.Message, payload: bytes | None = None) -> None:
        self.calls.append(("reply", route, message, payload))

    def subscribe(self, pub_port: int) -> None:
        self.calls.append(("subscribe", pub_port))

    def open_reverse(self, peer_id: int, endpoint: str) -> None:
        self.calls.append(("open_reverse", peer_id, endpoint))

    def open_punch(self, peer_id: int, endpoint: str, curve_server: bool) -> None:
        self.calls.append(("open_punch", peer_id, endpoint, curve_server))

    def learn_mapping(self, echo_ports: tuple[int, ...]) -> None:
        self.calls.append(("learn_mapping", echo_ports))

    def close_link(self, peer_id: int) -> None:
        self.calls.append(("close_link", peer_id))

    def drop_peer(self, peer_id: int) -> None:
        self.calls.append(("drop_peer", peer_id))


class RecordingDisk:
    """A disk that records what it is asked; ``failures`` makes a call raise."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: dict[str, OSError] = {}
        self.changed: list[tuple[bytes, str]] = []  # what check_served finds
        self.placed = PlaceResult.PLACED

    def _call(self, *call: Any) -> None:
        self.calls.append(call)
        failure = self.failures.get(call[0])
        if failure is not None:
            raise failure

    def read(self, digest: bytes, offset: int, length: int) -> bytes:
        self._call("read", digest, offset, length)
        return bytes(i % 256 for i in range(offset, offset + length))

    def start_partial(self, meta: FileMeta) -> None:
        self._call("start_partial", meta)

    def write_piece(self, digest: bytes, piece: int, data: bytes | memoryview) -> None:
        self._call("write_piece", digest, piece, bytes(data))

    def place(self, digest: bytes) -> PlaceResult:
        self._call("place", digest)
        return self.placed

    def blocking_entry(self, name: str) -> str | None:
        self._call("blocking_entry", name)
        return "a folder"

    def drop_partial(self, digest: bytes) -> None:
        self._call("drop_partial", digest)

    def serve_complete(self, meta: FileMeta) -> None:
        self._call("serve_complete", meta)

    def stop_serving(self, digest: bytes) -> None:
        self._call("stop_serving", digest)

    def check_served(self) -> list[tuple[bytes, str]]:
        self._call("check_served")
        return self.changed


class Stdout(list[display.Block]):
    def write(self, blocks: Iterable[display.Block]) -> None:
        self.extend(blocks)


class Entries(list[tuple[str, dict[str, Any]]]):
    """The event log and the console at once: the entries each was given."""

    def emit(self, kind: str, **fields: Any) -> None:
        self.append((kind, fields))

    def observe(self, kind: str, fields: Mapping[str, Any]) -> None:
        self.append((f"console {kind}", dict(fields)))


class Rig:
    def __init__(self, joined: bool = False) -> None:
        self.state = PeerState(Settings().peer_settings(), 10.0, [DOC], [], {}, 20001, 0.0,
                               random.Random(1))
        self.state.start()
        if joined:
            self.state.on_tracker(m.HelloReply(m.PROTOCOL_VERSION, 5556, ()), 0.0)
            listed = (FileSummary(DOC.name, DOC.size_bytes, DOC.digest, True),)
            self.state.on_tracker(m.Welcome(1, m.Snapshot(0, listed), ()), 0.0)
        self.net = RecordingNetwork()
        self.disk = RecordingDisk()
        self.stdout = Stdout()
        self.entries = Entries()
        self.runner = ActionRunner(self.state, self.net, self.disk, self.stdout, self.entries,
                                   lambda: NOW_S, self.entries)


def test_every_action_a_peer_returns_has_its_way_to_be_carried_out() -> None:
    kinds = {value for value in vars(peer_actions).values()
             if isinstance(value, type) and issubclass(value, Action) and value is not Action}
    assert set(CARRY_OUT) == kinds | {Show, Say, Observe}


def test_network_actions_go_through_the_network_in_order() -> None:
    rig = Rig()
    hello = m.Hello(m.PROTOCOL_VERSION)
    rig.runner.run([
        ToTracker(hello), ToPeer(4, "tcp://10.0.0.4:5000", hello), Reply(b"route", hello),
        Subscribe(5556), OpenReverse(5, "tcp://10.0.0.5:5000"),
        OpenPunch(6, "tcp://10.0.0.6:6000", curve_server=True), LearnMapping((7001, 7002)),
        CloseLink(4), DropPeer(5),
    ])
    assert rig.net.calls == [
        ("to_tracker", hello), ("to_peer", 4, "tcp://10.0.0.4:5000", hello),
        ("reply", b"route", hello, None), ("subscribe", 5556),
        ("open_reverse", 5, "tcp://10.0.0.5:5000"), ("open_punch", 6, "tcp://10.0.0.6:6000", True),
        ("learn_mapping", (7001, 7002)), ("close_link", 4), ("drop_peer", 5),
    ]
    assert rig.disk.calls == []


def test_disk_actions_go_to_the_disk_in_order() -> None:
    rig = Rig()
    rig.runner.run([
        StartPartial(OTHER), WritePiece(OTHER.digest, 0, b"x" * 300), Place(OTHER.digest, "other"),
        DropPartial(OTHER.digest), ServeFile(DOC), StopServing(DOC.digest), CheckShared(),
    ])
    assert rig.disk.calls == [
        ("start_partial", OTHER), ("write_piece", OTHER.digest, 0, b"x" * 300),
        ("place", OTHER.digest), ("drop_partial", OTHER.digest), ("serve_complete", DOC),
        ("stop_serving", DOC.digest), ("check_served",),
    ]
    assert rig.net.calls == []  # the state had nothing to say to them


def test_a_name_taken_when_placing_is_named_by_the_disk() -> None:
    rig = Rig()
    rig.disk.placed = PlaceResult.NAME_TAKEN
    rig.runner.run([Place(OTHER.digest, "other")])
    assert rig.disk.calls == [("place", OTHER.digest), ("blocking_entry", "other")]


def test_an_answer_with_data_reads_it_and_sends_it_as_the_payload() -> None:
    rig = Rig()
    answer = ChunkData(3, DOC.digest, 1, 2)
    rig.runner.run([SendChunks(b"route", answer, 512, 1024)])
    assert rig.disk.calls == [("read", DOC.digest, 512, 1024)]
    assert rig.net.calls == [("reply", b"route", answer, DOC_BYTES[512:1536])]


def test_what_the_disk_answers_is_carried_out_before_the_next_action() -> None:
    rig = Rig(joined=True)
    rig.disk.failures["start_partial"] = OSError(errno.ENOSPC, "No space left on device")
    beat = ToTracker(m.Heartbeat(0))
    rig.runner.run([StartPartial(OTHER), beat])
    assert [call[0] for call in rig.disk.calls] == ["start_partial"]
    assert rig.net.calls == [("to_tracker", m.CannotHold("other", "its disk refuses the writes")),
                             ("to_tracker", beat.message)]


def test_a_file_found_changed_as_it_is_read_is_refused_and_withdrawn_first() -> None:
    rig = Rig(joined=True)
    rig.disk.failures["read"] = ContentChanged("doc", "modified")
    request = ChunkRequest(3, DOC.digest, 1, 1)
    (answer,) = rig.state.on_request(b"route", request, NOW_S)
    assert isinstance(answer, SendChunks)
    rig.runner.run([answer, ToTracker(m.Heartbeat(0))])
    assert rig.net.calls == [
        ("reply", b"route", ChunkRefused(3, "file changed"), None),
        ("to_tracker", m.Withdraw(DOC.digest, "modified")),
        ("to_tracker", m.CannotHold("doc", "its own copy changed")),  # not to be fetched over it
        ("to_tracker", m.Heartbeat(0)),
    ]
    assert rig.disk.calls[-1] == ("stop_serving", DOC.digest)
    # The next answer of that batch finds the file no longer served: refused
    # as a request that came now would be.
    rig.disk.failures["read"] = FileNotFoundError(errno.ENOENT, "no such file")
    rig.net.calls.clear()
    rig.runner.run([SendChunks(b"route", ChunkData(4, DOC.digest, 2, 1), 1024, 512)])
    assert rig.net.calls == [("reply", b"route", ChunkRefused(4, "file not held"), None)]


def test_the_disk_answer_to_a_lone_action_is_carried_out_too() -> None:
    # (one action alone takes a shorter path)
    rig = Rig(joined=True)
    rig.disk.changed = [(DOC.digest, "deleted")]
    rig.runner.run([CheckShared()])
    assert rig.net.calls == [("to_tracker", m.Withdraw(DOC.digest, "deleted")),
                             ("to_tracker", m.MetaQuery(DOC.digest))]  # to be fetched again
    assert rig.disk.calls == [("check_served",), ("stop_serving", DOC.digest)]


def test_blocks_go_to_stdout_and_entries_to_the_event_log_and_the_console() -> None:
    rig = Rig()
    shutdown = display.Shutdown(1, ["doc"])
    rig.runner.run([Show(shutdown), Observe("leave", {"peer": 1, "holds": ["doc"]})])
    assert rig.stdout == [shutdown]
    assert rig.entries == [("leave", {"peer": 1, "holds": ["doc"]}),
                           ("console leave", {"peer": 1, "holds": ["doc"]})]


def test_entries_go_nowhere_without_an_event_log_or_a_console() -> None:
    rig = Rig()
    runner = ActionRunner(rig.state, rig.net, rig.disk, rig.stdout, None, lambda: NOW_S)
    runner.run([Observe("leave", {"peer": 1})])
    assert rig.entries == []


def test_a_say_is_a_line_of_the_swarm_peer_logger_with_the_same_text_and_level(
        caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig()
    say = Say(Level.WARNING, "cannot read a file for a peer: %s", (OSError(errno.EIO, "I/O"),))
    with caplog.at_level(logging.DEBUG, logger="swarm.peer"):
        rig.runner.run([say, Say(Level.DEBUG, "no arguments: 100%")])
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("swarm.peer", logging.WARNING, say.text()),
        ("swarm.peer", logging.DEBUG, "no arguments: 100%"),
    ]
    assert say.text() == "cannot read a file for a peer: [Errno 5] I/O"
