"""The tracker's dashboard page in a real browser: headless Chromium loads `/`
from a tracker started with `--http`, while peers are still fetching, and
the DOM its script built must show every peer and every file with a
progress cell per peer.  A screenshot is kept under the test's folder.

Chromium runs with a virtual clock (`--virtual-time-budget`), which lets
the page's polls run and then ends the run, so the DOM is dumped once the
script has drawn the status.  An open event stream would keep that clock
from ever running out, so the page is loaded with `#events=off` (the
fragment never reaches the server), which skips `/api/events`.  The event
list is seen through the DevTools protocol instead, in real time, which
also tells how long the page takes to show its first data.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Swarm, dashboard_url, random_bytes, wait_for
from tests.e2e.test_cli import swarm_cmd

MIB = 1 << 20
# Slow enough that the fetchers are still at it while the browser looks
# (2 fetchers x 3 MiB at 3 x 200 KB/s: at least 10 s), fast enough to start.
SLOW = {"SWARM_UPLOAD_LIMIT_BYTES_S": "200000"}
BROWSER_TIMEOUT_S = 60
VIRTUAL_TIME_BUDGET_MS = 5000  # a few polls of the page (one a second)
WINDOW = "1280,900"
DEVTOOLS_TIMEOUT_S = 20  # for one answer, or for the page to show something


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = ("chromium is not installed (Debian: apt-get install chromium; .ci/run "
                  "installs it when it can): the dashboard's browser test cannot run")
        print(reason)
        pytest.skip(reason)
    return path


def chromium(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One headless run.  Root needs --no-sandbox; no GPU on a test machine;
    its own profile folder comes from --user-data-dir, given by the caller.
    A run that outlasts its time is killed with its whole process group (the
    renderer and helper processes too)."""
    argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--disable-extensions", "--mute-audio", *args]
    browser = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, err = browser.communicate(timeout=BROWSER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.communicate()
        raise AssertionError(f"chromium still running after {BROWSER_TIMEOUT_S} s") from None
    return subprocess.CompletedProcess(argv, browser.returncode, out, err)


def api_status(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "api/status", timeout=10) as response:
        status: dict[str, Any] = json.load(response)
    return status


@dataclass
class PageRows:
    """What the dashboard's DOM shows: peer rows by id (their cells' text),
    file rows by name (their cells' text, and the progress cells: peer id ->
    (state, percent))."""

    peers: dict[int, list[str]] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    progress: dict[str, dict[int, tuple[str, int]]] = field(default_factory=dict)
    body: dict[str, str] = field(default_factory=dict)


class DashboardParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows = PageRows()
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._file = ""  # the file row being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "body":
            self.rows.body = attr
        elif tag == "tr" and "data-peer" in attr:
            self._row = self.rows.peers.setdefault(int(attr["data-peer"]), [])
        elif tag == "tr" and "data-file" in attr:
            self._row = self.rows.files.setdefault(attr["data-file"], [])
            self._file = attr["data-file"]
            self.rows.progress[self._file] = {}
        elif tag == "td" and self._row is not None:
            self._cell = []
            if "cell" in attr.get("class", "").split():
                state = attr["class"].split()[-1]
                self.rows.progress[self._file][int(attr["data-peer"])] = (
                    state, int(attr["data-percent"]))

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._row = None


def parse_page(html: str) -> PageRows:
    parser = DashboardParser()
    parser.feed(html)
    return parser.rows


def rendered_page(binary: str, url: str, profile: Path) -> PageRows:
    """The DOM once the page's script has had a few polls, without its event stream."""
    dump = chromium(binary, f"--user-data-dir={profile}",
                    f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
                    "--dump-dom", url + "#events=off")
    assert dump.returncode == 0, dump.stderr[-3000:]
    return parse_page(dump.stdout)


def test_the_dashboard_shows_every_peer_and_file_with_progress(
        swarm: Swarm, tmp_path: Path) -> None:
    binary = chromium_path()
    files = {"video.bin": random_bytes(400, 3 * MIB), "note.txt": b"a short note\n"}
    swarm.start_tracker(args=["--http", "127.0.0.1:0"])
    url = dashboard_url(swarm)
    swarm.start_peer({"video.bin": files["video.bin"]}, quiet_s=60, env=SLOW)
    swarm.start_peer({"note.txt": files["note.txt"]}, quiet_s=60, env=SLOW)
    swarm.start_peer({}, quiet_s=60, env=SLOW)
    connects = swarm.wait_connects(3)

    # Mid-transfer: some peer holds part of video.bin.
    def fetching() -> bool:
        status = api_status(url)
        video = [f for f in status["files"] if f["name"] == "video.bin"]
        return bool(video and video[0]["partial_holders"])

    wait_for(fetching, 20, "a peer part-way through video.bin", poll_s=0.2)

    page = rendered_page(binary, url, tmp_path / "profile")

    assert page.body.get("data-connection") == "live", page.body
    assert set(page.peers) == set(connects), (sorted(page.peers), sorted(connects))
    for peer_id, cells in page.peers.items():
        assert cells[0] == str(peer_id)
        assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", cells[1]), cells
        assert re.fullmatch(r"\d+(\.\d)? (B|KiB|MiB|GiB)/s", cells[5]), cells  # recv
        assert re.fullmatch(r"\d+(\.\d)? (B|KiB|MiB|GiB)/s", cells[6]), cells  # send
    assert set(page.files) == set(files)
    assert page.files["video.bin"][1] == "3.0 MiB"
    assert page.files["note.txt"][1] == "13 B"
    for name, cells in page.files.items():
        assert re.fullmatch(r"[0-9a-f]{12}", cells[2]), cells  # the digest, short
        assert set(page.progress[name]) == set(connects), (name, page.progress[name])
        for state, percent in page.progress[name].values():
            assert state in ("none", "partial", "complete", "excused")
            assert 0 <= percent <= 100
    # Each file's owner holds it whole; a fetcher's part of video.bin shows.
    owners = {name: peer_id for peer_id, offers in connects.items() for name, _ in offers}
    for name, owner in owners.items():
        assert page.progress[name][owner] == ("complete", 100), page.progress[name]
    fetched = [percent for peer_id, (_, percent) in page.progress["video.bin"].items()
               if peer_id != owners["video.bin"]]
    assert any(percent > 0 for percent in fetched), page.progress["video.bin"]

    screenshot = tmp_path / "dashboard.png"
    shot = chromium(binary, f"--user-data-dir={tmp_path / 'profile'}",
                    f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}",
                    f"--window-size={WINDOW}", f"--screenshot={screenshot}",
                    url + "#events=off")
    assert shot.returncode == 0, shot.stderr[-3000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"dashboard screenshot: {screenshot}")


def test_in_a_keyed_swarm_the_page_opened_with_its_token_works(
        swarm: Swarm, tmp_path: Path) -> None:
    """The token in the page's address reaches its script, its styles and
    its API calls: without it the page would stay empty."""
    binary = chromium_path()
    key = swarm_cmd("keygen").stdout.strip()
    token = swarm_cmd("keygen", "--http-token", env={"SWARM_KEY": key}).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", token), token
    swarm.env["SWARM_KEY"] = key
    swarm.start_tracker(args=["--http", "127.0.0.1:0"])
    url = dashboard_url(swarm)
    swarm.start_peer({"a.bin": random_bytes(401, 64 * 1024)}, quiet_s=60)
    swarm.start_peer({}, quiet_s=60)
    connects = swarm.wait_connects(2)

    page = rendered_page(binary, f"{url}?token={token}", tmp_path / "profile")
    # What the tracker saw, should the page disagree (once, in CI, a live
    # page showed no peer row at all; never since).
    tracker = swarm.tracker
    assert tracker is not None
    seen = f"page {page}\ntracker stdout:\n{tracker.stdout()}\nstderr:\n{tracker.stderr()[-3000:]}"
    assert page.body.get("data-connection") == "live", seen
    assert set(page.peers) == set(connects), seen
    assert set(page.files) == {"a.bin"}, seen


class DevTools:
    """Chromium driven over its DevTools pipe (--remote-debugging-pipe):
    commands go in on its fd 3 and answers come out of its fd 4, each one
    JSON text ended by a NUL byte."""

    def __init__(self, binary: str, profile: Path) -> None:
        command_read, self._commands = os.pipe()
        self._answers, answer_write = os.pipe()
        # bash puts the pipes on fds 3 and 4 (dash takes one-digit fds only).
        self.browser = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{command_read} 4>&{answer_write}', "bash",
             binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={profile}",
             f"--window-size={WINDOW}", "about:blank"],
            pass_fds=(command_read, answer_write), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(command_read)
        os.close(answer_write)
        self._unread = b""
        self._last_id = 0
        self._session: str | None = None

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._last_id += 1
        command: dict[str, Any] = {"id": self._last_id, "method": method, "params": params}
        if self._session is not None:
            command["sessionId"] = self._session
        os.write(self._commands, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + DEVTOOLS_TIMEOUT_S
        while True:
            while b"\0" not in self._unread:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                    raise AssertionError(f"no answer from chromium to {method}")
                data = os.read(self._answers, 1 << 16)
                if not data:
                    raise AssertionError(f"chromium closed its pipe at {method}")
                self._unread += data
            text, self._unread = self._unread.split(b"\0", 1)
            answer: dict[str, Any] = json.loads(text)
            if answer.get("id") == self._last_id:  # not one of the events it sends
                assert "error" not in answer, answer["error"]
                result: dict[str, Any] = answer["result"]
                return result

    def open_page(self, url: str) -> None:
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self._session = self.call("Target.attachToTarget", targetId=page["targetId"],
                                  flatten=True)["sessionId"]
        self.call("Page.navigate", url=url)

    def value(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression,
                         returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, what: str) -> Any:
        """The expression's value once it is truthy."""
        found: list[Any] = []

        def truthy() -> bool:
            found.append(self.value(expression))
            return bool(found[-1])

        wait_for(truthy, DEVTOOLS_TIMEOUT_S, what, poll_s=0.01)
        return found[-1]

    def close(self) -> None:
        os.killpg(self.browser.pid, signal.SIGKILL)
        self.browser.wait()
        os.close(self._commands)
        os.close(self._answers)


def test_the_page_follows_the_event_stream_newest_first(swarm: Swarm, tmp_path: Path) -> None:
    binary = chromium_path()
    swarm.start_tracker(args=["--http", "127.0.0.1:0"])
    url = dashboard_url(swarm)
    swarm.start_peer({"a.bin": random_bytes(402, 64 * 1024)}, quiet_s=60)
    swarm.wait_connects(1)

    browser = DevTools(binary, tmp_path / "profile")
    try:
        browser.open_page(url)
        first_data_ms = browser.wait_for("document.body && document.body.dataset.firstDataMs",
                                         "the page's first render with data")
        print(f"the dashboard's first render with data: {first_data_ms} ms after it was opened")
        # Events before the page was opened come as the stream's replay (one
        # message at a time: wait for all three) ...
        texts = "[...document.querySelectorAll('#events li')].map(li => li.textContent)"
        kinds = browser.wait_for(
            "document.querySelectorAll('#events li').length >= 3 && "
            "[...document.querySelectorAll('#events li')].map(li => li.dataset.event)",
            "the first peer's events on the page")
        assert kinds == ["complete", "file", "join"], kinds  # newest first
        # ... and those that happen while it is open come above them.
        swarm.start_peer({}, quiet_s=60)
        shown = browser.wait_for(f"{texts}.some(t => t.includes('peer 2 joined')) && {texts}",
                                 "the second peer's join on the page")
        joins = [i for i, text in enumerate(shown) if "joined" in text]
        assert len(joins) == 2, shown
        assert re.fullmatch(r"\d\d:\d\d:\d\djoinpeer 2 joined from tcp://127\.0\.0\.1:\d+, "
                            r"offering 0 files", shown[joins[0]]), shown
        assert "peer 1 joined" in shown[joins[1]], shown
        assert browser.value("document.body.dataset.connection") == "live"
    finally:
        browser.close()
