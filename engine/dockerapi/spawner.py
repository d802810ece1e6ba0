"""Container processes for a threaded server: a spawner forked before the first thread.

Starting a container forks (the monitor, the init), and so does ``exec`` (the joiner).
Forking a Python process that runs threads copies whatever locks those threads held at
that instant (the import lock, logging's, the allocator's) into a child that can never
release them. So the service forks one **spawner** in ``serve``, while it is still
single-threaded, and sends every start and exec there over a ``SOCK_SEQPACKET`` socket.
The spawner forks a **worker** per request — a fork of a single-threaded process, which
is safe — and the worker runs the very code the CLI runs: ``Tasks.start`` (the same
double-forked monitor and the same hooks) or ``Tasks.exec``, with the client's stdio
descriptors passed across by ``SCM_RIGHTS``. The worker sends back the outcome (and, for
an attached start, the descriptor that reports the exit code) and exits; the monitor it
started is reparented like any the CLI starts.

::

    server (threads) ──request + fds──► spawner (no threads) ──fork──► worker
          ▲                                                                │
          └──────────── outcome (+ exit-code fd) on the request's socket ──┘

The spawner ends when the server's end of the control socket closes, whatever killed it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import signal
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import errors
from ..errors import EngineError, RuntimeFailure
from ..services.tasks import Tasks

if TYPE_CHECKING:
    from ..runtime.monitor import Started
    from ..runtime.spec import Attach
    from ..services.engine import Engine

MAX_MESSAGE = 1 << 20
MAX_FDS = 8
# What a worker's start or exec imports, loaded once in the spawner for every worker to
# inherit (and the network wiring, ``session.WIRING``). One left out of this list costs
# time, never correctness.
PRELOAD = ("runtime.monitor", "runtime.exec", "runtime.confine")


def _send(sock: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


def _receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the descriptors that came with it; ``(None, [])`` at EOF."""
    data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(data), list(fds)


def _error_reply(e: BaseException) -> dict[str, Any]:
    if isinstance(e, EngineError):
        return {"error": type(e).__name__, "message": str(e), "exit_code": e.exit_code,
                "daemon": getattr(e, "daemon", True)}
    return {"error": "", "message": f"{type(e).__name__}: {e}", "exit_code": 125,
            "daemon": True}


def _raise_reply(reply: dict[str, Any]) -> None:
    """Raise the engine error a worker reported, as the same kind of error here."""
    kind = getattr(errors, reply["error"], None) if reply["error"] else None
    if isinstance(kind, type) and issubclass(kind, EngineError):
        if issubclass(kind, RuntimeFailure):
            raise RuntimeFailure(reply["message"], reply["exit_code"])
        e = kind(reply["message"])
    else:
        e = EngineError(f"internal error in the container spawner: {reply['message']}")
    e.exit_code = reply["exit_code"]
    raise e


class Spawner:
    """The handle the server keeps: ``start`` and ``exec`` run in a fresh worker."""

    def __init__(self, engine: Engine) -> None:
        if threading.active_count() > 1:
            raise RuntimeError("the spawner must be forked before any thread is started")
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the spawner process
            code = 0
            try:
                parent.close()
                _serve(engine, child)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        child.close()
        self.pid = pid
        self._control = parent

    def close(self) -> None:
        """The spawner sees EOF and exits; workers already running finish their request."""
        self._control.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def _call(self, request: dict[str, Any], fds: list[int]) -> tuple[dict[str, Any], list[int]]:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            try:
                _send(self._control, request, [theirs.fileno(), *fds])
            except OSError as e:
                raise EngineError(f"the container spawner is gone ({e.strerror}): restart "
                                  "the service") from None
            theirs.close()
            reply, got = _receive(mine)
        finally:
            mine.close()
            theirs.close()
        if reply is None:
            raise EngineError("the container spawner's worker died before it answered")
        if "error" in reply:
            for fd in got:
                os.close(fd)
            _raise_reply(reply)
        return reply, got

    def start(self, name: str, attach: Attach | None) -> Started | None:
        from ..runtime.monitor import Started

        fds = [] if attach is None else [attach.stdout, attach.stderr]
        if attach is not None and attach.stdin is not None:
            fds.append(attach.stdin)
        reply, got = self._call({"op": "start", "name": name, "attach": attach is not None},
                                fds)
        if reply["pid"] is None:
            return None
        return Started(reply["pid"], got[0] if got else None)

    def exec(self, name: str, cmd: list[str], env: list[str], workdir: str, user: str | None,
             stdin: int, stdout: int, stderr: int, detach: bool, tty: bool = False,
             console_size: tuple[int, int] | None = None) -> int:
        reply, _ = self._call({"op": "exec", "name": name, "cmd": cmd, "env": env,
                               "workdir": workdir, "user": user, "detach": detach,
                               "tty": tty, "size": console_size},
                              [stdin, stdout, stderr])
        return int(reply["code"])


class SpawnedTasks(Tasks):
    """The server's ``engine.tasks``: everything as in the CLI, except that the two
    operations that fork go through the spawner."""

    def __init__(self, engine: Engine, spawner: Spawner) -> None:
        super().__init__(engine)
        self.spawner = spawner

    def start(self, name: str, attach: Attach | None = None,
              by_policy: bool = False) -> Started | None:
        # restarts by policy happen in the container's monitor, never through here
        return self.spawner.start(name, attach)

    def exec(self, name: str, cmd: list[str], env: list[str], workdir: str, user: str | None,
             stdin: int, stdout: int, stderr: int, detach: bool = False,
             console: Callable[[int], bool] | None = None,
             console_size: tuple[int, int] | None = None) -> int:
        # a console is the API's relay of the pty to stdin/stdout (execs._run): the worker
        # makes its own over the descriptors it is sent
        return self.spawner.exec(name, cmd, env, workdir, user, stdin, stdout, stderr, detach,
                                 console is not None, console_size)


# -- in the spawner ------------------------------------------------------------------------
def _serve(engine: Engine, control: socket.socket) -> None:  # pragma: no cover - forked
    from ..runtime.monitor import title_setter

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # the server decides when we end: by closing
    title_setter()  # loaded once here, not in every worker
    from ..network import session

    for name in PRELOAD:
        importlib.import_module(f"{__package__.rpartition('.')[0]}.{name}")
    session.preload_wiring()
    while True:
        request, fds = _receive(control)
        _reap()
        if request is None:
            return
        if os.fork() == 0:
            code = 0
            try:
                control.close()
                _work(engine, request, fds)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)


def _reap() -> None:  # pragma: no cover - forked
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _work(engine: Engine, request: dict[str, Any], fds: list[int]) -> None:  # pragma: no cover
    """One request, in a worker: run it with the engine's own tasks, answer, exit."""
    from ..runtime.spec import Attach

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    reply_sock = socket.socket(fileno=fds[0])
    stdio = fds[1:]
    reply: dict[str, Any]
    back: list[int] = []
    try:
        if request["op"] == "start":
            attach = None
            if request["attach"]:
                attach = Attach(stdio[0], stdio[1], stdio[2] if len(stdio) > 2 else None)
            started = engine.tasks.start(request["name"], attach)
            for fd in stdio:  # the monitor holds its own copies
                os.close(fd)
            stdio = []
            reply = {"pid": started.pid if started else None}
            if started is not None and started.exit_fd is not None:
                back = [started.exit_fd]
        else:
            console = None
            if request.get("tty"):
                from ..runtime.tty import copy_pty

                console = functools.partial(copy_pty, stdio[0], stdio[1])
            size = request.get("size")
            code = engine.tasks.exec(request["name"], request["cmd"], request["env"],
                                     request["workdir"], request["user"], stdio[0], stdio[1],
                                     stdio[2], detach=request["detach"], console=console,
                                     console_size=tuple(size) if size else None)
            reply = {"code": code}
    except BaseException as e:
        reply = _error_reply(e)
    for fd in stdio:
        os.close(fd)
    _send(reply_sock, reply, back)
    reply_sock.close()
