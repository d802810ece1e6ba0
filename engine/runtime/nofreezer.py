"""``pause`` without a cgroup freezer (rootless: no cgroup delegation): SIGSTOP to every
process of the container until none is running, SIGCONT to undo it.

This is not the freezer, and ``info``/``inspect`` say so: the processes get SIGSTOP and
SIGCONT (a parent sees CLD_STOPPED), wall-clock timers run on, and SIGCONT also wakes a
process the container's own job control had stopped. The stopped set is kept in the
container's state dir, so an ``unpause`` from another CLI process finds it.
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Callable
from pathlib import Path

from ..fs.atomic import atomic_write
from ..linux import procs

RECORD = "paused.json"


def stop(members: Callable[[], list[int]], state_dir: str) -> list[int]:
    """Stop every member; a running one may fork between listing and stopping, a stopped
    one cannot, so passes repeat until one finds nothing left to stop."""
    stopped: dict[int, int] = {}
    while True:
        todo = [p for p in members() if procs.state(p) not in ("T", "t", "Z", "X", "")]
        if not todo:
            break
        procs.signal_all(todo, signal.SIGSTOP)
        procs.wait_stopped(todo)
        for pid in todo:
            with contextlib.suppress(OSError):
                stopped[pid] = procs.start_time(pid)
    atomic_write(Path(state_dir) / RECORD, json.dumps(stopped).encode())
    return sorted(stopped)


def resume(members: Callable[[], list[int]], state_dir: str) -> None:
    """SIGCONT to the recorded set (those still the same processes) and the members."""
    path = Path(state_dir) / RECORD
    recorded: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError):
        recorded = json.loads(path.read_bytes())
    pids = set(members())
    for pid, started in recorded.items():
        with contextlib.suppress(OSError):
            if procs.start_time(int(pid)) == started:
                pids.add(int(pid))
    procs.signal_all(sorted(pids), signal.SIGCONT)
    path.unlink(missing_ok=True)
