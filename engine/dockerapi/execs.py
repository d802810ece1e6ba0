"""Exec endpoints: ``POST /containers/{id}/exec`` creates an instance, ``POST
/exec/{id}/start`` runs it (hijacked, or detached), ``GET /exec/{id}/json`` tells its exit
code (``docker exec`` asks once the stream ends), ``POST /exec/{id}/resize``.

Instances live in the service's memory, as in Docker's daemon. The process is the tasks
service's ``exec``, the one the CLI runs, through the spawner.
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import Conflict, EngineError, InvalidArgument, NotFound
from ..store.names import new_id
from .hijack import HijackedConnection, StreamType
from .responses import JSON, Hijack, Raw, Response
from .routing import Request, RouteTable

routes = RouteTable()


@dataclass
class ExecInstance:
    id: str
    container: str
    cmd: list[str]
    env: list[str]
    workdir: str
    user: str | None
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool
    console_size: tuple[int, int] | None = None  # the client's terminal, for a Tty exec
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def inspect(self) -> dict[str, Any]:
        return {"ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
                "ProcessConfig": {"tty": self.tty, "entrypoint": self.cmd[0],
                                  "arguments": self.cmd[1:], "privileged": False,
                                  "user": self.user or ""},
                "OpenStdin": self.stdin, "OpenStderr": self.stderr, "OpenStdout": self.stdout,
                "CanRemove": False, "ContainerID": self.container, "DetachKeys": "",
                "Pid": 0}


class Execs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: dict[str, ExecInstance] = {}

    def add(self, instance: ExecInstance) -> None:
        with self._lock:
            self._all[instance.id] = instance

    def get(self, exec_id: str) -> ExecInstance:
        with self._lock:
            found = self._all.get(exec_id)
        if found is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return found

    def claim(self, exec_id: str) -> ExecInstance:
        """The instance, marked started: an exec runs once."""
        instance = self.get(exec_id)
        with self._lock:
            if instance.started:
                raise Conflict(f"Exec command {exec_id} has already run")
            instance.started = instance.running = True
        return instance


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{name} must be a list of strings")
    return list(value)


@routes.route("POST", "/containers/{id}/exec")
def create(req: Request) -> Response:
    body = req.json() or {}
    if not isinstance(body, dict):
        raise InvalidArgument("exec config must be an object")
    c = req.engine.tasks.running(req.id)
    if c.State.Paused:
        raise Conflict(f"container {c.ID} is paused, unpause the container before exec")
    cmd = _strings(body.get("Cmd"), "Cmd")
    if not cmd:
        raise InvalidArgument("No exec command specified")
    if body.get("Privileged"):
        raise InvalidArgument("LayerLab does not support exec --privileged yet")
    instance = ExecInstance(new_id(), c.ID, cmd, _strings(body.get("Env"), "Env"),
                            body.get("WorkingDir") or "", body.get("User") or None,
                            bool(body.get("AttachStdin")), bool(body.get("AttachStdout")),
                            bool(body.get("AttachStderr")), bool(body.get("Tty")),
                            _console_size(body.get("ConsoleSize")))
    req.daemon.execs.add(instance)
    return JSON({"Id": instance.id}, 201)


@routes.route("GET", "/exec/{id}/json")
def inspect(req: Request) -> Response:
    return JSON(req.daemon.execs.get(req.id).inspect())


@routes.route("POST", "/exec/{id}/resize")
def resize(req: Request) -> Response:
    req.daemon.execs.get(req.id)
    return Raw(b"", 200)


@routes.route("POST", "/exec/{id}/start")
def start(req: Request) -> Response:
    body = req.json() or {}
    instance = req.daemon.execs.claim(req.id)
    if body.get("Detach"):
        try:
            _run(req, instance, None, None, None, detach=True)
        finally:
            instance.done.set()
        return Raw(b"", 200, content_type="application/json")
    return Hijack(lambda conn: _session(req, instance, conn), multiplexed=not instance.tty)


def _run(req: Request, instance: ExecInstance, stdin: int | None, stdout: int | None,
         stderr: int | None, detach: bool = False) -> int:
    """The tasks service's exec; a stream nobody attached reads or writes /dev/null."""
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    code = 126
    stdin, stdout = devnull if stdin is None else stdin, devnull if stdout is None else stdout
    console = None
    if instance.tty and not detach:  # a pty of the container's, relayed to the streams
        from ..runtime.tty import copy_pty

        console = functools.partial(copy_pty, stdin, stdout)
    try:
        code = req.engine.tasks.exec(
            instance.container, instance.cmd, instance.env, instance.workdir, instance.user,
            stdin, stdout, devnull if stderr is None else stderr, detach=detach,
            console=console, console_size=instance.console_size)
        return code
    except EngineError as e:
        code = e.exit_code
        raise
    finally:
        os.close(devnull)
        instance.exit_code = code
        instance.running = False


def _session(req: Request, instance: ExecInstance, conn: HijackedConnection) -> None:
    """Pipes for the attached streams; output framed to the client as it comes, stdin
    copied until the client's half-close; the exit code recorded before the stream ends,
    so the client's ``inspect`` that follows the end sees it."""
    out_r, out_w = os.pipe2(os.O_CLOEXEC) if instance.stdout else (None, None)
    err_r, err_w = os.pipe2(os.O_CLOEXEC) if instance.stderr else (None, None)
    in_r, in_w = os.pipe2(os.O_CLOEXEC) if instance.stdin else (None, None)
    failure: list[EngineError] = []

    def run() -> None:
        try:
            _run(req, instance, in_r, out_w, err_w)
        except EngineError as e:
            failure.append(e)
        finally:
            for fd in (in_r, out_w, err_w):
                if fd is not None:
                    os.close(fd)

    runner = threading.Thread(target=run, daemon=True, name=f"exec {instance.id[:12]}")
    runner.start()
    if in_w is not None:
        threading.Thread(target=_feed, args=(conn, in_w), daemon=True).start()
    streams = {fd: kind for fd, kind in ((out_r, StreamType.STDOUT),
                                         (err_r, StreamType.STDERR)) if fd is not None}
    try:
        while streams:
            readable, _, _ = select.select(list(streams), [], [])
            for fd in readable:
                data = os.read(fd, 65536)
                if not data:
                    os.close(fd)
                    del streams[fd]
                else:
                    conn.write_frame(streams[fd], data)
        runner.join()
        if failure:  # Docker writes the failure to the stream's stdout
            conn.write_frame(StreamType.STDOUT, f"{failure[0]}\r\n".encode())
    finally:
        for fd in streams:
            os.close(fd)
        instance.done.set()
    conn.close()


def _feed(conn: HijackedConnection, in_w: int) -> None:
    try:
        while data := conn.read_stdin():
            view = memoryview(data)
            while view:
                view = view[os.write(in_w, view):]
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            os.close(in_w)


def _console_size(value: Any) -> tuple[int, int] | None:
    """``ConsoleSize`` of an exec's create: the client's terminal (rows, cols)."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (value[0], value[1]) if value[0] and value[1] else None
    return None
