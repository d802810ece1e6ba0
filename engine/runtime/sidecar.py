"""A rootless monitor's ``prepare`` hook, run in a process that may have threads.

After ``unshare(CLONE_NEWPID)`` and the fork of the init, a process cannot create threads
(``clone`` gives EINVAL while its children's PID namespace is not its own). A root monitor
``setns``es back to its own PID namespace; a rootless one cannot (the host's PID namespace
belongs to the host's user namespace: EPERM). Yet the network hook needs threads: netlink
and DNS sockets are born inside the container's namespace on a short-lived thread, and the
DNS responder and the port proxies serve on a thread beside the monitor's output loop.

So the rootless monitor forks this sidecar *before* the PID namespace exists, in the
keeper's user and mount namespaces it has joined; the sidecar also enters the keeper's
network namespace, where the store's bridges live (the monitor stays on the host's, which
a ``--network host`` init keeps):

    monitor ──fork──► sidecar (waits for a PID)
       │ unshare(PID), fork init ── init's PID ──► prepare(pid): veths, DNS, proxies
       │ ◄──────────────────── "ok" / the error ──┘
       │ go … the container runs … the sidecar serves
       ▼ init exited: close the pipe ──► the sidecar exits (its sockets close with it)

``PR_SET_PDEATHSIG`` makes a killed monitor take its sidecar along, as it takes its init.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import RuntimeFailure
from ..linux import syscalls as sc


class Sidecar:
    def __init__(self, pid: int, task_w: int, answer_r: int) -> None:
        self.pid = pid
        self._task_w = task_w
        self._answer_r = answer_r

    @classmethod
    def fork(cls, prepare: Callable[[int], None], keep: Iterable[int], store: str) -> Sidecar:
        """Fork the sidecar into the network namespace of ``store``'s keeper (the
        monitor, and so a ``--network host`` init, stay on the host's); it keeps only
        its pipes and ``keep`` (the listeners of published ports): never the monitor's
        report pipe or an attached client."""
        task_r, task_w = os.pipe2(os.O_CLOEXEC)
        answer_r, answer_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - forked
            from .keeper import Keeper
            from .monitor import close_fds_except

            try:
                sc.prctl_set_pdeathsig(signal.SIGKILL)
                close_fds_except({task_r, answer_w, *keep})
                _serve(prepare, task_r, answer_w, lambda: Keeper(Path(store)).join_net())
            finally:
                os._exit(0)
        os.close(task_r)
        os.close(answer_w)
        return cls(pid, task_w, answer_r)

    def prepare(self, pid: int) -> None:
        """Have the sidecar run the hook for the init ``pid``; raises its error."""
        os.write(self._task_w, f"{pid}\n".encode())
        answer = b""
        while chunk := os.read(self._answer_r, 4096):
            answer += chunk
        os.close(self._answer_r)
        self._answer_r = -1
        if answer != b"ok":
            raise RuntimeFailure(answer.decode(errors="replace") or "the network sidecar died")

    def stop(self) -> None:
        """The container has exited: the sidecar stops serving and is reaped."""
        for fd in (self._task_w, self._answer_r):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._task_w = self._answer_r = -1
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _serve(prepare: Callable[[int], None], task_r: int, answer_w: int,
           enter: Callable[[], None]) -> None:  # pragma: no cover - forked
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(task_r, 64)
        if not chunk:
            return  # the init never came (the monitor failed before)
        line += chunk
    try:
        enter()
        prepare(int(line))
        answer = b"ok"
    except Exception as e:
        answer = str(e).encode() or type(e).__name__.encode()
    with contextlib.suppress(OSError):
        os.write(answer_w, answer)
    os.close(answer_w)
    while os.read(task_r, 64):  # serve (on the hook's threads) until the monitor closes
        pass
