"""PRoot mode as the Binder user: what it rebuilds of Docker's model (PID-1 exit status
and signal rules, every descendant dying with the container, pause by the tracer) and
that what it cannot show is said (``info``, ``inspect``, a notice on the command)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import unprivileged_kit as kit
from conftest import needs_root, without_notices

pytestmark = [needs_root, pytest.mark.skipif(shutil.which("proot") is None,
                                             reason="proot is not installed")]


@pytest.fixture
def proot(nobody_python: Path) -> Iterator[kit.Nobody]:
    with kit.session(nobody_python, LAYERLAB_RUNTIME="proot") as n:
        n.docker("pull", "busybox")
        yield n
        ids = n.docker("ps", "-aq").stdout.split()
        if ids:
            n.docker("rm", "-f", *ids)


def test_the_command_is_pid_one_for_exit_status_and_lifetime(proot: kit.Nobody) -> None:
    """proot alone waits for every tracee and reports the last one's status; the
    container ends with its command, with the command's status, its children killed."""
    n = proot
    p = n.docker("run", "--name", "bg", "busybox", "sh", "-c",
                 "(sleep 300; exit 4) & echo started; exit 3", check=False)
    assert p.returncode == 3 and p.stdout == "started\n"
    assert "notice: PRoot mode: the command is not PID 1" in p.stderr
    state = json.loads(n.docker("inspect", "bg").stdout)[0]["State"]
    assert state["ExitCode"] == 3 and not state["Running"]
    assert not [pid for pid in n.ours() if "sleep 300" in _cmdline(pid)]  # killed with it
    p = n.docker("run", "--rm", "busybox", "sh", "-c", "kill -9 $$", check=False)
    assert p.returncode == 137


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_signals_follow_pid_one_rules_and_stop_kills_everything(proot: kit.Nobody) -> None:
    n = proot
    n.docker("run", "-d", "--name", "sleeper", "busybox", "sh", "-c", "sleep 300 & wait")
    n.docker("exec", "-d", "sleeper", "sleep", "301")
    top = n.docker("top", "sleeper").stdout
    assert "sleep 300" in top and "sleep 301" in top  # exec'd processes belong to it
    n.docker("stop", "-t", "1", "sleeper")  # no TERM handler: dropped, as for a PID 1
    state = json.loads(n.docker("inspect", "sleeper").stdout)[0]["State"]
    assert state["ExitCode"] == 137
    assert not [p for p in n.ours() if "sleep 30" in _cmdline(p)]


def test_pause_stops_the_tracer_and_says_so(proot: kit.Nobody) -> None:
    n = proot
    n.docker("run", "-d", "--name", "tick", "busybox", "sh", "-c",
             "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done")
    p = n.docker("pause", "tick")
    assert "notice: pause: the PRoot tracer is stopped" in p.stderr
    info = json.loads(n.docker("info", "--format", "{{json .}}").stdout)
    assert info["Pause"] == "tracer"
    rootfs = json.loads(n.docker("inspect", "tick").stdout)[0]["GraphDriver"]["Data"]["Dir"]
    before = Path(rootfs, "tmp/n").read_text()
    n.docker("exec", "-d", "tick", "true", check=False)  # refused: paused
    assert Path(rootfs, "tmp/n").read_text() == before
    n.docker("unpause", "tick")
    n.docker("exec", "tick", "sh", "-c",
             f'while [ "$(cat /tmp/n)" = "{before.strip()}" ]; do sleep 0.05; done')
    n.docker("rm", "-f", "tick")


def test_nothing_of_proot_lands_in_the_layer(proot: kit.Nobody) -> None:
    """proot fakes its bind mount points (/.ll, /proc, /dev): the diff is the command's."""
    n = proot
    p = n.docker("run", "--name", "ww", "busybox", "sh", "-c", "echo x > /f; ls /.ll")
    assert p.stdout == "busybox\n" and without_notices(p.stderr) == ""
    assert n.docker("diff", "ww").stdout == "A /f\n"
