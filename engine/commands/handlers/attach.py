"""``attach``, and the terminal halves of ``run -t``, ``start -a`` and ``exec -t``: the
local terminal relayed to the container's (commands/terminal.py)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator

from ...errors import Conflict, EngineError
from ...runtime import attach
from ...runtime.spec import Attach
from ...services.engine import Engine
from ...store.containers import Container
from .. import IO
from ..results import Result, Streamed
from ..terminal import MonitorEnd, PtyEnd, check_tty, detach_keys, hold, relay, size_of


def start_with_terminal(engine: Engine, c: Container, io: IO, interactive: bool,
                        keys_text: str) -> int:
    """Start a ``-t`` container in the foreground: the monitor gets one end of a
    socketpair as its first attach client, so no output is missed; the exit code, or 0
    once detached."""
    keys = detach_keys(keys_text)
    io.flush()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        started = engine.tasks.start(c.ID, Attach(io.stdout.fileno(), io.stderr.fileno(),
                                                  conn=theirs.fileno(), size=size_of(io)))
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    if started is None:
        ours.close()
        return 0
    if io.attached:
        io.attached(c.ID)
    try:
        detached = relay(MonitorEnd(ours), io, interactive, keys)
    finally:
        ours.close()
    if detached:
        if started.exit_fd is not None:
            os.close(started.exit_fd)
        return 0
    return started.wait()


def exec_with_terminal(engine: Engine, args: argparse.Namespace, io: IO, env: list[str]) -> int:
    """``exec -t``: the process's pty master comes back to us, and we relay it."""
    keys = detach_keys(args.detach_keys)
    io.flush()

    def console(master: int) -> bool:
        detached = relay(PtyEnd(master), io, args.interactive, keys)
        if detached:
            hold(master)
        return detached

    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        return engine.tasks.exec(args.container, args.command, env, args.workdir, args.user,
                                 devnull, devnull, devnull, console=console,
                                 console_size=size_of(io))
    finally:
        os.close(devnull)


@contextlib.contextmanager
def _signals_proxied(engine: Engine, c: Container, wanted: bool) -> Iterator[None]:
    """``--sig-proxy``: SIGINT, SIGTERM and SIGHUP to us go to the container's main
    process (without a terminal; with one, ctrl-c is a key the pty turns into SIGINT)."""
    if not wanted or threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(EngineError, OSError):
            engine.tasks.kill(c.ID, str(signum))

    previous = {sig: signal.signal(sig, forward)
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_attach(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """Docker's ``attach``: the running container's output from now on and, unless
    ``--no-stdin``, our input to it; a container with neither a terminal nor an open
    stdin has only its output to show (followed in its log)."""
    c = engine.containers.get(args.container)
    if c.State.Paused:
        raise Conflict("You cannot attach to a paused container, unpause it first")
    if not c.State.Running:
        raise Conflict("You cannot attach to a stopped container, start it first")
    interactive = bool(c.Config.get("OpenStdin")) and not args.no_stdin
    check_tty(io, interactive, bool(c.Config.get("Tty")))
    keys = detach_keys(args.detach_keys)
    conn = attach.connect(str(engine.containers.state_dir(c)))
    if conn is None:
        for entry in engine.containers.logs(c.ID, follow=True, tail=0):
            stream = io.stdout if entry.stream == "stdout" else io.stderr
            stream.write(entry.text)
            stream.flush()
        return Streamed(exit_code=engine.tasks.wait(c.ID))
    end = MonitorEnd(conn)
    try:
        with _signals_proxied(engine, c, args.sig_proxy == "true" and not c.Config.get("Tty")):
            if relay(end, io, interactive, keys):
                return Streamed(exit_code=0)
    finally:
        conn.close()
    if end.exit_code is not None:
        return Streamed(exit_code=end.exit_code)
    return Streamed(exit_code=engine.tasks.wait(c.ID))
