"""Start a container: a double-forked monitor (like conmon) owns its init process.

The monitor outlives the command that started it, so a container keeps running when the
CLI or the notebook kernel exits. It copies the container's output to the log (and to an
attached client), records the exit status, then releases ``monitor.lock`` so anyone
blocked in ``wait`` wakes up at once.

    caller ──fork──► (setsid) ──fork──► monitor ──unshare(PID)+fork──► init (PID 1) ─exec─► CMD
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import RuntimeFailure
from ..linux import syscalls as sc
from . import logs, users
from .cgroups import Cgroup, CgroupError
from .rootfs import enter_rootfs
from .spec import Attach, ContainerSpec

NAMESPACES = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWNET


@dataclass
class Hooks:
    """Engine callbacks run in the monitor: record state, unmount, auto-remove."""

    started: Callable[[int], None]
    exited: Callable[[int], None]
    failed: Callable[[int, str], None]


@dataclass
class Started:
    pid: int
    exit_fd: int | None  # readable once the container has exited (attached starts only)

    def wait(self) -> int:
        """Block until the attached container exits; its exit code."""
        assert self.exit_fd is not None
        data = b""
        while chunk := os.read(self.exit_fd, 64):
            data += chunk
        os.close(self.exit_fd)
        return int(data or b"255")


class _InitError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _read_all(fd: int) -> bytes:
    out = b""
    while chunk := os.read(fd, 65536):
        out += chunk
    return out


def close_fds_except(keep: set[int]) -> None:
    """Drop every inherited descriptor: above all the caller's store lock, which would
    otherwise stay held for the container's whole life."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def spawn(spec: ContainerSpec, attach: Attach | None, hooks: Hooks) -> Started:
    """Fork the monitor; return once the container's CMD has been exec'd (or raise)."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    exit_r, exit_w = os.pipe2(os.O_CLOEXEC) if attach else (None, None)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked child
        code = 1
        try:
            os.close(ready_r)
            if exit_r is not None:
                os.close(exit_r)
            os.setsid()
            held = {attach.stdout, attach.stderr} if attach else set()
            if attach and attach.stdin is not None:
                held.add(attach.stdin)
            close_fds_except({ready_w, *held, *([exit_w] if exit_w is not None else [])})
            if os.fork() == 0:
                _monitor(spec, attach, hooks, ready_w, exit_w)
            code = 0
        except BaseException as e:
            with contextlib.suppress(OSError):
                _write_all(ready_w, f"err 125 monitor: {e}".encode())
        finally:
            os._exit(code)
    os.close(ready_w)
    if exit_w is not None:
        os.close(exit_w)
    os.waitpid(pid, 0)
    report = _read_all(ready_r).decode(errors="replace")
    os.close(ready_r)
    kind, _, rest = report.partition(" ")
    if kind == "ok":
        return Started(int(rest), exit_r)
    if exit_r is not None:
        os.close(exit_r)
    code, _, message = rest.partition(" ")
    raise RuntimeFailure(message or "container monitor died before starting the container",
                         int(code) if code.isdigit() else 125)


def _monitor(spec: ContainerSpec, attach: Attach | None, hooks: Hooks,
             ready_w: int, exit_w: int | None) -> None:  # pragma: no cover - forked
    """Body of the monitor process; never returns."""
    try:
        # forked from whoever started the container (the CLI, a notebook kernel): named
        # after its job, so `ps` does not show it as a leaked copy of that process. Imported
        # here, not at the top: the CLI loads this module also where it starts no container
        # (and may run without the package's dependencies, as the unprivileged tests do).
        with contextlib.suppress(ImportError):
            import setproctitle

            setproctitle.setproctitle(f"layerlab-monitor {spec.id[:12]}")
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTSTP):
            signal.signal(sig, signal.SIG_IGN)
        lock = os.open(os.path.join(spec.state_dir, "monitor.lock"),
                       os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(lock, fcntl.LOCK_EX)
        devnull = os.open(os.devnull, os.O_RDWR)
        stdin = os.dup(attach.stdin) if attach and attach.stdin is not None else os.dup(devnull)
        sinks = {"stdout": os.dup(attach.stdout), "stderr": os.dup(attach.stderr)} if attach else {}
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        cgroup = None
        if spec.cgroup:
            with contextlib.suppress(CgroupError):
                cgroup = Cgroup.create(spec.id)
        log = logs.open_for_append(os.path.join(spec.state_dir, "container.log"))
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        fail_r, fail_w = os.pipe2(os.O_CLOEXEC)
        sc.unshare(sc.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            _init(spec, cgroup, stdin, out_w, err_w, fail_w)
        for fd in (out_w, err_w, fail_w, stdin, devnull):
            os.close(fd)
        failure = _read_all(fail_r)
        os.close(fail_r)
        if failure:
            os.waitpid(pid, 0)
            code, _, message = failure.decode(errors="replace").partition(" ")
            hooks.failed(int(code), message)
            if cgroup:
                with contextlib.suppress(CgroupError):
                    cgroup.remove()
            _write_all(ready_w, f"err {code} {message}".encode())
            os._exit(0)
        hooks.started(pid)
        _write_all(ready_w, f"ok {pid}".encode())
        os.close(ready_w)
        _pump({out_r: "stdout", err_r: "stderr"}, log, sinks)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code  # killed by a signal: 128+N, as Docker reports
        if cgroup:
            with contextlib.suppress(CgroupError):
                cgroup.remove()
        hooks.exited(code)
        if exit_w is not None:
            with contextlib.suppress(OSError):
                _write_all(exit_w, str(code).encode())
    finally:
        os._exit(0)


def _pump(sources: dict[int, str], log: int, sinks: dict[str, int]) -> None:
    """Copy container output to the log and to the attached client until both pipes close."""
    while sources:
        readable, _, _ = select.select(list(sources), [], [])
        for fd in readable:
            chunk = os.read(fd, 65536)
            stream = sources[fd]
            if not chunk:
                del sources[fd]
                os.close(fd)
                continue
            _write_all(log, logs.encode(stream, chunk))
            sink = sinks.get(stream)
            if sink is not None:
                try:
                    _write_all(sink, chunk)
                except OSError as e:  # the client went away (detached, interrupted)
                    if e.errno not in (errno.EPIPE, errno.EBADF, errno.EIO):
                        raise
                    sinks.pop(stream)


def _init(spec: ContainerSpec, cgroup: Cgroup | None, stdin: int, out_w: int, err_w: int,
          fail_w: int) -> None:  # pragma: no cover - runs as the container's PID 1
    """Set up the namespaces and exec the command; report failures on ``fail_w``."""
    try:
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTSTP):
            signal.signal(sig, signal.SIG_DFL)
        if cgroup:
            cgroup.add(0)  # 0 = the writing process; our own PID here would be 1
        sc.unshare(NAMESPACES)
        enter_rootfs(spec)
        proc = spec.process
        try:
            user = users.resolve(proc.user)
        except users.UnknownUser as e:
            raise _InitError(126, str(e)) from None
        env = list(proc.env)
        if not any(e.startswith("HOME=") for e in env):
            env.append(f"HOME={user.home}")
        try:
            os.makedirs(proc.cwd, exist_ok=True)
            os.chdir(proc.cwd)
        except OSError as e:
            raise _InitError(
                126, f"cannot chdir to working directory {proc.cwd}: {e.strerror}"
            ) from None
        os.setgroups(user.groups)
        os.setgid(user.gid)
        os.setuid(user.uid)
        os.dup2(stdin, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        try:
            os.execvpe(proc.args[0], proc.args, dict(e.partition("=")[::2] for e in env))
        except FileNotFoundError:
            raise _InitError(127, f'exec: "{proc.args[0]}": executable file not found in '
                                  "$PATH") from None
        except PermissionError:
            raise _InitError(126, f'exec: "{proc.args[0]}": permission denied') from None
        except OSError as e:
            raise _InitError(126, f'exec: "{proc.args[0]}": {e.strerror}') from None
    except _InitError as e:
        _write_all(fail_w, f"{e.code} {e}".encode())
        os._exit(e.code)
    except BaseException as e:
        _write_all(fail_w, f"125 container init: {e}".encode())
        os._exit(125)
