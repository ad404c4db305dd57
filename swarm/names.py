"""The rule for file names that cross the network.

A name is written under ``./Shared`` and printed on a line of stdout, so it must
be one plain, visible path component that cannot break a line either.
"""

from __future__ import annotations

MAX_NAME_BYTES = 255  # the usual file-system limit for one component


def name_problem(name: object) -> str | None:
    """Why ``name`` is not acceptable as a shared file name, or None if it is."""
    if not isinstance(name, str):
        return "not a string"
    if not name:
        return "empty"
    if name in (".", ".."):
        return "a directory reference"
    if name.startswith("."):
        return "hidden"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "contains a control character"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid UTF-8"
    if len(encoded) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    return None


def is_valid_name(name: object) -> bool:
    return name_problem(name) is None
