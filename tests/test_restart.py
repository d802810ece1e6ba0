"""Issue 10 item 5: restart policies run by the container's monitor (on-failure:N restarts
exactly N times, ``stop`` ends an ``always`` container, ``kill`` and unless-stopped), their
validation in Docker's words, and ``--init``: a reaper as PID 1 that forwards signals."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Docker, needs_root

pytestmark = [needs_root, pytest.mark.parametrize("driver", ["overlay"])]

DEADLINE = 60.0  # a bound on waiting for what must happen, never a measure


def until(what: str, check: Callable[[], Any]) -> Any:
    """Poll ``check`` until it returns something true (its value), or fail at the deadline."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)  # polling interval only: the condition decides
    raise AssertionError(f"never: {what}")


def state(docker: Docker, name: str) -> dict[str, Any]:
    doc = json.loads(docker.out("inspect", name))[0]
    return {**doc["State"], "RestartCount": doc["RestartCount"], "Id": doc["Id"],
            "RestartPolicy": doc["HostConfig"]["RestartPolicy"]}


def monitors(cid: str) -> list[int]:
    """Live monitor processes of the container (by their process title)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if cmdline.startswith(f"layerlab-monitor {cid[:12]}".encode()):
                found.append(int(name))
    return found


@pytest.mark.parametrize("isolation", ["root", "rootless"])
def test_on_failure_restarts_exactly_n_times(docker: Docker) -> None:
    docker("run", "-d", "--name", "flaky", "--network", "none", "--restart", "on-failure:2",
           "busybox", "sh", "-c", "echo run; exit 3")
    s = until("flaky has run out of restarts", lambda: (
        (s := state(docker, "flaky"))["Status"] == "exited" and not s["Restarting"]
        and s["RestartCount"] == 2 and not monitors(s["Id"]) and s))
    assert s["ExitCode"] == 3
    assert s["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert docker("logs", "flaky").stdout == "run\n" * 3  # the first run and two restarts
    assert "Exited (3)" in docker.out("ps", "-a", "--filter", "name=flaky")


def test_stop_ends_an_always_container_and_kill_respects_unless_stopped(
        docker: Docker) -> None:
    docker("run", "-d", "--name", "loop", "--network", "none", "--restart", "always",
           "busybox", "sh", "-c", "echo up")
    cid = until("loop restarted twice", lambda: (
        (s := state(docker, "loop"))["RestartCount"] >= 2 and s["Id"]))
    docker("stop", "loop")  # whether running or waiting out its delay
    s = state(docker, "loop")
    assert (s["Status"], s["Running"], s["Restarting"]) == ("exited", False, False)
    assert monitors(cid) == []  # nothing is left to restart it
    runs = docker("logs", "loop").stdout.count("up\n")
    assert runs == s["RestartCount"] + 1

    docker("run", "-d", "--name", "always", "--network", "none", "--restart", "always",
           "busybox", "sleep", "1000")
    docker("run", "-d", "--name", "unless", "--network", "none", "--restart",
           "unless-stopped", "busybox", "sleep", "1000")
    docker("kill", "always", "unless")
    always = until("always came back after kill", lambda: (
        (s := state(docker, "always"))["Running"] and s["RestartCount"] == 1 and s["Id"]))
    s = until("unless-stopped stayed down after kill", lambda: (
        (s := state(docker, "unless"))["Status"] == "exited" and not monitors(s["Id"]) and s))
    assert (s["ExitCode"], s["RestartCount"]) == (137, 0)
    docker("rm", "-f", "always")  # killed and removed, not restarted
    assert monitors(always) == []
    assert sorted(docker.out("ps", "-a", "--format", "{{.Names}}").split()) == ["loop", "unless"]


@pytest.mark.parametrize(("policy", "error"), [
    ("bogus", "Error response from daemon: invalid restart policy: unknown policy 'bogus'; "
              "use one of 'no', 'always', 'on-failure', or 'unless-stopped'"),
    ("always:3", "Error response from daemon: invalid restart policy: maximum retry count "
                 "can only be used with 'on-failure'"),
    ("on-failure:-1", "Error response from daemon: invalid restart policy: maximum retry "
                      "count cannot be negative"),
    ("on-failure:x", "invalid restart policy format: maximum retry count must be an integer"),
    (":1", "invalid restart policy format: no policy provided before colon"),
])
def test_bad_restart_policies_are_refused(docker: Docker, policy: str, error: str) -> None:
    p = docker("create", "--restart", policy, "busybox", check=False)
    assert (p.returncode, p.stderr.strip()) == (125, error)


def test_restart_and_rm_conflict(docker: Docker) -> None:
    p = docker("run", "--rm", "--restart", "always", "busybox", "true", check=False)
    assert (p.returncode, p.stderr.strip()) == (
        125, "conflicting options: cannot specify both --restart and --rm")
    assert docker.out("ps", "-aq") == ""


def _proc_states(docker: Docker, name: str) -> dict[int, tuple[str, str]]:
    """The container's processes as its own /proc shows them: PID → (comm, state)."""
    out = docker.out("exec", name, "sh", "-c", "cat /proc/[0-9]*/stat")
    found = {}
    for line in out.splitlines():
        pid, rest = line.split(" (", 1)
        comm, fields = rest.rsplit(") ", 1)
        found[int(pid)] = (comm, fields.split()[0])
    return found


def test_init_is_pid_1_reaps_zombies_and_forwards_signals(docker: Docker) -> None:
    lines = docker.out("run", "--rm", "--init", "--network", "none", "busybox", "ps").splitlines()
    rows = {int(line.split()[0]): line.split(None, 2)[2] for line in lines[1:]}
    assert rows[1] == "layerlab-init -- ps"  # as Docker shows docker-init
    assert [pid for pid, cmd in rows.items() if cmd == "ps"] != [1]

    # The orphan waits on a FIFO until the test opens it: by then the shell has become
    # ``sleep`` (or the init's child has), so only PID 1 can reap the orphan.
    orphan = ("mkfifo /tmp/go; (sh -c 'read x < /tmp/go; echo done > /tmp/orphan' &); "
              "exec sleep 1000")
    docker("run", "-d", "--init", "--name", "reaped", "--network", "none",
           "busybox", "sh", "-c", orphan)
    docker("run", "-d", "--name", "piled", "--network", "none", "busybox", "sh", "-c", orphan)
    for name in ("reaped", "piled"):
        until(f"{name} runs sleep", lambda name=name: any(
            comm == "sleep" for comm, _ in _proc_states(docker, name).values()))
        docker("exec", name, "sh", "-c", "echo > /tmp/go")
        until(f"the orphan of {name} ran", lambda name=name: docker(
            "exec", name, "cat", "/tmp/orphan", check=False).stdout == "done\n")
    # without an init the orphan, reparented to PID 1 (sleep), stays a zombie...
    until("a zombie under sleep", lambda: any(
        st == "Z" for _, st in _proc_states(docker, "piled").values()))
    # ...with one, it is reaped
    until("no zombie under the init", lambda: not any(
        st == "Z" for _, st in _proc_states(docker, "reaped").values()))
    assert _proc_states(docker, "reaped")[1][1] != "Z"
    docker("stop", "-t", "60", "reaped")  # SIGTERM forwarded to sleep, which dies of it
    assert state(docker, "reaped")["ExitCode"] == 143
    docker("rm", "-f", "piled")
