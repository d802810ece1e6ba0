"""Restart policies as the tasks service applies them (the rules are
``runtime/restart.py``'s): counting restarts at start, the decision and delay after an
exit (run by the monitor's restarter), and cancelling them on ``stop``/``rm -f``.

A container waiting out its delay is ``restarting`` with ``MonitorPid`` naming its
restarter, which SIGUSR1 wakes early.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import EngineError, NotFound
from ..runtime import restart
from ..store.containers import Container
from .recovery import pid_alive

if TYPE_CHECKING:
    from .tasks import Tasks


def before_start(tasks: Tasks, c: Container, by_policy: bool) -> bool:
    """Under the store lock, before a start: whether to go on. A start by hand clears the
    stop marks and the count (and leaves a container its live restarter will start); a
    restart by the policy is counted, unless ``stop`` came first."""
    states = tasks.store.containers
    d = tasks.engine.containers.state_dir(c)
    if c.State.Restarting and not by_policy:
        if c.State.MonitorPid and pid_alive(c.State.MonitorPid):
            return False  # its restarter starts it
        states.update_state(c.ID, Status="exited", Restarting=False, MonitorPid=0)  # died
    if c.State.Running:
        return False
    if by_policy:
        if restart.stopped_by_user(d):
            states.update_state(c.ID, Status="exited", Restarting=False, MonitorPid=0)
            return False
        states.update_state(c.ID, RestartCount=c.State.RestartCount + 1)
    else:
        restart.mark_stopped(d, False)
        if c.State.RestartCount:
            states.update_state(c.ID, RestartCount=0)
    return True


def after_exit(tasks: Tasks, cid: str, code: int,
               release: Callable[[], None]) -> None:  # pragma: no cover - the restarter
    """In the exited container's restarter: start it again if its policy says so, after
    the policy's delay (which ``stop`` cuts short with SIGUSR1, cancelling it)."""
    from .tasks import human_seconds

    states = tasks.store.containers
    try:
        c = states.get(cid)
    except NotFound:
        release()
        return
    d = tasks.engine.containers.state_dir(c)
    policy = restart.from_host_config(c.HostConfig)
    if restart.stopped_by_user(d) or not policy.wants(code, c.State.RestartCount,
                                                      restart.killed_by_user(d)):
        release()
        return
    delay = restart.next_delay(d, human_seconds(c.State.StartedAt))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    states.update_state(cid, Status="restarting", Restarting=True, MonitorPid=os.getpid())
    release()
    signal.sigtimedwait({signal.SIGUSR1}, delay)
    try:
        tasks.start(cid, by_policy=True)
    except EngineError as e:
        with contextlib.suppress(NotFound):
            states.update_state(cid, Status="exited", Restarting=False, MonitorPid=0,
                                Error=str(e))


def no_more(tasks: Tasks, c: Container) -> Container:
    """Stopped by hand (``stop``, ``rm -f``): its restart policy restarts it no more, and a
    restart it is waiting for is cancelled; the container as it is now."""
    restart.mark_stopped(tasks.engine.containers.state_dir(c), True)
    return _cancel(tasks, c) if c.State.Restarting else c


def _cancel(tasks: Tasks, c: Container) -> Container:
    """Wake the restarter (which finds the stop mark and gives up), wait until it has
    gone."""
    from .tasks import KILL_WAIT

    pid = c.State.MonitorPid
    try:
        pidfd = os.pidfd_open(pid)
    except (ProcessLookupError, ValueError):
        pidfd = None
    if pidfd is not None:
        try:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
            select.select([pidfd], [], [], KILL_WAIT)
        finally:
            os.close(pidfd)
    states = tasks.store.containers
    c = states.get(c.ID)
    if c.State.Restarting:  # its restarter is gone without recording it
        states.update_state(c.ID, Status="exited", Restarting=False, MonitorPid=0)
        c = states.get(c.ID)
    return c
