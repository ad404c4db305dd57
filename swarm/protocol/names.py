"""The rule for file names that cross the network.

A name is written under ``./Shared`` and printed on a line of stdout, so it must
be one plain, visible path component that cannot break a line either.
"""

from __future__ import annotations

import re
from functools import lru_cache

MAX_NAME_BYTES = 255  # the usual file-system limit for one component

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators:
# everything some reader of our stdout might take for the end of a line.
_LINE_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def name_problem(name: object) -> str | None:
    """Why ``name`` is not acceptable as a shared file name, or None if it is."""
    if not isinstance(name, str):
        return "not a string"
    return _str_name_problem(name)


@lru_cache(maxsize=8192)  # a swarm repeats the same few names in every snapshot and event
def _str_name_problem(name: str) -> str | None:
    if not name:
        return "empty"
    if name in (".", ".."):
        return "a directory reference"
    if name.startswith("."):
        return "hidden"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if _LINE_BREAKERS.search(name):
        return "contains a control character or line break"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid UTF-8"
    if len(encoded) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    return None
