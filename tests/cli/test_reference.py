"""The reference pages of docs/ are the ones the code generates, and they
name every command, option, setting, message and metric."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from swarm.cli import reference as docs_ref
from swarm.cli.parser import build_parser
from swarm.config import ENV_PREFIX, SETTING_NAMES, Settings, setting_literal
from swarm.protocol.catalogue import ALL_MESSAGES, RECORDS, ROUTES
from swarm.protocol.codec import decode, encode_frames
from swarm.protocol.messages import PROTOCOL_VERSION

README = docs_ref.DOCS.parent / "README.md"


def page(name: str) -> str:
    return (docs_ref.DOCS / docs_ref.SECTIONS[name][0]).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(docs_ref.SECTIONS))
def test_the_checked_in_reference_is_what_the_code_generates(name: str) -> None:
    assert docs_ref.checked_in(page(name), name) == docs_ref.SECTIONS[name][1](), (
        f"docs/{docs_ref.SECTIONS[name][0]} is stale: run {docs_ref.COMMAND}")


def test_a_stale_section_is_found_and_rewritten(tmp_path: Path) -> None:
    for name, (page_path, render) in docs_ref.SECTIONS.items():
        target = tmp_path / page_path
        target.parent.mkdir(parents=True, exist_ok=True)
        stale = render().replace("|", "¦", 1) if name != "wire" else "| 0 | `Gone` |\n"
        target.write_text(f"# {name}\n\nprose\n\n{docs_ref.begin_marker(name)}\n\n{stale}\n"
                          f"{docs_ref.end_marker(name)}\n\nmore prose\n", encoding="utf-8")
    assert docs_ref.stale_sections(tmp_path) == list(docs_ref.SECTIONS)
    assert sorted(docs_ref.update(tmp_path)) == sorted(p for p, _ in docs_ref.SECTIONS.values())
    assert docs_ref.stale_sections(tmp_path) == []
    text = (tmp_path / docs_ref.SECTIONS["wire"][0]).read_text(encoding="utf-8")
    assert text.startswith("# wire\n\nprose\n\n") and text.endswith("\n\nmore prose\n")
    assert docs_ref.update(tmp_path) == []  # nothing left to rewrite


def test_a_page_without_its_markers_is_stale(tmp_path: Path) -> None:
    (tmp_path / "protocol.md").write_text("# no markers\n", encoding="utf-8")
    assert "wire" in docs_ref.stale_sections(tmp_path)
    with pytest.raises(docs_ref.SectionMissing):
        docs_ref.checked_in("# no markers\n", "wire")


def test_the_check_command_fails_on_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(docs_ref, "DOCS", tmp_path)
    assert docs_ref.main([]) == 1
    assert f"run {docs_ref.COMMAND}" in capsys.readouterr().err


# --- the command line ---------------------------------------------------------


def _commands() -> dict[str, argparse.ArgumentParser]:
    return docs_ref._subcommands(build_parser())


def test_every_command_option_and_setting_flag_is_in_the_cli_reference() -> None:
    reference = docs_ref.checked_in(page("cli"), "cli")
    sections = {part.split("\n", 1)[0]: part for part in reference.split("\n## swarm ")[1:]}
    assert list(sections) == list(_commands())
    for name, command in _commands().items():
        section = sections[name]
        for action in command._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help", "--config", "--version"):
                    assert f"<code>{option}" in section, f"swarm {name} {option}"
        for action in command._actions:
            if not action.option_strings and action.help is not None:
                assert docs_ref.cell(action.help) in section
    for option in ("--config FILE", "--version"):
        assert f"<code>{option}" in reference


def test_every_setting_has_a_flag_in_the_cli_reference() -> None:
    reference = docs_ref.checked_in(page("cli"), "cli")
    for name in SETTING_NAMES:
        assert f"<code>--{name.replace('_', '-')} " in reference, name


# --- settings -----------------------------------------------------------------


def test_every_setting_has_an_entry_with_its_default_environment_variable_and_flag() -> None:
    reference = docs_ref.checked_in(page("settings"), "settings")
    entries = {part.split("`", 1)[0]: part for part in reference.split("\n### `")[1:]}
    assert list(entries) == list(SETTING_NAMES)
    defaults = Settings()
    for name in SETTING_NAMES:
        value = getattr(defaults, name)
        shown = "(empty)" if value == "" else docs_ref.code(setting_literal(name, value))
        assert f"default: {shown}\n" in entries[name], f"another default for {name}"
        assert f"`{ENV_PREFIX}{name.upper()}`" in entries[name]
        assert f"flag: `--{name.replace('_', '-')}`" in entries[name]
        assert f"| [`{name}`](#{name}) |" in reference


def test_the_readers_of_a_setting_are_the_commands_with_its_flag() -> None:
    readers = docs_ref._readers()
    assert readers["expiry_misses"] == ["tracker"]
    assert readers["tracker_grace_s"] == ["peer", "get", "seed"]
    assert "ls" in readers["key"] and "config" not in readers["key"]


# --- the wire -----------------------------------------------------------------


def test_every_message_has_a_route_and_a_kind_of_its_own() -> None:
    routed = {cls for _, _, classes in ROUTES for cls in classes}
    assert routed == set(ALL_MESSAGES)
    kinds = [cls.KIND for cls in ALL_MESSAGES]
    assert len(kinds) == len(set(kinds))


def test_every_message_and_record_is_in_the_wire_reference_with_every_field() -> None:
    reference = docs_ref.wire_section()
    assert f"Protocol version: **{PROTOCOL_VERSION}**." in reference
    for cls in ALL_MESSAGES:
        assert f"| {cls.KIND} | `{cls.__name__}` |" in reference
        for field in cls._fields:
            assert f"`{field}`" in reference
    for record in RECORDS:
        assert f"| `{record.__name__}` |" in reference
    # The codec and the reference agree on the kinds.
    from swarm.protocol.messages import Heartbeat

    message, _ = decode(encode_frames(Heartbeat()))
    assert isinstance(message, Heartbeat)


# --- metrics ------------------------------------------------------------------


def test_every_metric_a_scrape_shows_is_in_the_metrics_reference() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from swarm.io.http.feed import DashboardFeed
    from swarm.io.http.metrics import TrackerMetrics

    feed = DashboardFeed()
    metrics = TrackerMetrics(feed)
    feed.publish_status(docs_ref._sample_status())
    body, _ = metrics.render()
    scraped = {family.name for family in text_string_to_metric_families(body.decode())}
    reference = docs_ref.checked_in(page("metrics"), "metrics")
    listed = set(re.findall(r"^\| `(swarm_\w+)` \|", reference, re.MULTILINE))
    # The parser names counters without their _total, as the registry does.
    assert {name.removesuffix("_total") for name in listed} == scraped
    assert len(listed) == 19


# --- the README points into the docs ------------------------------------------


def test_the_readme_stays_short_and_its_links_lead_somewhere() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 12 * 1024
    targets = re.findall(r"\]\((?!https?://|#)([^)#\s]+)", text)
    assert targets, "the README links into the docs"
    for target in targets:
        assert (README.parent / target).exists(), f"README links to a missing {target}"
