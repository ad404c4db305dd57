"""The reference sections of the documentation, generated from the code.

    python -m swarm.cli.reference            check: exit 1 naming each stale section
    python -m swarm.cli.reference --update   rewrite the stale sections in docs/
    python -m swarm.cli.reference --print wire   print one section

Each section sits in a page of docs/ between two marker lines (HTML
comments, invisible on the site), so a page can be part prose, part
generated.  They come from public entry points only:

    cli       docs/reference/cli.md       swarm.cli.parser.build_parser()
    settings  docs/reference/settings.md  swarm.config.Settings and SETTING_HELP, the env prefix
    wire      docs/protocol.md            swarm.protocol.catalogue and PROTOCOL_VERSION
    metrics   docs/reference/metrics.md   the tracker's registry (swarm.io.http.metrics)
    layout    docs/architecture.md        every module, with its docstring's first sentence

The pages are checked in, and tests/cli/test_reference.py fails when one
differs from what the code generates now: `make test` catches the drift
without building the site, and the pages read the same on the forge.
"""

from __future__ import annotations

import argparse
import ast
import html
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from swarm.protocol.catalogue import RECORDS, ROUTES
from swarm.protocol.messages import PROTOCOL_VERSION
from swarm.protocol.peer_messages import ChunkData
from swarm.protocol.record import Record

DOCS = Path(__file__).resolve().parents[2] / "docs"
COMMAND = "python -m swarm.cli.reference --update"


def begin_marker(name: str) -> str:
    return f"<!-- generated: {name} ({COMMAND}) -->"


def end_marker(name: str) -> str:
    return f"<!-- end of generated: {name} -->"


class SectionMissing(ValueError):
    """A page lacks the markers of a section it should hold."""


def _escaped(text: str) -> str:
    for char in "\\`*_[]|":
        text = text.replace(char, "\\" + char)
    return text.replace("<", "&lt;")


def cell(text: str) -> str:
    """Text for a Markdown table cell: nothing in it may start a link,
    emphasis, an HTML tag or a new cell."""
    return " ".join(_escaped(text).split())


CODE_SPAN = re.compile(r"``(.+?)``|`([^`]+)`")


def prose_cell(text: str) -> str:
    """A docstring's sentence for a table cell: its ``code`` and `code`
    spans as code, the rest as ``cell`` writes text."""
    parts = []
    at = 0
    for span in CODE_SPAN.finditer(text):
        parts += [_escaped(text[at:span.start()]), code(span.group(1) or span.group(2))]
        at = span.end()
    parts.append(_escaped(text[at:]))
    return " ".join("".join(parts).split())


def code(text: str) -> str:
    """Code for a table cell, written as HTML: a pipe in a Markdown code span
    ends the cell on some renderers and shows its escape on others."""
    return "<code>" + html.escape(text, quote=False).replace("|", "&#124;") + "</code>"


def sentence(text: str) -> str:
    """A help line as a sentence: capital first, full stop last."""
    text = cell(text)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# --- the wire protocol ----------------------------------------------------------


def _summary(cls: type[Record]) -> str:
    doc = (cls.__doc__ or "").strip()
    if not doc or doc.startswith(f"{cls.__name__}("):
        return ""
    first = " ".join(doc.split("\n\n")[0].split())
    return first.replace("``", "`").replace("|", "\\|")


def _fields(cls: type[Record]) -> str:
    names = ", ".join(f"`{name}`" for name in cls._fields) or "—"
    if cls is ChunkData:
        names += " + a frame of raw bytes"
    return names


def wire_section() -> str:
    """Every message (kind, route, sockets, fields, meaning) and every record
    nested in messages, from the catalogue."""
    lines = [f"Protocol version: **{PROTOCOL_VERSION}**.", ""]
    lines += table(["kind", "message", "from → to", "sockets", "fields", "meaning"], [
        [str(cls.KIND), f"`{cls.__name__}`", direction, sockets, _fields(cls), _summary(cls)]
        for direction, sockets, classes in ROUTES for cls in classes])
    lines += ["", "Records inside messages:", ""]
    lines += table(["record", "fields", "meaning"], [
        [f"`{record.__name__}`", _fields(record), _summary(record)] for record in RECORDS])
    return "\n".join(lines) + "\n"


# --- the command line -----------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise ValueError("the parser has no commands")


def _setting_flags() -> dict[str, str]:
    """--flag -> setting name, for every setting."""
    from swarm.config import Settings

    return {"--" + name.replace("_", "-"): name for name in Settings._fields}


def _value_words(action: argparse.Action) -> str:
    """What follows an option or stands for an argument: FILE, auto|always|never."""
    if action.nargs == 0:
        return ""
    if action.choices is not None:
        return "|".join(str(choice) for choice in action.choices)
    if isinstance(action.metavar, str):
        return action.metavar
    return action.dest.upper()


def _argument_words(action: argparse.Action) -> str:
    words = _value_words(action)
    return words + "..." if action.nargs in ("+", "*") else words


def _option_words(action: argparse.Action) -> str:
    value = _value_words(action)
    return ", ".join(f"{option} {value}".strip() for option in action.option_strings)


def _help(action: argparse.Action) -> str:
    text = action.help or "—"
    default = action.default
    if (default not in (None, False, "", argparse.SUPPRESS) and action.nargs != 0
            and "default" not in text):
        text += f" (default: {default})"
    return text


def _epilog_parts(parser: argparse.ArgumentParser) -> tuple[str, str]:
    """A command's examples, and the exit codes, from its epilog."""
    epilog = parser.epilog or ""
    examples, _, codes = epilog.partition("exit codes:")
    return _outdented(examples.removeprefix("examples:")), _outdented(codes)


def _outdented(text: str) -> str:
    """An epilog's block without the two spaces argparse's help indents it by."""
    return "\n".join(line.removeprefix("  ") for line in text.strip("\n").splitlines())


def _optionals(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            yield action


def _actions_table(what: str, actions: list[argparse.Action],
                   words: Callable[[argparse.Action], str]) -> list[str]:
    """A table of arguments or options and their help, and the blank line after it."""
    return [*table([what, "meaning"], [[code(words(a)), cell(_help(a))] for a in actions]), ""]


def _command_page(name: str, command: argparse.ArgumentParser, global_flags: set[str],
                  settings: dict[str, str]) -> list[str]:
    positionals = [a for a in command._actions if not a.option_strings]
    own = [a for a in _optionals(command)
           if not set(a.option_strings) & global_flags and a.option_strings[0] not in settings]
    setting_flags = [a for a in _optionals(command) if a.option_strings[0] in settings]
    synopsis = " ".join(["swarm", name, *(_argument_words(a) for a in positionals)])
    if own or setting_flags:
        synopsis += " [options]"
    lines = [f"## swarm {name}", "", sentence(command.description or ""), "", "```",
             synopsis, "```", ""]
    if positionals:
        lines += _actions_table("argument", positionals, _argument_words)
    if own:
        lines += _actions_table("option", own, _option_words)
    if setting_flags:
        lines += ["Settings ([what each does](settings.md)); a flag overrides the "
                  "environment and the settings file:", ""]
        lines += _actions_table("flag", setting_flags, _option_words)
    examples, _ = _epilog_parts(command)
    if examples:
        lines += ["Examples:", "", "```", *examples.splitlines(), "```", ""]
    return lines


def cli_section() -> str:
    """Every command with its arguments, options and setting flags, from the
    parser the `swarm` command itself uses."""
    from swarm.cli.parser import build_parser

    parser = build_parser()
    commands = _subcommands(parser)
    settings = _setting_flags()
    global_actions = list(_optionals(parser))
    global_flags = {flag for action in global_actions for flag in action.option_strings}
    help_lines = {choice.dest: choice.help or ""
                  for action in parser._actions
                  if isinstance(action, argparse._SubParsersAction)
                  for choice in action._choices_actions}
    lines = ["```", "swarm [--config FILE] [--version] COMMAND [ARGUMENTS] [OPTIONS]", "```",
             "", sentence(parser.description or ""), ""]
    lines += table(["command", "what it does"], [
        [f"[`{name}`](#swarm-{name})", cell(help_lines.get(name, ""))] for name in commands])
    lines += ["", "Options of every command, given before the command or after it "
              "(`-h`, `--help` too):", ""]
    lines += _actions_table("option", global_actions, _option_words)
    _, codes = _epilog_parts(parser)
    lines += ["Exit codes:", "", "```", *codes.splitlines(), "```", ""]
    for name, command in commands.items():
        lines += _command_page(name, command, global_flags, settings)
    return "\n".join(lines).rstrip("\n") + "\n"


# --- settings -------------------------------------------------------------------


def _setting_kind(name: str, default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if name.endswith("_bytes_s"):
        return "rate, bytes/s"
    if name.endswith("_bytes"):
        return "size, bytes"
    if name.endswith("_s"):
        return "seconds"
    if isinstance(default, int):
        return "whole number"
    return "text"


def _readers() -> dict[str, list[str]]:
    """setting -> the commands whose parser takes its flag (but `config`,
    which shows them all)."""
    from swarm.cli.parser import build_parser

    settings = _setting_flags()
    readers: dict[str, list[str]] = {name: [] for name in settings.values()}
    for command_name, command in _subcommands(build_parser()).items():
        if command_name == "config":
            continue
        for action in _optionals(command):
            setting = settings.get(action.option_strings[0])
            if setting is not None:
                readers[setting].append(command_name)
    return readers


def settings_section() -> str:
    """Every setting: its type, default, environment variable, flag, the
    commands that read it and what it does, from the settings definition."""
    from swarm.config import ENV_PREFIX, SETTING_HELP, Settings, setting_literal

    defaults = Settings()
    readers = _readers()
    flags = {name: flag for flag, name in _setting_flags().items()}
    shown = {name: "(empty)" if getattr(defaults, name) == ""
             else code(setting_literal(name, getattr(defaults, name)))
             for name in Settings._fields}
    lines = table(["setting", "type", "default"], [
        [f"[`{name}`](#{name})", _setting_kind(name, getattr(defaults, name)), shown[name]]
        for name in Settings._fields])
    for name in Settings._fields:
        read_by = ", ".join(f"[{c}](cli.md#swarm-{c})" for c in readers[name]) or "—"
        lines += ["", f"### `{name}`", "", sentence(SETTING_HELP[name]), "",
                  f"- type: {_setting_kind(name, getattr(defaults, name))}; "
                  f"default: {shown[name]}",
                  f"- environment: `{ENV_PREFIX}{name.upper()}`; flag: `{flags[name]}`",
                  f"- read by: {read_by}"]
    return "\n".join(lines) + "\n"


# --- metrics --------------------------------------------------------------------


def _sample_status() -> dict[str, Any]:
    """A status as `swarm status --json` prints it (one peer, one file), so
    that every gauge, even one absent while it cannot be told, is made."""
    peer = {"peer": 1, "endpoint": "tcp://127.0.0.1:40003", "role": "peer", "complete": [],
            "excused": [], "chunks": {}, "bytes_held": 0, "recv_bytes_s": 0.0,
            "send_bytes_s": 0.0, "received_bytes": 0, "sent_bytes": 0}
    file = {"name": "a.bin", "size": 512, "chunks": 1, "digest": "00" * 32, "available": True,
            "complete_holders": [1], "partial_holders": [], "lacking": [],
            "remaining_bytes": 0, "recv_bytes_s": 0.0, "eta_s": 0.0}
    totals = {"peers": 1, "files": 1, "moved_bytes": 0, "recv_bytes_s": 0.0,
              "send_bytes_s": 0.0, "remaining_bytes": 0, "eta_s": 0.0}
    return {"event": 0, "time": 0.0, "totals": totals, "peers": [peer], "files": [file]}


def _metric_unit(name: str) -> str:
    for suffix, unit in (("_bytes_per_second", "bytes/s"), ("_bytes", "bytes"),
                         ("_seconds", "seconds")):
        if name.endswith(suffix):
            return unit
    return "count"


def metric_families() -> list[Any]:
    """The metric families of a tracker's /metrics, as its registry makes them."""
    from swarm.io.http.feed import DashboardFeed
    from swarm.io.http.metrics import TrackerMetrics

    feed = DashboardFeed()
    metrics = TrackerMetrics(feed)
    feed.publish_status(_sample_status())
    return list(metrics.registry.collect())


def exposed_name(family: Any) -> str:
    """The name a scrape shows: counters end in _total."""
    return str(family.name) + ("_total" if family.type == "counter" else "")


def metrics_section() -> str:
    """Every metric family of /metrics: name, type, unit, labels, meaning."""
    rows = []
    buckets: list[str] = []
    for family in metric_families():
        labels = list(getattr(family, "_labelnames", ()))
        for sample in family.samples:
            labels += [k for k in sample.labels if k not in labels and k != "le"]
            if family.type == "histogram" and "le" in sample.labels:
                buckets.append(sample.labels["le"])
        rows.append([f"`{exposed_name(family)}`", family.type, _metric_unit(family.name),
                     ", ".join(f"`{label}`" for label in labels) or "—",
                     cell(family.documentation)])
    lines = table(["metric", "type", "unit", "labels", "meaning"], rows)
    if buckets:
        lines += ["", "The histogram's buckets (`le`, seconds): "
                  + ", ".join(f"`{b}`" for b in buckets) + "."]
    return "\n".join(lines) + "\n"


# --- the pages ------------------------------------------------------------------

# --- the layout -------------------------------------------------------------------

PACKAGE = Path(__file__).resolve().parents[1]
# The rooms in the order a reader meets them: the pure ones, the IO side by
# role, then what a person runs around them.
ROOMS = ("protocol", "tracker", "peer", "http", "io", "io/common", "io/peer", "io/tracker",
         "io/http", "tools", "cli")


def _first_sentence(path: Path) -> str:
    """The first sentence of a module's docstring, on one line."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(doc.split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[:end + 1]


def layout_section() -> str:
    """Every module of the package under its room, each with the first
    sentence of its docstring: the map of the code, read from the code."""
    lines = []
    for room in ROOMS:
        folder = PACKAGE / room
        lines += [f"**`{room}/`** — {prose_cell(_first_sentence(folder / '__init__.py'))}", ""]
        rows = [[f"`{path.name}`", prose_cell(_first_sentence(path))]
                for path in sorted(folder.glob("*.py")) if path.name != "__init__.py"]
        if rows:
            lines += table(["module", "what it is"], rows)
            lines.append("")
    top = [[f"`{path.name}`", prose_cell(_first_sentence(path))]
           for path in sorted(PACKAGE.glob("*.py")) if path.name != "__init__.py"]
    lines += ["**Beside the rooms**, at the top of the package:", "", *table(
        ["module", "what it is"], top)]
    return "\n".join(lines).rstrip("\n") + "\n"


SECTIONS: dict[str, tuple[str, Callable[[], str]]] = {
    "cli": ("reference/cli.md", cli_section),
    "settings": ("reference/settings.md", settings_section),
    "wire": ("protocol.md", wire_section),
    "metrics": ("reference/metrics.md", metrics_section),
    "layout": ("architecture.md", layout_section),
}


def checked_in(text: str, name: str) -> str:
    """The section ``name`` as a page holds it (between its markers)."""
    begin, end = begin_marker(name), end_marker(name)
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise SectionMissing(f"the page lacks one pair of markers {begin!r} ... {end!r}")
    start = text.index(begin) + len(begin)
    return text[start:text.index(end)].removeprefix("\n\n").removesuffix("\n")


def replaced(text: str, name: str, content: str) -> str:
    """The page with section ``name`` holding ``content``."""
    checked_in(text, name)  # both markers are there, once each
    begin, end = begin_marker(name), end_marker(name)
    start = text.index(begin) + len(begin)
    return text[:start] + "\n\n" + content + "\n" + text[text.index(end):]


def stale_sections(docs: Path | None = None) -> list[str]:
    """The sections whose checked-in text differs from what the code makes now."""
    docs = DOCS if docs is None else docs
    stale = []
    for name, (page, render) in SECTIONS.items():
        try:
            held = checked_in((docs / page).read_text(encoding="utf-8"), name)
        except (OSError, SectionMissing):
            stale.append(name)
            continue
        if held != render():
            stale.append(name)
    return stale


def update(docs: Path | None = None) -> list[str]:
    """Rewrite the stale sections; the pages rewritten."""
    docs = DOCS if docs is None else docs
    written = []
    for name in stale_sections(docs):
        page, render = SECTIONS[name]
        path = docs / page
        path.write_text(replaced(path.read_text(encoding="utf-8"), name, render()),
                        encoding="utf-8")
        written.append(page)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--update", action="store_true", help="rewrite the stale sections")
    what.add_argument("--print", choices=sorted(SECTIONS), metavar="SECTION",
                      help="print one section: " + ", ".join(SECTIONS))
    args = parser.parse_args(argv)
    if args.print:
        sys.stdout.write(SECTIONS[args.print][1]())
        return 0
    if args.update:
        for page in update():
            print(f"rewrote docs/{page}")
        return 0
    stale = stale_sections()
    for name in stale:
        print(f"docs/{SECTIONS[name][0]}: the {name} reference differs from the code; "
              f"run {COMMAND}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
