"""Fault injection for the crash tests: ``kill -9`` at the Nth filesystem change.

With ``LAYERLAB_FAULT_KILL_AFTER=N`` in its environment the CLI process SIGKILLs itself
just before its Nth write-like operation (a file opened for writing, a rename, an unlink,
an rmdir, a mkdir, a chmod/chown/utime/xattr/link/symlink); with
``LAYERLAB_FAULT_COUNT=FILE`` it writes how many it made to FILE at exit, so a test knows
the range of N that lands inside a command. Every step boundary of every operation is
such an operation, so N from 1 to that count kills the command at each of its steps in
turn, deterministically, with no code of the engine marked up for it and no LD_PRELOAD:
Python's audit hooks (PEP 578) see every such call the ``os`` module makes. Forked
children (the container monitor) are not counted. Read only when those variables are set,
which only tests do.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_EVENTS = {"os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
           "os.link", "os.symlink", "os.truncate", "os.utime", "os.setxattr",
           "os.removexattr", "os.mknod"}
_FINISH: list[Callable[[], None]] = []


def install() -> None:
    """Install the hook if a test asked for it (cheap no-op otherwise)."""
    kill_after = os.environ.get("LAYERLAB_FAULT_KILL_AFTER")
    count_file = os.environ.get("LAYERLAB_FAULT_COUNT")
    if not kill_after and not count_file:
        return
    limit = int(kill_after) if kill_after else 0
    pid = os.getpid()
    seen = [0]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if os.getpid() != pid:
            return
        if event == "open":
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            if not (flags & _WRITE_FLAGS or any(c in mode for c in "wax+")):
                return
        elif event not in _EVENTS:
            return
        seen[0] += 1
        if limit and seen[0] >= limit:
            os.kill(pid, signal.SIGKILL)

    sys.addaudithook(hook)
    if count_file:
        def write_count() -> None:
            n = seen[0]
            with open(count_file, "w") as f:
                f.write(str(n))
        _FINISH.append(write_count)


def finish() -> None:
    """Before the CLI's ``os._exit``: record the count, if asked to."""
    while _FINISH:
        _FINISH.pop()()
