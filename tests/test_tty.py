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

import pytest
import unprivileged_kit as kit
from conftest import Docker, UnprivilegedDocker, needs_root

pytestmark = [needs_root, pytest.mark.parametrize("driver", ["overlay"])]

DEADLINE = 60.0  # a bound on waiting for what must come, never a measure


class Terminal:
    """A docker command line on a pty of its own; ``expect`` reads until text appears."""

    def __init__(self, docker: Docker, *args: str, rows: int = 24, cols: int = 80) -> None:
        self.master, slave = pty.openpty()
        self.resize(rows, cols)
        if isinstance(docker, UnprivilegedDocker):
            argv = [*kit.SETPRIV, str(docker.nobody.python), "-m", "layerlab.engine.cli", *args]
            cwd: str | None = str(docker.nobody.home)
        else:
            argv, cwd = [sys.executable, "-m", "layerlab.engine.cli", *args], None
        self.saved = termios.tcgetattr(slave)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     env=docker.env, cwd=cwd, start_new_session=True)
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

    def expect(self, *texts: bytes) -> bytes:
        """Wait for the first of ``texts`` to appear; it, and all before it, are consumed.
        Returns which one came."""
        deadline = time.monotonic() + DEADLINE
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
def terminal(docker: Docker, *args: str) -> Iterator[Terminal]:
    t = Terminal(docker, *args)
    try:
        yield t
    finally:
        t.close()


def inspect(docker: Docker, name: str) -> dict:
    return json.loads(docker.out("inspect", name))[0]


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
        t.resize(30, 100)
        t.proc.send_signal(signal.SIGWINCH)  # a terminal emulator's resize
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:  # the relayed size lands asynchronously
            t.prompt()
            t.send(b"stty size\r")
            if t.expect(b"\n30 100\r\n", b"\n24 80\r\n") == b"\n30 100\r\n":
                break
        else:
            raise AssertionError("the new window size never reached the container")
        t.prompt()
        t.send(b"exit 3\r")
        assert t.wait() == 3
        assert t.restored()
    state = inspect(docker, "box")
    assert state["State"]["ExitCode"] == 3 and state["Config"]["Tty"] is True
    assert "/dev/pts/0\r\n" in docker("logs", "box").stdout  # the raw stream, as Docker logs it


def test_tty_with_piped_stdin_is_refused(docker: Docker) -> None:
    p = docker("run", "-it", "busybox", "sh", input=b"echo hi\n", check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == "the input device is not a TTY"
    assert docker.out("ps", "-aq") == ""  # refused before anything was created
    out = docker.out("run", "-t", "--network", "none", "busybox", "tty")  # -t alone: fine
    assert out == "/dev/pts/0"


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
