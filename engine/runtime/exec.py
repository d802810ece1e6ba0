"""``docker exec``: a new process inside a running container's namespaces and cgroup (S17).

Joining the mount namespace is not enough to be inside the container: its root is where
the init's ``pivot_root`` put it, which is not necessarily the namespace's root (when the
engine itself runs in a chroot, the namespace's root is the host's). So, as
``nsenter --root`` does, the container's root is opened through ``/proc/<pid>/root``
before joining and chrooted into after.

The process is forked twice inside the container's PID namespace: its parent is then a
process of the container, so a detached process (``exec -d``) is adopted by the
container's init when that parent leaves, never by the host's PID 1.

Rootless, the other namespaces belong to the store keeper's user namespace, which must be
joined first (the kernel refuses a mount namespace join without its capabilities). It is
taken from the container's monitor, which lives in it, rather than from the init, which
may be in a nested one (``-u UID``); ``exec -u`` then nests again as the init does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from ..errors import RuntimeFailure
from .controllers import Group, join
from .init import ExecFailure, exec_as, report
from .spec import ProcessSpec

# pid only affects children, so it is joined too.
NS_ORDER = ("ipc", "uts", "net", "pid", "mnt")


def exec_in(pid: int, groups: Sequence[Group], process: ProcessSpec,
            stdin: int, stdout: int, stderr: int, detach: bool = False,
            userns_of: int | None = None,
            console: Callable[[int], bool] | None = None,
            console_size: tuple[int, int] | None = None) -> int:
    """Run ``process`` in the namespaces of ``pid``; returns its exit code (128+N if killed),
    or 0 as soon as it has been exec'd when ``detach``. ``userns_of``: rootless, the
    process whose user namespace to join first (the monitor). ``console`` (``exec -t``):
    the process gets a pty of the container's devpts, whose master ``console(master)``
    relays; it returns True when the user detached (0 is returned without waiting)."""
    handover = theirs = -1
    if console is not None:
        import socket

        from . import tty  # noqa: F401 - imported before the chroot, for the child

        ours_sock, theirs_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        handover, theirs = ours_sock.detach(), theirs_sock.detach()
    fail_r, fail_w = os.pipe2(os.O_CLOEXEC)
    try:
        users = [f"/proc/{userns_of}/ns/user"] if userns_of else []
        ns_fds = [os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                  for path in [*users, *(f"/proc/{pid}/ns/{ns}" for ns in NS_ORDER)]]
        root_fd = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RuntimeFailure("container is not running", 126) from None
    child = os.fork()
    if child == 0:  # pragma: no cover - forked
        if handover >= 0:
            os.close(handover)
        _joiner(ns_fds, root_fd, groups, process, stdin, stdout, stderr, fail_w, detach,
                theirs, console_size)
    for fd in (*ns_fds, root_fd, fail_w):
        os.close(fd)
    if theirs >= 0:
        os.close(theirs)
    failure = b""
    while chunk := os.read(fail_r, 4096):
        failure += chunk
    os.close(fail_r)
    master = None
    if handover >= 0:
        from .tty import receive_master

        master = None if failure else receive_master(handover)
        os.close(handover)
    if master is not None and console is not None:
        try:
            if console(master):
                return 0  # detached: the process runs on (until its terminal hangs up)
        finally:
            os.close(master)
    _, status = os.waitpid(child, 0)
    if failure:
        code, _, message = failure.decode(errors="replace").partition(" ")
        raise RuntimeFailure(f"OCI runtime exec failed: {message}",
                             int(code) if code.isdigit() else 126)
    from .monitor import exit_code

    return exit_code(status)


def _joiner(ns_fds: list[int], root_fd: int, groups: Sequence[Group],
            process: ProcessSpec,
            stdin: int, stdout: int, stderr: int, fail_w: int,
            detach: bool, handover: int = -1,
            size: tuple[int, int] | None = None) -> None:  # pragma: no cover - forked
    """Join the container, then fork the process inside it (its exit code is ours)."""
    code = 126
    try:
        from ..linux import syscalls as sc
        from .monitor import close_fds_except, exit_code

        # Hold none of the caller's descriptors while the process runs: a notebook
        # kernel's listening sockets would outlive the kernel and block its restart.
        close_fds_except({stdin, stdout, stderr, fail_w, root_fd, handover, *ns_fds})
        for group in groups:  # while the host's cgroup mounts are still in view
            join(group)
        for fd in ns_fds:
            sc.setns(fd, 0)
        os.fchdir(root_fd)
        os.chroot(".")
        os.close(root_fd)
        inner = os.fork()  # the PID namespace applies to children only
        if inner == 0:
            if handover >= 0:  # exec -t: the pty's slave is all three
                from .tty import open_console

                stdin = stdout = stderr = open_console(handover, size)
            _inside(process, stdin, stdout, stderr, fail_w, detach)
        if handover >= 0:
            os.close(handover)
        os.close(fail_w)
        _, status = os.waitpid(inner, 0)
        code = exit_code(status)
    except BaseException as e:
        report(fail_w, 126, f"exec: {e}")
    finally:
        os._exit(code)


def _inside(process: ProcessSpec, stdin: int, stdout: int, stderr: int, fail_w: int,
            detach: bool) -> None:  # pragma: no cover - forked, in the container
    """A process of the container: the command itself, or (detached) the parent that
    leaves once the command runs, handing it to the container's init."""
    if detach:
        if os.fork() != 0:
            os._exit(0)  # the command's exec (or failure) closes fail_w for our caller
        os.setsid()
    code = 126
    try:
        exec_as(process, stdin, stdout, stderr)
    except ExecFailure as e:
        code = e.code
        report(fail_w, code, str(e))
    except BaseException as e:
        report(fail_w, 126, f"exec: {e}")
    os._exit(code)
