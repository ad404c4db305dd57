"""Sources that have gone, on real processes.  A get in a small flash crowd
says nothing at warning level when the gets it fetches from finish and
leave; and a source killed before a get starts, which the tracker still
names, is found out from its refused connection at once -- none of the
get's requests to it waits for a deadline."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.e2e.harness import REPO, Proc, Swarm, random_bytes, start, wait_for

ARTIFACT = random_bytes(41, 4 << 20)  # 4 pieces
NAME = "artifact.bin"


def command(swarm: Swarm, name: str, *args: str, env: dict[str, str] | None = None) -> Proc:
    """`swarm ARGS...` in a folder of its own, killed with the swarm."""
    proc = start(name, [sys.executable, "-m", "swarm", *args], swarm.root / name,
                 {"PYTHONPATH": str(REPO), **(env or {})})
    swarm._procs.append(proc)
    return proc


def seed(swarm: Swarm, name: str, port: int, env: dict[str, str] | None = None) -> Proc:
    source = swarm.root / name / "from" / NAME
    source.parent.mkdir(parents=True)
    source.write_bytes(ARTIFACT)
    return command(swarm, name, "seed", "127.0.0.1", str(port), str(source), "--forever",
                   "--progress", "never", env=env)


def get(swarm: Swarm, name: str, port: int) -> tuple[Proc, Path]:
    into = swarm.root / name / "into"
    return command(swarm, name, "get", "127.0.0.1", str(port), NAME, "--to", str(into),
                   "--progress", "never"), into


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if " WARNING " in line or " ERROR " in line or " CRITICAL " in line]


def test_a_get_in_a_small_crowd_says_no_warning_when_the_others_leave(swarm: Swarm) -> None:
    port = swarm.start_tracker()
    # Slow enough that the second wave fetches from the first while it leaves.
    seed(swarm, "seed", port, env={"SWARM_UPLOAD_LIMIT_BYTES_S": "8000000"})
    swarm.wait_connects(1)
    gets = [get(swarm, f"get{i}", port) for i in range(1, 5)]
    wait_for(lambda: "ACQUIRED" in swarm.tracker.stdout(), 30,  # type: ignore[union-attr]
             "the first wave fetching")
    gets += [get(swarm, f"get{i}", port) for i in range(5, 9)]
    for proc, into in gets:
        assert proc.wait(60) == 0, proc.stderr()[-3000:]
        assert (into / NAME).read_bytes() == ARTIFACT
        assert proc.stdout() == f"{into / NAME}\n"
    for proc, _ in gets:
        stderr = proc.stderr()
        assert warnings_in(stderr) == [], f"{proc.name}:\n{stderr[-3000:]}"


def test_a_killed_source_the_tracker_still_names_costs_a_get_no_deadline(
        swarm: Swarm) -> None:
    # The tracker names the killed seed for a minute: the get finds it out itself.
    port = swarm.start_tracker(env={"SWARM_EXPIRY_MISSES": "60"})
    seed(swarm, "seed1", port)
    swarm.wait_connects(1)
    doomed = seed(swarm, "seed2", port)
    killed_id = max(swarm.wait_connects(2))
    doomed.kill_group()  # SIGKILL: its port refuses connections from now on
    proc, into = get(swarm, "get", port)
    assert proc.wait(60) == 0, proc.stderr()[-3000:]
    assert (into / NAME).read_bytes() == ARTIFACT
    stderr = proc.stderr()
    # Asked of it, refused at once: its pieces went to the live seed, and a
    # reversal was asked for, as for a source behind a firewall.
    assert (f"cannot reach peer {killed_id}; asking the tracker to reverse the connection"
            in stderr), stderr[-3000:]
    assert f"request to peer {killed_id} for piece" not in stderr, stderr[-3000:]
    assert warnings_in(stderr) == [], stderr[-3000:]
