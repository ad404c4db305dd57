"""The systemd units of deploy/systemd: what a long-running service needs is
in them, and `systemd-analyze verify` accepts them where it exists (skipped,
with the reason, where it does not or cannot run)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNITS = REPO / "deploy" / "systemd"
INSTALLED_AT = "/usr/local/bin/swarm"  # where docs/operations/firewalled-hosts.md links it
VERIFY_TIMEOUT_S = 60
TRIVIAL_UNIT = "[Service]\nExecStart=/bin/true\n"


def directives(unit: Path) -> dict[str, list[str]]:
    """A unit's settings, name -> every value given (a name may repeat)."""
    found: dict[str, list[str]] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            name, _, value = line.partition("=")
            found.setdefault(name.strip(), []).append(value.strip())
    return found


@pytest.mark.parametrize(("unit", "command"), [
    ("swarm-tracker.service", f"{INSTALLED_AT} tracker"),
    ("swarm-seed@.service", f"{INSTALLED_AT} seed ${{TRACKER_HOST}} ${{TRACKER_PORT}} --forever"),
])
def test_a_unit_has_what_a_long_running_service_needs(unit: str, command: str) -> None:
    found = directives(UNITS / unit)
    (exec_start,) = found["ExecStart"]
    assert command in exec_start
    assert found["LimitNOFILE"] == ["65536"]
    assert found["Restart"] == ["always"]
    assert len(found["WorkingDirectory"]) == 1
    # The key comes from a file only root reads, never from the unit itself.
    assert found["EnvironmentFile"][0].startswith("/etc/swarm/")
    assert not any("SWARM_KEY" in value for values in found.values() for value in values)


def _verify(folder: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "verify", *units], cwd=folder, capture_output=True,
                          text=True, timeout=VERIFY_TIMEOUT_S, check=False)


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here: the units are not verified")
    (tmp_path / "trivial.service").write_text(TRIVIAL_UNIT, encoding="utf-8")
    probe = _verify(tmp_path, "./trivial.service")
    if probe.returncode != 0:
        pytest.skip(f"systemd-analyze verify does not work here: {probe.stderr.strip()}")
    # verify wants each unit's program to exist: `swarm` is linked at
    # INSTALLED_AT by the install steps, so the copies verified here name a
    # stand-in for it; every other line is the unit's own.
    stand_in = tmp_path / "bin" / "swarm"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\n", encoding="utf-8")
    stand_in.chmod(0o755)
    names = sorted(unit.name for unit in UNITS.glob("*.service"))
    assert names == ["swarm-seed@.service", "swarm-tracker.service"]
    for name in names:
        text = (UNITS / name).read_text(encoding="utf-8")
        assert INSTALLED_AT in text
        (tmp_path / name).write_text(text.replace(INSTALLED_AT, str(stand_in)), encoding="utf-8")
    result = _verify(tmp_path, "./swarm-tracker.service", "./swarm-seed@releases.service")
    said = [line for line in (result.stdout + result.stderr).splitlines() if "swarm-" in line]
    assert result.returncode == 0 and not said, result.stdout + result.stderr
