"""The rule of the layout, held by a test rather than by discipline: the pure
packages (``swarm.protocol``, ``swarm.tracker``, ``swarm.peer``) touch no
socket, no thread, no disk and no clock, and draw no randomness of their
own.  Time and randomness come in as arguments; the IO side (``swarm.io``)
owns the sockets, the disk and the clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "swarm"
PURE = ("protocol", "tracker", "peer", "http")

# Modules a pure module may not import, by their top-level name: sockets,
# threads and processes, the disk, the clock, the process's randomness.
FORBIDDEN_MODULES = {
    "zmq", "socket", "select", "selectors", "asyncio", "threading", "multiprocessing",
    "subprocess", "signal", "os", "shutil", "pathlib", "tempfile", "io", "time", "secrets",
}
# Nor any of the IO side or the tools.
FORBIDDEN_PACKAGES = ("swarm.io", "swarm.tools", "swarm.cli")
# ``random`` is allowed for its type (an injected random.Random); calling into
# it -- random.random(), an unseeded random.Random() -- is drawing from the
# process.  Neither may a pure module open a file.
FORBIDDEN_CALLS = {"open"}


def problems(source: str) -> list[str]:
    """What in this module's source breaks the rule."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "random":
                found.append(f"line {node.lineno}: from random import ...")
            if node.module == "swarm":  # from swarm import io, tools, ...
                names += [f"swarm.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"line {node.lineno}: calls {func.id}()")
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                    and func.value.id == "random":
                found.append(f"line {node.lineno}: calls random.{func.attr}()")
            continue
        else:
            continue
        for name in names:
            if name.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"line {node.lineno}: imports {name}")
            if any(name == p or name.startswith(p + ".") for p in FORBIDDEN_PACKAGES):
                found.append(f"line {node.lineno}: imports {name}")
    return found


PURE_MODULES = sorted(path for package in PURE for path in (PACKAGE / package).glob("*.py"))


def test_every_pure_package_has_modules() -> None:
    assert {path.parent.name for path in PURE_MODULES} == set(PURE)


@pytest.mark.parametrize("path", PURE_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pure_modules_touch_no_socket_disk_clock_or_randomness(path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("source", [
    "import zmq",
    "from threading import Thread",
    "import time\nnow = time.monotonic()",
    "from swarm.io.peer.store import Store",
    "from swarm import io",
    "import random\nrng = random.Random()",
    "import random\nx = random.random()",
    "from random import choice",
    "import os\nos.urandom(16)",
    "data = open('x').read()",
])
def test_the_rule_catches_what_it_forbids(source: str) -> None:
    assert problems(source), f"not caught: {source!r}"


def test_the_rule_allows_an_injected_random_generator() -> None:
    assert problems("import random\n\ndef pick(rng: random.Random) -> int:\n"
                    "    return rng.randrange(3)\n") == []


def test_only_the_io_side_imports_zmq() -> None:
    importers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(line.startswith(("import zmq", "from zmq"))
               for line in path.read_text(encoding="utf-8").splitlines())
    )
    assert all(name.startswith(("io/", "tools/")) for name in importers), importers
