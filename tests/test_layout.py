"""The rule of the layout, held by a test rather than by discipline.

The pure rooms (``swarm.protocol``, ``swarm.tracker``, ``swarm.peer``,
``swarm.http``, and ``swarm.units`` which they share) touch no socket, thread,
disk or clock, draw no randomness of their own, write nothing on stdout or
stderr, log nothing and load no settings: what happened, the time, a random
generator and the settings come in as arguments, and what they have to say
goes out as actions.  The IO side (``swarm.io``) owns the sockets, the disk
and the clock.

Between rooms, imports go one way (``ROOM_IMPORTS``): the pure rooms below,
then the settings, the IO side, the tools, the command line; the tracker and
the peer never import each other.  Every import counts, at any depth of a
module (inside a function, an ``if``, a ``try``), and none is relative, so
that each names the room it comes from.

Every check is read from the source (``ast``), and each has a test showing
that it catches what it forbids."""

from __future__ import annotations

import ast
import itertools
import logging
import logging.handlers
from collections.abc import Iterator, Mapping, Set
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "swarm"
PURE_ROOMS = ("protocol", "tracker", "peer", "http")
PURE_MODULES = sorted([*(path for room in PURE_ROOMS for path in (PACKAGE / room).rglob("*.py")),
                       PACKAGE / "units.py"])
ALL_MODULES = sorted(PACKAGE.rglob("*.py"))

# What each room may import of swarm, besides itself.  A room is a folder of
# swarm/ or one of its top-level modules.
BELOW_THE_SETTINGS = {"protocol", "tracker", "peer", "http", "units"}
ROOM_IMPORTS: dict[str, set[str]] = {
    "units": set(),
    "protocol": {"units"},
    "http": {"protocol", "units"},
    "tracker": {"protocol", "units"},  # not the peer: rules (a), (b) live with the tracker
    "peer": {"protocol", "units"},  # not the tracker
    # The defaults' one owner; it builds the pure rooms' settings records.
    "config": BELOW_THE_SETTINGS,
    "io": BELOW_THE_SETTINGS | {"config"},  # never the tools or the command line
    "tools": BELOW_THE_SETTINGS | {"config", "io"},
    "cli": BELOW_THE_SETTINGS | {"config", "io", "tools"},
    "__main__": {"cli"},
    "__init__": set(),
}

# Modules a pure module may not import, by their top-level name.
FORBIDDEN_MODULES = {
    # sockets, threads, processes
    "zmq", "socket", "select", "selectors", "asyncio", "threading", "multiprocessing",
    "concurrent", "subprocess", "signal",
    # the disk
    "os", "shutil", "pathlib", "tempfile", "io", "glob", "mmap",
    # the clock, and the process's randomness
    "time", "secrets", "uuid",
    # saying things on stdout or stderr: that goes out as an action
    "logging", "warnings", "traceback", "pprint", "builtins",
    # loading settings: they come in as values
    "tomllib", "configparser",
    # importing by a name in a string, which no check here can follow
    "importlib",
}
# Builtins a pure module may not call: the disk, stdout, stdin, and imports
# no check here can follow.
FORBIDDEN_CALLS = {"open", "print", "input", "breakpoint", "__import__"}
# Attributes of a module (or of what is imported from it) a pure module may
# not touch, though it may import the module: ``sys.maxsize`` is fine,
# ``sys.stderr`` is not; ``datetime.fromtimestamp(now_s)`` is fine,
# ``datetime.now()`` reads the clock.
STREAMS = {"stdout", "stderr", "stdin", "__stdout__", "__stderr__", "__stdin__"}
CLOCK_READS = {"now", "utcnow", "today"}
FORBIDDEN_ATTRIBUTES = {"sys": STREAMS, "datetime": CLOCK_READS}
# What only logging has: its handlers and the calls that set it up.
LOGGING_NAMES = {name for module in (logging, logging.handlers) for name in dir(module)
                 if name.endswith("Handler")} | {
    "getLogger", "getLoggerClass", "basicConfig", "addHandler", "LoggerAdapter"}

Found = tuple[int, str]  # (line, what breaks the rule)


# --- reading a module ---------------------------------------------------------------------

def imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, list[str]]]:
    """Every import statement, at any depth, with the absolute names it imports
    (``from swarm import io`` imports swarm.io; a relative import, none)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                yield node, []
            elif node.module == "swarm":
                yield node, [f"swarm.{alias.name}" for alias in node.names]
            else:
                yield node, [node.module]


def bound_to(tree: ast.AST, module: str) -> set[str]:
    """The names a module binds to ``module`` itself (``import random as r``:
    r) or to something imported from it (``from datetime import date``: date)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names
                      if alias.name == module or (alias.asname is None
                                                  and alias.name.startswith(module + "."))}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == module:
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def root_name(node: ast.expr) -> str | None:
    """The name an attribute chain starts from: ``datetime`` in ``datetime.datetime.now``."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def in_annotations(tree: ast.AST) -> set[int]:
    """The ids of every node inside a type annotation."""
    annotations: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
    return {id(inner) for annotation in annotations for inner in ast.walk(annotation)}


def room_of(module: str) -> str:
    """The room of an absolute module name of swarm: swarm.io.peer.store -> io."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def room_of_path(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else path.stem


# --- the checks of a pure module ----------------------------------------------------------

def forbidden_imports(tree: ast.AST) -> Iterator[Found]:
    for node, names in imports(tree):
        for name in names:
            if name.split(".")[0] in FORBIDDEN_MODULES:
                yield node.lineno, f"imports {name}"
            if name == "random" and isinstance(node, ast.ImportFrom):
                yield node.lineno, "imports from random (only random.Random, as a type)"


def forbidden_calls(tree: ast.AST) -> Iterator[Found]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in FORBIDDEN_CALLS:
            yield node.lineno, f"calls {node.func.id}()"


def random_draws(tree: ast.AST) -> Iterator[Found]:
    """``random`` under any name, used anywhere but in a type annotation
    (an injected ``rng: random.Random`` is how randomness comes in)."""
    aliases = bound_to(tree, "random")
    typing_only = in_annotations(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in aliases and id(node) not in typing_only:
            yield node.lineno, f"uses {node.id} (the random module) outside a type annotation"


def forbidden_attributes(tree: ast.AST) -> Iterator[Found]:
    for module, attributes in FORBIDDEN_ATTRIBUTES.items():
        aliases = bound_to(tree, module)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in attributes \
                    and root_name(node.value) in aliases:
                yield node.lineno, f"uses {module}'s {node.attr}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == module:
                for alias in node.names:
                    if alias.name in attributes:
                        yield node.lineno, f"imports {alias.name} from {module}"


def logging_names(tree: ast.AST) -> Iterator[Found]:
    """A logger or a handler, however it was reached (not only by importing logging)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in LOGGING_NAMES:
            yield node.lineno, f"uses {node.id} (logging)"
        elif isinstance(node, ast.Attribute) and node.attr in LOGGING_NAMES:
            yield node.lineno, f"uses {node.attr} (logging)"


def pure_room_problems(source: str) -> list[Found]:
    """What in the source of a pure module breaks the rule."""
    tree = ast.parse(source)
    return sorted({*forbidden_imports(tree), *forbidden_calls(tree), *random_draws(tree),
                   *forbidden_attributes(tree), *logging_names(tree)})


# --- the checks of every module: imports between rooms ------------------------------------

def import_problems(source: str, room: str) -> list[Found]:
    """The imports of a module of ``room`` that break the rule: relative
    ones, and those of a room it may not import."""
    if room not in ROOM_IMPORTS:
        return [(1, f"the room {room!r} is not in ROOM_IMPORTS: say what it may import")]
    allowed = ROOM_IMPORTS[room] | {room}
    found = []
    for node, names in imports(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            found.append((node.lineno, f"a relative import (from {'.' * node.level}"
                                       f"{node.module or ''}): name the room"))
        for name in names:
            if (name == "swarm" or name.startswith("swarm.")) and room_of(name) not in allowed:
                found.append((node.lineno, f"imports {name}: {room} may not import "
                                           f"{room_of(name)}"))
    return sorted(found)


def room_graph() -> dict[str, dict[str, list[str]]]:
    """Which room imports which, with where: {room: {imported room: [file:line]}}."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in ALL_MODULES:
        room = room_of_path(path)
        for node, names in imports(ast.parse(path.read_text(encoding="utf-8"))):
            for name in names:
                if name.startswith("swarm.") and room_of(name) != room:
                    where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                    graph.setdefault(room, {}).setdefault(room_of(name), []).append(where)
    return graph


def room_cycles(graph: Mapping[str, Set[str] | Mapping[str, object]]) -> list[list[str]]:
    """Every import cycle between rooms, each once, from its first room in
    alphabetical order, which it ends with again: [io, tools, io]."""
    cycles = []

    def walk(path: list[str]) -> None:
        for following in sorted(graph.get(path[-1], ())):
            if following == path[0]:
                cycles.append([*path, following])
            elif following > path[0] and following not in path:
                walk([*path, following])

    for room in sorted(graph):
        walk([room])
    return cycles


def listed(path: Path, found: list[Found]) -> str:
    where = path.relative_to(PACKAGE.parent)
    return "\n".join(f"{where}:{line}: {what}" for line, what in found)


# --- the package holds the rule -----------------------------------------------------------

def test_every_pure_room_has_modules() -> None:
    assert {path.relative_to(PACKAGE).parts[0] for path in PURE_MODULES} == {
        *PURE_ROOMS, "units.py"}


@pytest.mark.parametrize("path", PURE_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_modules_touch_no_socket_disk_clock_randomness_log_or_settings(
        path: Path) -> None:
    found = pure_room_problems(path.read_text(encoding="utf-8"))
    assert not found, "\n" + listed(path, found)


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_room_imports_only_the_rooms_it_may(path: Path) -> None:
    found = import_problems(path.read_text(encoding="utf-8"), room_of_path(path))
    assert not found, "\n" + listed(path, found)


def test_no_import_cycle_between_rooms() -> None:
    graph = room_graph()
    cycles = room_cycles(graph)
    assert not cycles, "\n" + "\n".join(
        " -> ".join(cycle) + ": " + "; ".join(
            f"{a} imports {b} at {', '.join(graph[a][b])}" for a, b in itertools.pairwise(cycle))
        for cycle in cycles)


def test_the_table_of_rooms_has_no_cycle() -> None:
    assert room_cycles(ROOM_IMPORTS) == []


def test_only_the_io_side_and_the_tools_import_zmq() -> None:
    importers = sorted(
        f"{path.relative_to(PACKAGE)}:{node.lineno}" for path in ALL_MODULES
        for node, names in imports(ast.parse(path.read_text(encoding="utf-8")))
        if any(name.split(".")[0] == "zmq" for name in names))
    assert all(where.startswith(("io/", "tools/")) for where in importers), importers


# --- each check catches what it forbids ---------------------------------------------------

@pytest.mark.parametrize(("source", "said"), [
    # sockets, threads, the disk, the clock, the process's randomness
    ("import zmq", "imports zmq"),
    ("from threading import Thread", "imports threading"),
    ("import time\nnow = time.monotonic()", "imports time"),
    ("import os\nos.urandom(16)", "imports os"),
    ("data = open('x').read()", "calls open()"),
    # random, under its own name or another
    ("import random\nrng = random.Random()", "uses random (the random module)"),
    ("import random\nx = random.random()", "uses random (the random module)"),
    ("import random\ndraw = random.random", "uses random (the random module)"),
    ("import random as r\nx = r.random()", "uses r (the random module)"),
    ("from random import choice", "imports from random"),
    ("from random import Random as R", "imports from random"),
    # print, stdout, stderr, stdin
    ("print('hello')", "calls print()"),
    ("name = input()", "calls input()"),
    ("import sys\nsys.stdout.write('x')", "uses sys's stdout"),
    ("import sys\nsys.stderr.write('x')", "uses sys's stderr"),
    ("import sys\nline = sys.stdin.readline()", "uses sys's stdin"),
    ("import sys as system\nsystem.__stdout__.flush()", "uses sys's __stdout__"),
    ("from sys import stderr", "imports stderr from sys"),
    # logging: the module, a handler, a logger however reached
    ("import logging", "imports logging"),
    ("import logging.handlers", "imports logging.handlers"),
    ("from logging import getLogger", "imports logging"),
    ("from swarm.protocol import fields\nlog = fields.getLogger('swarm.peer')",
     "uses getLogger (logging)"),
    ("handler = StreamHandler()", "uses StreamHandler (logging)"),
    ("import warnings\nwarnings.warn('careful')", "imports warnings"),
    # the clock through datetime
    ("import datetime\nstamp = datetime.datetime.now()", "uses datetime's now"),
    ("from datetime import datetime\nstamp = datetime.utcnow()", "uses datetime's utcnow"),
    ("from datetime import date as day\nstamp = day.today()", "uses datetime's today"),
    # settings loaders (swarm.config is the room rule's); imports by a name in a string
    ("import tomllib", "imports tomllib"),
    ("from configparser import ConfigParser", "imports configparser"),
    ("import importlib\nmodule = importlib.import_module('os')", "imports importlib"),
    ("module = __import__('os')", "calls __import__()"),
    # at any depth, not only at the top of the module
    ("def f() -> None:\n    import socket", "imports socket"),
    ("if True:\n    import os", "imports os"),
    ("try:\n    import zmq\nexcept ImportError:\n    pass", "imports zmq"),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import threading",
     "imports threading"),
    ("class A:\n    def f(self) -> None:\n        print('x')", "calls print()"),
])
def test_the_pure_rule_catches_what_it_forbids(source: str, said: str) -> None:
    found = pure_room_problems(source)
    assert any(said in what for _, what in found), f"{source!r}: {found}"


@pytest.mark.parametrize("source", [
    "import random\n\ndef pick(rng: random.Random) -> int:\n    return rng.randrange(3)\n",
    "import random\n\nclass Picker:\n    rng: random.Random\n",
    "from datetime import datetime\nstamp = datetime.fromtimestamp(0.0)",
    "import sys\nBIG = sys.maxsize",
    "def say(out: Outbox) -> None:\n    out.info('created %s', 'x')",
])
def test_the_pure_rule_allows_what_comes_in_as_values(source: str) -> None:
    assert pure_room_problems(source) == []


@pytest.mark.parametrize(("room", "source", "said"), [
    # the pure rooms import no IO, tools, command line or settings loader
    ("peer", "from swarm.io.peer.store import Store", "peer may not import io"),
    ("peer", "from swarm import io", "peer may not import io"),
    ("http", "import swarm.tools.report", "http may not import tools"),
    ("protocol", "from swarm.cli import main", "protocol may not import cli"),
    ("peer", "from swarm.config import Settings", "peer may not import config"),
    ("tracker", "from swarm import config", "tracker may not import config"),
    # the tracker and the peer keep to themselves
    ("tracker", "from swarm.peer.punch import PUNCH_ATTEMPTS", "tracker may not import peer"),
    ("peer", "from swarm.tracker.state import TrackerState", "peer may not import tracker"),
    # the IO side imports neither the tools nor the command line, at any depth
    ("io", "from swarm.tools.report import status_json", "io may not import tools"),
    ("io", "def f() -> None:\n    from swarm.tools.report import status_json",
     "io may not import tools"),
    ("io", "from swarm.cli.exit_codes import EXIT_OK", "io may not import cli"),
    ("tools", "from swarm.cli import main", "tools may not import cli"),
    # relative imports, which name no room
    ("peer", "from . import names", "a relative import (from .)"),
    ("io", "from ..tools import report", "a relative import (from ..tools)"),
    # a room nobody placed
    ("newroom", "import json", "not in ROOM_IMPORTS"),
])
def test_the_room_rule_catches_what_it_forbids(room: str, source: str, said: str) -> None:
    found = import_problems(source, room)
    assert any(said in what for _, what in found), f"{room}: {source!r}: {found}"


@pytest.mark.parametrize(("room", "source"), [
    ("peer", "from swarm.protocol.chunks import ChunkSet"),
    ("io", "from swarm.peer.state import PeerState"),
    ("io", "from swarm.config import Settings"),
    ("tools", "from swarm.io.common.curve import keys_from"),
    ("cli", "from swarm.tools import report"),
    ("config", "from swarm.units import parse_size"),
])
def test_the_room_rule_allows_imports_downwards(room: str, source: str) -> None:
    assert import_problems(source, room) == []


def test_a_cycle_between_rooms_is_caught() -> None:
    assert room_cycles({"io": {"tools"}, "tools": {"io"}}) == [["io", "tools", "io"]]
    assert room_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert room_cycles({"cli": {"tools", "io"}, "tools": {"io"}, "io": set()}) == []
