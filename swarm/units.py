"""Sizes and rates as people write and read them.

Reading takes a unit exactly as written: the IEC units (``KiB``, ``MiB``,
``GiB``, ``TiB``) are powers of 1024, the SI ones (``KB``, ``MB``, ``GB``,
``TB``) powers of 1000, and a bare letter (``K``, ``M``, ``G``, ``T``) means
the IEC unit, since that is what people who write ``512K`` for a buffer
mean.  The prefix letter may be either case, but a byte is a capital
``B``: ``Mb`` or ``kib`` reads as bits, which no setting counts, so it is
refused rather than guessed.  A rate may end in ``/s``.  Printing always
uses IEC.
"""

from __future__ import annotations

import math
import re

_IEC_UNITS = ("B", "KiB", "MiB", "GiB")

_MULTIPLIERS = {
    "": 1, "b": 1,  # keys in lower case; the text's case is checked apart
    "k": 1 << 10, "kib": 1 << 10, "kb": 1000,
    "m": 1 << 20, "mib": 1 << 20, "mb": 1000**2,
    "g": 1 << 30, "gib": 1 << 30, "gb": 1000**3,
    "t": 1 << 40, "tib": 1 << 40, "tb": 1000**4,
}

_AMOUNT = re.compile(r"\s*(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?P<unit>[A-Za-z]*)\s*")

UNITS_HINT = "e.g. 4096, 512K, 512KiB, 2MiB, 10MB; K and KiB are 1024, KB is 1000"


class UnitError(ValueError):
    """A size or rate that cannot be read."""


def human_size(size_bytes: float) -> str:
    for unit in _IEC_UNITS:
        if abs(size_bytes) < 1024 or unit == "GiB":
            return f"{size_bytes:.0f} {unit}" if unit == "B" else f"{size_bytes:.1f} {unit}"
        size_bytes /= 1024
    raise AssertionError("unreachable")


def human_rate(rate_bytes_s: float) -> str:
    """A rate in IEC units: ``1.5 MiB/s``."""
    return human_size(rate_bytes_s) + "/s"


def exact_size(size_bytes: int) -> str:
    """A byte count in the largest IEC unit that holds it whole (``512KiB``,
    ``4MiB``), else in bytes: text that reads back to the same number."""
    for unit in reversed(_IEC_UNITS[1:]):
        multiplier = _MULTIPLIERS[unit.lower()]
        if size_bytes and size_bytes % multiplier == 0:
            return f"{size_bytes // multiplier}{unit}"
    return str(size_bytes)


def parse_size(text: str) -> int:
    """A byte count from ``"2MiB"``, ``"512K"``, ``"1.5GiB"``, ``"10MB"`` or
    ``"4096"``; fractions of a byte are rounded down."""
    return _parse(text, text, "size")


def parse_rate(text: str) -> int:
    """Bytes per second from a size with an optional ``/s``: ``"10MB/s"``."""
    amount = text.strip()
    if amount.lower().endswith("/s"):
        amount = amount[:-2]
    return _parse(amount, text, "rate")


def _parse(amount: str, text: str, what: str) -> int:
    found = _AMOUNT.fullmatch(amount)
    if found is None:
        raise UnitError(f"{text!r} is not a {what} ({UNITS_HINT})")
    unit = found["unit"]
    multiplier = _MULTIPLIERS.get(unit.lower())
    if multiplier is None:
        raise UnitError(f"{text!r}: unknown unit {unit!r} ({UNITS_HINT})")
    if unit.endswith("b"):
        raise UnitError(f"{text!r}: {unit!r} reads as bits; a byte is a capital B ({UNITS_HINT})")
    value = float(found["number"]) * multiplier
    if not math.isfinite(value):
        raise UnitError(f"{text!r} is too large")
    return int(value)
