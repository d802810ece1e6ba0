"""The warm CLI (``engine/cliserver``): a command handed to a preloaded server runs as if
it ran in the caller's process — its stdio, working directory, environment and umask,
its exit code or signal — and a caller that differs in what a process inherits (here
``no_new_privs``) reaches a server of its own, so it never runs with more than it has.

Each test has a server directory of its own, and stops its servers at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import needs_root
from layerlab.engine.cliserver import server as cliserver

pytestmark = needs_root
CLI = [sys.executable, "-m", "layerlab.engine.cli"]


class Warm:
    """The CLI with a server directory of this test's own."""

    def __init__(self, root: Path, servers: Path) -> None:
        self.servers = servers
        self.env = {**os.environ, "LAYERLAB_ROOT": str(root), "LAYERLAB_CLI_SERVER_DIR":
                    str(servers), "LAYERLAB_STORAGE_DRIVER": "overlay"}

    def __call__(self, *args: str, prefix: tuple[str, ...] = (), **kw: object,
                 ) -> subprocess.CompletedProcess[str]:
        kw.setdefault("env", self.env)
        return subprocess.run([*prefix, *CLI, *args], capture_output=True, text=True,
                              timeout=120, **kw)  # type: ignore[call-overload]

    def sockets(self) -> list[Path]:
        return sorted(self.servers.glob("*.sock"))

    def server(self) -> int:
        """Start this caller's server (a first command does) and wait until it listens:
        its pid."""
        assert self("version").returncode == 0
        for _ in range(600):  # a wait for the preload, not a timing assertion
            locks = [p.with_name(p.name + ".lock") for p in self.sockets()]
            if locks:
                return int(locks[0].read_text())
            time.sleep(0.05)
        raise AssertionError("no CLI server came up")


@pytest.fixture
def warm(root: Path, tmp_path: Path) -> Iterator[Warm]:
    from layerlab.engine.services.engine import Engine
    from layerlab.engine.transfer.bootstrap import bootstrap

    bootstrap(Engine(root, "overlay"))
    servers = tmp_path / "servers"
    w = Warm(root, servers)
    try:
        yield w
    finally:
        cliserver.stop(str(servers))


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def test_the_command_runs_in_a_child_of_the_server_with_the_callers_process(
        warm: Warm, tmp_path: Path) -> None:
    server = warm.server()
    work = tmp_path / "work"
    work.mkdir()
    p = subprocess.Popen([*CLI, "run", "-i", "--rm", "-e", "GREETING", "busybox", "sh", "-c",
                          "echo $GREETING; cat; exit 3"], env={**warm.env, "GREETING": "hi"},
                         cwd=work, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        for _ in range(400):  # until the server's child has become the caller's process
            children = _children(server)
            if children and os.readlink(f"/proc/{children[0]}/cwd") == str(work):
                break
            time.sleep(0.05)
        assert len(children) == 1, "the command did not reach the server"
        child = children[0]
        assert os.readlink(f"/proc/{child}/cwd") == str(work)
        p.stdin.write(b"from stdin\n")  # it runs the command now: its stdio is in place
        p.stdin.flush()
        for fd in (0, 1, 2):  # the very pipes the caller was given
            assert os.readlink(f"/proc/{child}/fd/{fd}") == os.readlink(f"/proc/{p.pid}/fd/{fd}")
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
        p.wait()
    assert (p.returncode, out, err) == (3, b"hi\nfrom stdin\n", b"")
    assert _children(server) == []


def test_the_umask_and_relative_paths_are_the_callers(warm: Warm, tmp_path: Path) -> None:
    warm.server()
    modes = []
    for served in ("1", "0"):
        work = tmp_path / f"served-{served}"
        work.mkdir()
        p = warm("save", "-o", "busybox.tar", "busybox", cwd=work, umask=0o077,
                 env={**warm.env, "LAYERLAB_CLI_SERVER": served})
        assert p.returncode == 0, p.stderr
        modes.append((work / "busybox.tar").stat().st_mode & 0o777)
    assert modes[0] == modes[1] and modes[0] & 0o077 == 0, [oct(m) for m in modes]


def test_exit_codes_and_signals_are_the_commands(warm: Warm) -> None:
    warm.server()
    p = warm("run", "--rm", "busybox", "sh", "-c", "exit 7")
    assert p.returncode == 7
    p = warm("tag", "busybox", "killed:1", env={**warm.env, "LAYERLAB_FAULT_KILL_AFTER": "1"})
    assert p.returncode == -signal.SIGKILL  # it killed itself: the caller ends the same way
    p = warm("nosuchcommand")
    assert p.returncode != 0 and "Traceback" not in p.stderr


def test_a_signal_to_the_caller_reaches_the_command(warm: Warm) -> None:
    warm("run", "-d", "--name", "waited", "busybox", "sleep", "60")
    server = warm.server()
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)):
        p = subprocess.Popen([*CLI, "wait", "waited"], env=warm.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        for _ in range(400):
            if _children(server):
                break
            time.sleep(0.05)
        time.sleep(0.3)  # the child is running the command, its handlers installed
        p.send_signal(sig)
        p.communicate(timeout=30)
        assert p.returncode == code, (sig, p.returncode)
    warm("rm", "-f", "waited")


def test_a_caller_that_dies_takes_its_command_along(warm: Warm) -> None:
    warm("run", "-d", "--name", "followed", "busybox", "sleep", "60")
    server = warm.server()
    p = subprocess.Popen([*CLI, "logs", "-f", "followed"], env=warm.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(400):
        children = _children(server)
        if children:
            break
        time.sleep(0.05)
    assert children
    p.kill()
    p.wait()
    for _ in range(400):  # the server sees its caller go and kills the command
        if not _children(server):
            break
        time.sleep(0.05)
    assert _children(server) == []
    assert warm("rm", "-f", "followed").returncode == 0  # and it still serves


def test_a_caller_without_privileges_the_server_has_reaches_another_server(
        warm: Warm) -> None:
    warm.server()
    nnp = ("setpriv", "--no-new-privs")
    status = ("run", "--rm", "busybox", "grep", "NoNewPrivs", "/proc/self/status")
    p = warm(*status, prefix=nnp)  # runs in its process, and starts its own server
    assert p.stdout.split() == ["NoNewPrivs:", "1"], p.stderr
    for _ in range(600):
        if len(warm.sockets()) == 2:
            break
        time.sleep(0.05)
    assert len(warm.sockets()) == 2
    p = warm(*status, prefix=nnp)  # served by that one
    assert p.stdout.split() == ["NoNewPrivs:", "1"], p.stderr
    assert warm(*status).stdout.split() == ["NoNewPrivs:", "0"]


def test_a_server_directory_others_can_enter_is_never_used(warm: Warm) -> None:
    warm.servers.mkdir(mode=0o755)
    os.chmod(warm.servers, 0o755)
    for _ in range(2):
        p = warm("version")
        assert p.returncode == 0, p.stderr
    assert warm.sockets() == []
