"""``--init``: PID 1 is a tiny init, the command its child (Docker's ``docker-init``, tini).

A command that is PID 1 gets no default signal actions (``SIGTERM`` is ignored unless it
installs a handler) and inherits every orphan, which it rarely reaps: their zombies pile
up. The init here forwards every signal it may catch to the command and reaps whatever
exits, and exits with the command's status once the command has exited (the kernel then
kills what is left of the PID namespace).

It is the container init's own (forked) Python process, so it costs no binary in the
image; its ``ps`` name is ``layerlab-init -- CMD``.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import NoReturn

from .init import ExecFailure, exec_as, report
from .spec import ProcessSpec

# Signals that are a fault of the receiving process itself, or are ours (SIGCHLD): not
# forwarded, as tini does not.
NOT_FORWARDED = {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGFPE, signal.SIGILL,
                 signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGTRAP, signal.SIGSYS}


def _foreground(terminal: int) -> None:  # pragma: no cover - in the init's child
    """With a terminal (``-t``), the command gets a process group of its own and the
    terminal's foreground, as tini gives it: ctrl-c reaches the command once, not the
    init too (which would forward it a second time)."""
    if not os.isatty(terminal):
        return
    os.setpgid(0, 0)
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # tcsetpgrp from background
    try:
        os.tcsetpgrp(terminal, os.getpid())
    finally:
        signal.signal(signal.SIGTTOU, previous)


def run(process: ProcessSpec, stdin: int, stdout: int, stderr: int,
        fail_w: int) -> NoReturn:  # pragma: no cover - PID 1 of a container
    """Fork the command, then forward signals and reap until it has exited."""
    child = os.fork()
    if child == 0:
        code = 125
        try:
            _foreground(stdin)
            exec_as(process, stdin, stdout, stderr, make_cwd=True)
        except ExecFailure as e:
            code = e.code
            report(fail_w, code, str(e))
        except BaseException as e:
            report(fail_w, 125, f"container init: {e}")
        os._exit(code)
    # Nothing of the monitor's: it waits for EOF on the failure pipe and on the starter's
    # report pipe, which an exec would have closed (CLOEXEC) and we do not exec.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    with contextlib.suppress(ImportError):
        import setproctitle

        setproctitle.setproctitle("layerlab-init -- " + " ".join(process.args))

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for sig in signal.valid_signals():
        if sig not in NOT_FORWARDED:
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, forward)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(255)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)
