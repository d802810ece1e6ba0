"""Issue 10 item 4: a real TTY. The CLI runs on a pseudo-terminal of Python's ``pty``
module, as a user at a terminal would type: the prompt, line editing, ``tty``, the window
size, ``exit N``; ``-t`` with piped stdin refused; ``-dit`` + ``attach`` + the detach keys;
``exec -it``; and ``-t`` as nobody in rootless mode."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator

import dockerapi_kit
import pytest
import unprivileged_kit as kit
from conftest import Docker, UnprivilegedDocker, needs_root
from test_limits import leftover_groups

pytestmark = needs_root
overlay = pytest.mark.parametrize("driver", ["overlay"])  # the driver does not matter here

DEADLINE = 60.0  # a bound on waiting for what must come, never a measure


class Terminal:
    """A command line on a pty of its own; ``expect`` reads until text appears."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str | None = None,
                 rows: int = 24, cols: int = 80) -> None:
        self.master, slave = pty.openpty()
        self.resize(rows, cols)
        self.saved = termios.tcgetattr(slave)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     env=env, cwd=cwd, start_new_session=True)
        os.close(slave)
        self.seen = b""

    def resize(self, rows: int, cols: int) -> None:
        import fcntl

        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the command has exited and closed the pty
            return False
        self.seen += data
        return bool(data)

    def expect(self, *texts: bytes, within: float = DEADLINE) -> bytes:
        """Wait for the first of ``texts`` to appear; it, and all before it, are consumed.
        Returns which one came."""
        deadline = time.monotonic() + within
        while not any(t in self.seen for t in texts):
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 1.0)) and not any(
                    t in self.seen for t in texts)):
                raise AssertionError(f"{texts!r} never came; the terminal showed {self.seen!r}")
        found = min((t for t in texts if t in self.seen), key=self.seen.index)
        self.seen = self.seen.partition(found)[2]
        return found

    def prompt(self) -> None:
        """The shell's prompt (busybox then asks for the cursor position, ``ESC[6n``: left
        unanswered, as a dumb terminal would; an answer arriving with typed keys would make
        its line editor drop them)."""
        self.expect(b"/ # ")

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self) -> int:
        deadline = time.monotonic() + DEADLINE
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)  # keep the pty drained so the command never blocks writing
        return self.proc.wait(timeout=1)

    def restored(self) -> bool:
        """The terminal's modes are what they were before the command ran (no raw mode
        left behind)."""
        return termios.tcgetattr(self.master)[:4] == self.saved[:4]

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self.master)


@contextlib.contextmanager
def terminal(docker: Docker | list[str], *args: str,
             env: dict[str, str] | None = None) -> Iterator[Terminal]:
    """LayerLab's CLI (as root or as nobody), or another command line (``docker``'s)."""
    if isinstance(docker, list):
        t = Terminal([*docker, *args], env or {})
    elif isinstance(docker, UnprivilegedDocker):
        t = Terminal([*kit.SETPRIV, str(docker.nobody.python), "-m", "layerlab.engine.cli",
                      *args], docker.env, str(docker.nobody.home))
    else:
        t = Terminal([sys.executable, "-m", "layerlab.engine.cli", *args], docker.env)
    try:
        yield t
    finally:
        t.close()


def inspect(docker: Docker, name: str) -> dict:
    return json.loads(docker.out("inspect", name))[0]


@overlay
def test_run_it_is_a_shell_at_a_terminal(docker: Docker) -> None:
    with terminal(docker, "run", "-it", "--name", "box", "--network", "none",
                  "busybox", "sh") as t:
        t.prompt()
        t.send(b"tty\r")
        t.expect(b"\r\n/dev/pts/0\r\n")
        t.prompt()
        t.send(b"echo abX\x7fc\r")  # line editing: DEL erased the X
        t.expect(b"\r\nabc\r\n")
        t.prompt()
        t.send(b"stty size\r")
        t.expect(b"\r\n24 80\r\n")
        _new_size_reaches(t, 30, 100)
        t.prompt()
        t.send(b"exit 3\r")
        assert t.wait() == 3
        assert t.restored()
    state = inspect(docker, "box")
    assert state["State"]["ExitCode"] == 3 and state["Config"]["Tty"] is True
    assert "/dev/pts/0\r\n" in docker("logs", "box").stdout  # the raw stream, as Docker logs it


@overlay
def test_tty_with_piped_stdin_is_refused(docker: Docker) -> None:
    p = docker("run", "-it", "busybox", "sh", input=b"echo hi\n", check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == "the input device is not a TTY"
    assert docker.out("ps", "-aq") == ""  # refused before anything was created
    out = docker.out("run", "-t", "--network", "none", "busybox", "tty")  # -t alone: fine
    assert out == "/dev/pts/0"


@overlay
def test_dit_attach_detach_and_exec_it(docker: Docker) -> None:
    docker("run", "-dit", "--name", "keep", "--network", "none", "busybox", "sh")
    with terminal(docker, "attach", "keep") as t:
        t.send(b"echo $((6*7))\r")
        t.expect(b"42\r\n")
        t.send(b"\x10\x11")  # ctrl-p ctrl-q
        t.expect(b"read escape sequence")
        assert t.wait() == 0
        assert t.restored()
    assert inspect(docker, "keep")["State"]["Running"] is True
    p = docker("exec", "-it", "keep", "true", input=b"", check=False)
    assert (p.returncode, p.stderr.strip()) == (1, "the input device is not a TTY")
    with terminal(docker, "exec", "-it", "keep", "sh") as t:
        t.prompt()
        t.send(b"tty\r")
        t.expect(b"\r\n/dev/pts/1\r\n")  # the main shell holds pts/0
        t.prompt()
        t.send(b"exit 5\r")
        assert t.wait() == 5
    with terminal(docker, "exec", "-it", "keep", "sh") as t:
        t.prompt()
        t.send(b"\x10\x11")  # detached from the exec: its shell runs on
        t.expect(b"read escape sequence")
        assert t.wait() == 0
    assert docker.out("exec", "keep", "ps", "-o", "comm").split().count("sh") == 2
    with terminal(docker, "attach", "--detach-keys", "ctrl-x", "keep") as t:
        t.send(b"echo again\r")
        t.expect(b"again\r\n")
        t.send(b"\x18")
        t.expect(b"read escape sequence")
        assert t.wait() == 0
    with terminal(docker, "attach", "keep") as t:
        t.send(b"exit 7\r")
        assert t.wait() == 7  # attach ends with the container, with its exit code
    state = inspect(docker, "keep")["State"]
    assert (state["Running"], state["ExitCode"]) == (False, 7)
    # the detached exec's joiner left the groups a moment after the init: removed anyway
    assert leftover_groups(inspect(docker, "keep")["Id"]) == []


@overlay
def test_attach_without_a_terminal_feeds_an_open_stdin(docker: Docker) -> None:
    """``-di``: stdin stays open (sh waits on it); ``attach`` with piped input feeds it and
    ends with the container's exit code."""
    docker("run", "-di", "--name", "piped", "--network", "none", "busybox", "sh")
    p = docker("attach", "piped", input=b"echo hi there\nexit 2\n", check=False)
    assert (p.returncode, p.stdout) == (2, "hi there\n")
    assert docker("logs", "piped").stdout == "hi there\n"


@overlay
@pytest.mark.parametrize("isolation", ["rootless"])
def test_rootless_run_it(docker: Docker, nobody: kit.Nobody) -> None:
    with terminal(docker, "run", "-it", "--rm", "busybox", "sh") as t:
        t.prompt()
        t.send(b"tty; id -u\r")
        t.expect(b"\r\n/dev/pts/0\r\n0\r\n")
        t.prompt()
        t.send(b"exit 4\r")
        assert t.wait() == 4
        assert t.restored()


def _new_size_reaches(t: Terminal, rows: int, cols: int) -> None:
    """Resize the terminal as an emulator does (TIOCSWINSZ + SIGWINCH to the client):
    ``stty size`` in the container shows the new size. (The shell's own SIGWINCH comes
    from the kernel with the size; its redraw is not awaited, since a SIGWINCH that lands
    while the line editor is between prompts is redrawn only at the next key.)"""
    t.prompt()
    t.resize(rows, cols)
    wanted, deadline = f"\n{rows} {cols}\r\n".encode(), time.monotonic() + DEADLINE
    while True:  # the docker CLI watches SIGWINCH only once its start-up resize is done
        t.proc.send_signal(signal.SIGWINCH)
        t.send(b"stty size\r")
        if t.expect(wanted, b"\r\n24 80\r\n") == wanted:
            return
        assert time.monotonic() < deadline, "the new size never reached the container"
        t.prompt()


@pytest.mark.skipif(dockerapi_kit.DOCKER is None, reason="no Docker CLI on PATH")
def test_docker_cli_run_it_and_exec_it_through_the_api() -> None:
    """The real ``docker run -it``: Tty in create, the raw hijacked attach stream (no
    multiplexing), ConsoleSize and ``/containers/{id}/resize``; and ``docker exec -it``
    into a ``-dit`` container (a pty of its own, sized by the exec's ConsoleSize)."""
    docker = dockerapi_kit.DOCKER
    assert docker is not None
    with dockerapi_kit.clients() as pair:
        with terminal([docker, "run", "-it", "--rm", "--network", "none", "busybox", "sh"],
                      env=pair.env()) as t:
            t.prompt()
            t.send(b"tty; stty size\r")
            t.expect(b"\r\n/dev/pts/0\r\n24 80\r\n")
            _new_size_reaches(t, 30, 100)
            t.prompt()
            t.send(b"exit 3\r")
            assert t.wait() == 3
            assert t.restored()
        assert pair.docker("run", "-dit", "--name", "apish", "--network", "none",
                           "busybox", "sh").returncode == 0
        with terminal([docker, "exec", "-it", "apish", "sh"], env=pair.env()) as t:
            t.prompt()
            t.send(b"tty; stty size\r")
            t.expect(b"\r\n/dev/pts/1\r\n24 80\r\n")
            t.prompt()
            t.send(b"exit 5\r")
            assert t.wait() == 5
        assert pair.docker("rm", "-f", "apish").returncode == 0
