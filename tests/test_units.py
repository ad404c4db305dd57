"""Sizes and rates: read as written (K, KiB = 1024; KB = 1000), printed in IEC."""

from __future__ import annotations

import pytest

from swarm.units import UnitError, exact_size, human_rate, human_size, parse_rate, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [("4096", 4096), ("0", 0), ("512K", 512 << 10), ("512k", 512 << 10),
     ("512KiB", 512 << 10), ("2MiB", 2 << 20), ("2M", 2 << 20), ("2MB", 2_000_000),
     ("10kB", 10_000), ("1.5GiB", 3 << 29), ("1.5G", 3 << 29), ("1TiB", 1 << 40),
     ("7B", 7), (" 3 MiB ", 3 << 20), (".5K", 512), ("1.0007K", 1024)],
)
def test_sizes_read_as_written(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "rate"),
    [("10MB/s", 10_000_000), ("256KiB/s", 256 << 10), ("256K/s", 256 << 10),
     ("1M", 1 << 20), ("100", 100), ("2 MiB/S", 2 << 20)],
)
def test_rates_take_an_optional_per_second(text: str, rate: int) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "K", "abc", "-5", "1.2.3", "1e6", "5X", "1KK", "2 M B"])
def test_nonsense_is_refused(text: str) -> None:
    with pytest.raises(UnitError):
        parse_size(text)


@pytest.mark.parametrize("text", ["10Mb", "10kb", "4kib", "1b"])
def test_a_small_b_reads_as_bits_and_is_refused(text: str) -> None:
    with pytest.raises(UnitError, match="capital B"):
        parse_size(text)


def test_a_rate_error_quotes_what_was_written() -> None:
    with pytest.raises(UnitError, match=r"'10Mb/s'"):
        parse_rate("10Mb/s")
    with pytest.raises(UnitError, match="not a rate"):
        parse_rate("fast/s")


def test_sizes_and_rates_print_in_iec_units() -> None:
    assert human_size(0) == "0 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(3 << 30) == "3.0 GiB"
    assert human_rate(1.5 * (1 << 20)) == "1.5 MiB/s"
    assert human_rate(100) == "100 B/s"


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0"), (1000, "1000"), (512 << 10, "512KiB"), (4 << 20, "4MiB"),
     (1536 << 10, "1536KiB"), (2 << 30, "2GiB")],
)
def test_exact_sizes_read_back_to_the_same_number(size: int, text: str) -> None:
    assert exact_size(size) == text
    assert parse_size(text) == size
