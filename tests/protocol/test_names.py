"""The file-name rule: one plain, visible path component that cannot break a line."""

from __future__ import annotations

import pytest

from swarm.protocol.names import MAX_NAME_BYTES, name_problem

# 85 three-byte characters: exactly the 255-byte limit in UTF-8.
NAME_OF_255_BYTES = "日" * 85
NAME_OF_256_BYTES = "a" + NAME_OF_255_BYTES


def test_limit_fixtures_have_the_intended_lengths() -> None:
    assert len(NAME_OF_255_BYTES.encode("utf-8")) == MAX_NAME_BYTES == 255
    assert len(NAME_OF_256_BYTES.encode("utf-8")) == 256


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "file.txt",
        "with spaces in it.txt",
        "é ü 日本.txt",
        "emoji 🎉.bin",
        "trailing.dot.",
        "a..b",
        "-dash",
        "x" * 255,
        NAME_OF_255_BYTES,
    ],
)
def test_accepted_names(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        (".", "directory"),
        ("..", "directory"),
        (".hidden", "hidden"),
        ("a/b", "separator"),
        ("/abs", "separator"),
        ("a\\b", "separator"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("a\rb", "control"),
        ("a\tb", "control"),
        ("a\x1bb", "control"),
        ("a\x7fb", "control"),
        ("x" * 256, "longer"),
        (NAME_OF_256_BYTES, "longer"),
        ("bad\udc80surrogate", "UTF-8"),
    ],
)
def test_refused_names(name: str, problem: str) -> None:
    reason = name_problem(name)
    assert reason is not None and problem in reason


@pytest.mark.parametrize("value", [None, 3, b"file.txt", ["file.txt"], 1.5])
def test_non_strings_are_refused(value: object) -> None:
    assert name_problem(value) == "not a string"


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029"])
def test_unicode_line_breaks_are_refused(separator: str) -> None:
    name = f"a{separator}b"
    # The module promises a name "cannot break a line"; these do for any
    # reader that splits lines the way Python's str.splitlines() does.
    assert len(f"PEER 1 ACQUIRED: CHUNK 1/1 {name}".splitlines()) == 2
    assert name_problem(name) is not None
