"""Reading processes from ``/proc``: identities that survive PID reuse, trees, namespaces.

A PID alone names nothing for long: the kernel hands it out again. The boot ID plus a
process's start time (field 22 of ``/proc/PID/stat``) name one process for good, which is
what a record on disk (the keeper's, an exec helper's) must hold.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Iterable


def boot_id() -> str:
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def _stat_fields(pid: int) -> list[str]:
    """Fields 3… of ``/proc/PID/stat`` (after the command name, which may hold spaces)."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    return data[data.rindex(")") + 2:].split()


def start_time(pid: int) -> int:
    """Clock ticks after boot at which ``pid`` started; raises OSError when it is gone."""
    return int(_stat_fields(pid)[19])


def state(pid: int) -> str:
    """The one-letter state (R, S, T, Z, …), or "" when the process is gone."""
    try:
        return _stat_fields(pid)[0]
    except OSError:
        return ""


def alive(pid: int) -> bool:
    return state(pid) not in ("", "Z", "X")


def parent(pid: int) -> int:
    return int(_stat_fields(pid)[1])


def children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    return out


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, parents before their children."""
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


def status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f) if v}


def cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace").strip()


def all_pids() -> list[int]:
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def in_pid_namespace(member: int) -> list[int]:
    """Every process (host PIDs) in the PID namespace of ``member``, exec'd ones included:
    what a cgroup would list for a container, found without one."""
    try:
        target = os.readlink(f"/proc/{member}/ns/pid")
    except OSError:
        return []
    out = []
    for pid in all_pids():
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/ns/pid") == target:
                out.append(pid)
    return sorted(out)


def signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def wait_stopped(pids: Iterable[int], timeout: float = 5.0) -> bool:
    """Until every one of ``pids`` is stopped (T) or gone: a SIGSTOP takes effect when the
    target is next scheduled, so ``kill`` returning says nothing yet. The kernel offers no
    event for another process's stop, so this looks at its state, 1 ms apart."""
    deadline = time.monotonic() + timeout
    pending = list(pids)
    while pending:
        pending = [p for p in pending if state(p) not in ("", "T", "t", "Z", "X")]
        if not pending:
            return True
        if time.monotonic() > deadline:
            return False
        select.select([], [], [], 0.001)
    return True


def wait_gone(pid: int, timeout: float | None = None) -> bool:
    """Block until ``pid`` (any process, not only a child) has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)


def kill_tree(root: int, include_root: bool = False) -> None:
    """SIGKILL every descendant of ``root`` (and ``root``), parents first so none forks
    again, until none is left alive."""
    while True:
        targets = descendants(root) + ([root] if include_root and alive(root) else [])
        targets = [p for p in targets if alive(p)]
        if not targets:
            return
        signal_all(targets, signal.SIGKILL)
        for pid in targets:
            wait_gone(pid, 1.0)
