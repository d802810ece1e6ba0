"""Start a container: a double-forked monitor (like conmon) owns its init process.

The monitor outlives the command that started it, so a container keeps running when the
CLI or the notebook kernel exits. It copies the container's output to the log (and to an
attached client), records the exit status, then releases ``monitor.lock`` so anyone
blocked in ``wait`` wakes up at once.

    caller ──fork──► (setsid) ──fork──► monitor ──unshare(PID)+fork──► init (PID 1) ─exec─► CMD

Rootless, the monitor first joins the store keeper's user and mount namespaces (where the
container's view is mounted), so the PID namespace and everything the init makes belong
to that user namespace; its ``prepare`` hook runs in a sidecar process (``sidecar.py``)
in the keeper's network namespace, where the store's bridges live. In PRoot mode the
monitor runs ``proot.run`` instead of an init.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import functools
import os
import select
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import RuntimeFailure
from ..linux import syscalls as sc
from . import logs
from .cgroups import Cgroup, CgroupError
from .controllers import OOM_KILLS, Group, join_groups
from .devices import DeviceCgroup
from .init import run_init, write_all
from .spec import Attach, ContainerSpec


@dataclass
class Hooks:
    """Engine callbacks run in the monitor: record state, unmount, auto-remove.

    ``prepare(pid)`` runs once the init's namespaces exist and before its command does
    (Docker's order: the network is wired into ``/proc/<pid>/ns/net`` here); raising an
    ``EngineError`` there fails the start with its message.
    """

    started: Callable[[int], None]
    exited: Callable[[int], None]
    failed: Callable[[int, str], None]
    prepare: Callable[[int], None] | None = None
    # after the exit is recorded: ``again(code, release)`` may start the container anew
    # (a restart policy); it calls ``release()`` (the monitor then exits, releasing
    # monitor.lock) before it does. It runs in the monitor's restarter (``_restarter``).
    again: Callable[[int, Callable[[], None]], None] | None = None


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


def _read_all(fd: int) -> bytes:
    out = b""
    while chunk := os.read(fd, 65536):
        out += chunk
    return out


@functools.cache
def title_setter() -> Callable[[str], None] | None:
    """``setproctitle``, imported in the starter, once: a kernel or an API server then pays
    for it (and for the ``logging`` it loads, ~8 ms) once, not in every monitor it forks.
    Not at the top: the CLI loads this module also where it starts no container (and may
    run without the package's dependencies, as the unprivileged tests do)."""
    try:
        from setproctitle import setproctitle
    except ImportError:
        return None
    return setproctitle


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
    title_setter()
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
            if attach and attach.conn is not None:
                held.add(attach.conn)
            close_fds_except({ready_w, *held, *spec.pass_fds,
                              *([exit_w] if exit_w is not None else [])})
            if os.fork() == 0:
                _monitor(spec, attach, hooks, ready_w, exit_w)
            code = 0
        except BaseException as e:
            with contextlib.suppress(OSError):
                write_all(ready_w, f"err 125 monitor: {e}".encode())
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
    failed_with, _, message = rest.partition(" ")
    raise RuntimeFailure(message or "container monitor died before starting the container",
                         int(failed_with) if failed_with.isdigit() else 125)


def _monitor(spec: ContainerSpec, attach: Attach | None, hooks: Hooks,
             ready_w: int, exit_w: int | None) -> None:  # pragma: no cover - forked
    """Body of the monitor process; never returns."""
    try:
        # forked from whoever started the container (the CLI, a notebook kernel): named
        # after its job, so `ps` does not show it as a leaked copy of that process
        if (set_title := title_setter()) is not None:
            set_title(f"layerlab-monitor {spec.id[:12]}")
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTSTP):
            signal.signal(sig, signal.SIG_IGN)
        if spec.mode == "rootless":
            from .keeper import Keeper, inside

            if not inside(Path(spec.store)):  # a restart by a monitor already is
                Keeper(Path(spec.store)).join(net=False)
        lock = os.open(os.path.join(spec.state_dir, "monitor.lock"),
                       os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(lock, fcntl.LOCK_EX)
        # forked before the PID namespace is unshared: a restart forks a new monitor,
        # which from here would land in the container's (then dead) PID namespace
        restarter = None
        if hooks.again is not None:
            from .restart import Restarter

            restarter = Restarter.fork(hooks.again)
        devnull = os.open(os.devnull, os.O_RDWR)
        stdin = os.dup(attach.stdin) if attach and attach.stdin is not None else os.dup(devnull)
        conn = os.dup(attach.conn) if attach and attach.conn is not None else None
        sinks = ({"stdout": os.dup(attach.stdout), "stderr": os.dup(attach.stderr)}
                 if attach and conn is None else {})
        # -t, or -i with no client's stdin to hand over: served on attach.sock (attach.py)
        served = spec.tty or (spec.open_stdin and not (attach and attach.stdin is not None))
        stdin_w = console = raw_in = None
        if spec.tty and attach and attach.stdin is not None:
            raw_in = os.dup(attach.stdin)  # a client's plain stdin (the API's): to the pty
        if served and not spec.tty and spec.open_stdin:
            os.close(stdin)
            stdin, stdin_w = os.pipe2(os.O_CLOEXEC)
        if spec.tty:
            console, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            spec.console_fd = theirs.detach()
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        log = logs.open_for_append(os.path.join(spec.state_dir, "container.log"))
        if spec.mode == "proot":
            from . import proot

            proot.monitor(spec, hooks, stdin, sinks, log, ready_w, exit_w)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        fail_r, fail_w = os.pipe2(os.O_CLOEXEC)
        ns_r, ns_w = os.pipe2(os.O_CLOEXEC)
        go_w, go_r = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sidecar = None
        if spec.mode == "rootless" and hooks.prepare is not None:
            # no thread can be born here after the PID namespace (see sidecar.py)
            from .sidecar import Sidecar

            sidecar = Sidecar.fork(hooks.prepare, spec.pass_fds, spec.store)
            hooks = dataclasses.replace(hooks, prepare=sidecar.prepare)
        own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        sc.unshare(sc.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            go_w.close()
            run_init(spec, stdin, out_w, err_w, fail_w, ns_w, go_r)
        # Back to our own PID namespace for children: no thread can be born while it points
        # at the container's (clone(2) EINVAL), and the network services need threads.
        # Rootless, the host's PID namespace is not ours to join (EPERM): the network
        # services run in the sidecar, and the monitor forks nothing more.
        if spec.mode != "rootless":
            sc.setns(own_pidns, sc.CLONE_NEWPID)
        os.close(own_pidns)
        for fd in (out_w, err_w, fail_w, stdin, devnull, ns_w):
            os.close(fd)
        go_r.close()
        if spec.console_fd >= 0:
            os.close(spec.console_fd)
        groups: list[Group] = []
        failure = _prepare(pid, spec, groups, hooks, ns_r, go_w, fail_r)
        master = None
        if console is not None and not failure:
            from .tty import receive_master

            master = receive_master(console.fileno())
            console.close()
            if master is None:
                failure = b"125 the container's init sent no pseudo-terminal"
        if failure:
            os.waitpid(pid, 0)
            if sidecar is not None:
                sidecar.stop()
            failed_with, _, message = failure.decode(errors="replace").partition(" ")
            hooks.failed(int(failed_with), message)
            _remove_groups(groups)
            write_all(ready_w, f"err {failed_with} {message}".encode())
            os._exit(0)
        hooks.started(pid)
        write_all(ready_w, f"ok {pid}".encode())
        os.close(ready_w)
        ready_w = -1  # reported: nothing more may go there (the number may be reused)
        relay = None
        if served:
            from .attach import Relay

            outputs = {master: "stdout"} if master is not None else {out_r: "stdout",
                                                                     err_r: "stderr"}
            if master is not None:
                os.close(out_r)
                os.close(err_r)
            relay = Relay(spec.state_dir, log, outputs, master if master is not None else
                          stdin_w, sinks, conn, raw_in)
            pidfd = os.pidfd_open(pid)
            relay.run(pidfd)
            os.close(pidfd)
        else:
            _pump({out_r: "stdout", err_r: "stderr"}, log, sinks)
        _, status = os.waitpid(pid, 0)
        exited_with = exit_code(status)
        if sidecar is not None:
            sidecar.stop()
        _remove_groups(groups, EXEC_JOINERS_LEAVE_S)
        hooks.exited(exited_with)
        if relay is not None:
            relay.finish(exited_with)
        if exit_w is not None:
            with contextlib.suppress(OSError):
                write_all(exit_w, str(exited_with).encode())
            os.close(exit_w)
        if restarter is not None:
            restarter.hand_over(exited_with)
    except BaseException as e:  # before "ok": the starter gets the reason (after: no one)
        with contextlib.suppress(OSError):
            write_all(ready_w, f"err 125 monitor: {e}".encode())
    finally:
        os._exit(0)


def _groups(spec: ContainerSpec) -> list[Group]:
    """The container's cgroups: the freezer's (pause), the device allowlist's and the
    resource controllers' (limits, stats)."""
    groups: list[Group] = []
    if spec.cgroup:
        with contextlib.suppress(CgroupError):
            groups.append(Cgroup.create(spec.id))
    if spec.devices:
        groups.append(DeviceCgroup.create(spec.id))  # no allowlist, no start
    try:
        groups.extend(join_groups(spec.id, spec.resources, Path(spec.state_dir, OOM_KILLS)))
    except CgroupError:
        _remove_groups(groups)
        raise
    return groups


# An exec's joiner sits in the container's groups, outside its PID namespace, until the
# process it forked there exits: killed with the namespace when the init exits, but
# reaped a moment after the init. So at the exit the groups may still be busy that long.
EXEC_JOINERS_LEAVE_S = 2.0


def _remove_groups(groups: list[Group], patience: float = 0.0) -> None:
    """Remove the groups, retrying a busy one for up to PATIENCE seconds."""
    deadline = time.monotonic() + patience
    for group in groups:
        while True:
            try:
                group.remove()
                break
            except CgroupError as e:
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    break
                time.sleep(0.01)  # no notification on v1 when a group empties


def exit_code(status: int) -> int:
    """A wait status as Docker reports it: the exit code, or 128+N when killed by N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _prepare(pid: int, spec: ContainerSpec, groups: list[Group], hooks: Hooks, ns_r: int,
             go_w: socket.socket, fail_r: int) -> bytes:
    """Make the container's cgroups (into ``groups``), run ``hooks.prepare`` once the init
    has its namespaces, then let the init join the groups and exec its command; the
    init's failure report (empty once its command runs).

    This runs while the init builds the container's root. With "go" the init gets the v1
    groups' ``tasks`` files, open, and moves itself in (``self_move_file``: no RCU grace
    period); v2 groups the monitor joins it to from here (that wait then overlaps the
    init's mounts). Either way the command never runs outside its cgroups (runc's parent
    places its child the same way).
    """
    failure = b""
    moves: list[int] = []
    try:
        groups.extend(_groups(spec))
        for group in groups:
            files = group.self_move_files()
            moves += [os.open(f, os.O_WRONLY | os.O_CLOEXEC) for f in files]
            if not files:
                group.add(pid)
        os.read(ns_r, 1)  # EOF: the init unshared (or died trying)
        if hooks.prepare is not None:
            hooks.prepare(pid)
    except Exception as e:  # reported to the starter as the start's failure
        failure = f"125 {e}".encode()
    os.close(ns_r)
    with contextlib.suppress(OSError):
        socket.send_fds(go_w, [b"s" if failure else b"g"], [] if failure else moves)
    go_w.close()
    for fd in moves:
        os.close(fd)
    failure = _read_all(fail_r) or failure
    os.close(fail_r)
    return failure


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
            write_all(log, logs.encode(stream, chunk))
            sink = sinks.get(stream)
            if sink is not None:
                try:
                    write_all(sink, chunk)
                except OSError as e:  # the client went away (detached, interrupted)
                    if e.errno not in (errno.EPIPE, errno.EBADF, errno.EIO):
                        raise
                    sinks.pop(stream)
