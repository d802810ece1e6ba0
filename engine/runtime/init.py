"""The container's PID 1 up to ``execve``, and ``exec_as``, which it shares with ``exec``.

    monitor ──fork──► init: unshare(mnt, uts, ipc[, net]) ─ready─► rootfs, pivot_root,
                            confinement mounts ─(go)─► exec_as ─► CMD
    meanwhile the monitor makes the cgroups and, once the namespaces exist, wires them
    (network); then it says go, handing over the v1 groups' ``tasks`` files, through
    which the init moves itself in (v2 groups: the monitor moved it)

Failures travel back to the monitor on a CLOEXEC pipe as ``"<exit code> <message>"``, with
Docker's exit codes: 126 (cannot run it), 127 (not found), 125 (the runtime failed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket

from ..linux import syscalls as sc
from . import users
from .rootfs import enter_rootfs
from .spec import ContainerSpec, ProcessSpec

_INHERITED_SIGNALS = (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTSTP)
MAX_GROUP_FILES = 16  # v1 tasks files with "go": freezer, devices, six controllers


class ExecFailure(Exception):
    """Why the command could not be started, with its Docker exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def report(fail_w: int, code: int, message: str) -> None:
    """Tell the parent why we failed; the pipe may already be gone."""
    with contextlib.suppress(OSError):
        write_all(fail_w, f"{code} {message}".encode())


def exec_as(process: ProcessSpec, stdin: int, stdout: int, stderr: int,
            make_cwd: bool = False) -> None:
    """Become the process's user inside the (already entered) container and exec it.

    Resolves ``-u`` against the container's own passwd, changes to the working directory,
    applies the confinement plan (capabilities, no_new_privs, seccomp; it switches the uid
    itself, in runc's order), then execs. ``make_cwd`` creates a missing working directory,
    as ``run`` does (``exec`` does not). Raises ``ExecFailure``; returns never.
    """
    try:
        user = users.resolve(process.user)
    except users.UnknownUser as e:
        raise ExecFailure(126, str(e)) from None
    env = dict(e.partition("=")[::2] for e in process.env)
    env.setdefault("HOME", user.home)
    try:
        if make_cwd:
            os.makedirs(process.cwd, exist_ok=True)
        os.chdir(process.cwd)
    except OSError as e:  # runc's words, which Docker passes on for run and exec alike
        raise ExecFailure(126, f'chdir to cwd ("{process.cwd}") set in config.json failed: '
                               f"{(e.strerror or '').lower()}") from None
    if process.ulimits:
        from .ulimits import apply

        try:
            apply(process.ulimits)
        except (OSError, ValueError) as e:  # runc's words
            raise ExecFailure(125, f"error setting rlimit: {e}") from None
    if process.rootless:
        become_mapped(user)
    if process.plan is not None:
        from .confine import apply_process

        apply_process(process.plan, user, set_groups=not process.rootless)
    else:
        if not process.rootless:
            os.setgroups(user.groups)
        os.setgid(user.gid)
        os.setuid(user.uid)
    os.dup2(stdin, 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    argv0 = process.args[0]
    try:
        os.execvpe(argv0, process.args, env)
    except FileNotFoundError:
        raise ExecFailure(127, f'exec: "{argv0}": executable file not found in $PATH') from None
    except PermissionError:
        raise ExecFailure(126, f'exec: "{argv0}": permission denied') from None
    except OSError as e:
        raise ExecFailure(126, f'exec: "{argv0}": {e.strerror}') from None


def become_mapped(user: users.User) -> None:
    """Rootless ``-u``: only our own uid is mapped (as 0), so ``setuid(1000)`` is EINVAL.
    For another uid (or gid), a nested user namespace maps it onto that 0: the command
    then really is that uid, without capabilities after exec, though every file (all of
    them ours on disk) looks owned by it. Supplementary groups cannot be set at all
    (setgroups is denied in the namespace, and inherited so)."""
    if (user.uid, user.gid) == (0, 0):
        return
    try:
        sc.unshare(sc.CLONE_NEWUSER)
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{user.uid} 0 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{user.gid} 0 1")
    except OSError as e:
        raise ExecFailure(126, f"cannot become {user.uid}:{user.gid}: only uid 0 is mapped in "
                               f"the rootless user namespace and a nested one failed: "
                               f"{e.strerror}") from None


def run_init(spec: ContainerSpec, stdin: int, out_w: int, err_w: int, fail_w: int,
             ready_w: int, go_r: socket.socket) -> None:  # pragma: no cover - PID 1
    """Body of the container's PID 1 until exec; never returns."""
    try:
        for sig in _INHERITED_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        # Die with the monitor: nothing else would reap us, record the exit or release
        # the network (exec_as keeps this across the uid change, as runc does).
        sc.prctl_set_pdeathsig(signal.SIGKILL)
        sc.unshare(spec.namespaces)
        if spec.netns_fd is not None:  # --network container:NAME
            sc.setns(spec.netns_fd, sc.CLONE_NEWNET)
            os.close(spec.netns_fd)
        os.close(ready_w)  # namespaces exist: the monitor may configure them now
        # imported before pivot_root: the package's files are not in the container
        if spec.tty:
            from .tty import open_console
        if spec.init:
            from . import reaper
        enter_rootfs(spec)
        plan = spec.process.plan
        if plan is not None:
            from .confine import apply_mounts

            apply_mounts(plan)
        if spec.tty:
            stdin = out_w = err_w = open_console(spec.console_fd, spec.console_size)
        # the network wired and our cgroups made: join them (each a v1 ``tasks`` file
        # the monitor opened), then the command may run
        go, moves, _, _ = socket.recv_fds(go_r, 1, MAX_GROUP_FILES)
        if go != b"g":
            os._exit(125)  # the monitor gave up on us (its error is reported by it)
        go_r.close()
        for fd in moves:
            try:
                os.write(fd, b"0")
            except OSError as e:
                raise ExecFailure(125, f"join cgroup: {e.strerror}") from None
            os.close(fd)
        if spec.init:
            reaper.run(spec.process, stdin, out_w, err_w, fail_w)
        exec_as(spec.process, stdin, out_w, err_w, make_cwd=True)
    except ExecFailure as e:
        report(fail_w, e.code, str(e))
        os._exit(e.code)
    except BaseException as e:
        report(fail_w, 125, f"container init: {e}")
        os._exit(125)
