"""``docker exec``: a new process inside a running container's namespaces and cgroup (S17)."""

from __future__ import annotations

import contextlib
import os

from ..errors import RuntimeFailure
from . import users
from .cgroups import Cgroup
from .spec import ProcessSpec

# user first would matter for rootless; pid only affects children, so it is joined too.
NS_ORDER = ("ipc", "uts", "net", "pid", "mnt")


def exec_in(pid: int, cgroup: Cgroup | None, process: ProcessSpec,
            stdin: int, stdout: int, stderr: int, detach: bool = False) -> int:
    """Run ``process`` in the namespaces of ``pid``; returns its exit code (128+N if killed),
    or 0 as soon as it has been exec'd when ``detach`` (it then belongs to the container's
    init, as with ``docker exec -d``)."""
    fail_r, fail_w = os.pipe2(os.O_CLOEXEC)
    try:
        ns_fds = [os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in NS_ORDER]
    except FileNotFoundError:
        raise RuntimeFailure("container is not running", 126) from None
    child = os.fork()
    if child == 0:  # pragma: no cover - forked
        code = 126
        try:
            from ..linux import syscalls as sc
            from .monitor import close_fds_except

            # Hold none of the caller's descriptors while the process runs: a notebook
            # kernel's listening sockets would outlive the kernel and block its restart.
            close_fds_except({stdin, stdout, stderr, fail_w, *ns_fds})
            for fd in ns_fds:
                sc.setns(fd, 0)
            if cgroup:
                with contextlib.suppress(OSError):
                    cgroup.add(0)
            grandchild = os.fork()  # the PID namespace applies to children only
            if grandchild == 0:
                _exec(process, stdin, stdout, stderr, fail_w)
            os.close(fail_w)
            if detach:
                code = 0
            else:
                _, status = os.waitpid(grandchild, 0)
                code = os.waitstatus_to_exitcode(status)
                code = 128 - code if code < 0 else code
        except BaseException as e:
            with contextlib.suppress(OSError):
                os.write(fail_w, f"126 exec: {e}".encode())
        finally:
            os._exit(code)
    for fd in (*ns_fds, fail_w):
        os.close(fd)
    failure = b""
    while chunk := os.read(fail_r, 4096):
        failure += chunk
    os.close(fail_r)
    _, status = os.waitpid(child, 0)
    if failure:
        code, _, message = failure.decode(errors="replace").partition(" ")
        raise RuntimeFailure(f"OCI runtime exec failed: {message}", int(code))
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _exec(process: ProcessSpec, stdin: int, stdout: int, stderr: int,
          fail_w: int) -> None:  # pragma: no cover - forked
    code, message = 126, ""
    try:
        user = users.resolve(process.user)
        env = dict(e.partition("=")[::2] for e in process.env)
        env.setdefault("HOME", user.home)
        os.chdir(process.cwd)
        os.setgroups(user.groups)
        os.setgid(user.gid)
        os.setuid(user.uid)
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        os.execvpe(process.args[0], process.args, env)
    except users.UnknownUser as e:
        message = str(e)
    except FileNotFoundError as e:
        if e.filename == process.cwd:
            message = f"chdir to cwd ({process.cwd!r}) set in config.json failed: no such file"
        else:
            code = 127
            message = f'exec: "{process.args[0]}": executable file not found in $PATH'
    except OSError as e:
        message = f'exec: "{process.args[0]}": {e.strerror}'
    with contextlib.suppress(OSError):
        os.write(fail_w, f"{code} {message}".encode())
    os._exit(code)
