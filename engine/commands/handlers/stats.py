"""``docker stats``: Docker's table of CPU, memory, network, block I/O and PIDs per
container, once (``--no-stream``) or redrawn every second until interrupted."""

from __future__ import annotations

import argparse
import time
from typing import Any

from ...errors import EngineError
from ...services.engine import Engine
from ...services.stats import Sample, Usage
from .. import IO, error_message, human
from ..results import Lines, Result, Streamed, Table

STATS_COLUMNS = [("ID", "CONTAINER ID"), ("Name", "NAME"), ("CPUPerc", "CPU %"),
                 ("MemUsage", "MEM USAGE / LIMIT"), ("MemPerc", "MEM %"),
                 ("NetIO", "NET I/O"), ("BlockIO", "BLOCK I/O"), ("PIDs", "PIDS")]
_CLEAR = "\033[2J\033[H"  # what the docker CLI writes before each redraw


def stats_row(u: Usage, asked: str, trunc: bool) -> dict[str, Any]:
    """The fields of Docker's statsContext for one container."""
    s, c = u.sample, u.container
    return {
        "Container": asked or (c.ID[:12] if trunc else c.ID),
        "ID": c.ID[:12] if trunc else c.ID,
        "Name": c.Name,
        "CPUPerc": f"{u.cpu_percent:.2f}%",
        "MemUsage": f"{human.binary_size(s.memory)} / {human.binary_size(s.limit)}",
        "MemPerc": f"{u.memory_percent:.2f}%",
        "NetIO": f"{human.size(s.net_rx)} / {human.size(s.net_tx)}",
        "BlockIO": f"{human.size(s.blk_read)} / {human.size(s.blk_write)}",
        "PIDs": str(s.pids),
    }


def _chosen(engine: Engine, args: argparse.Namespace, io: IO) -> tuple[dict[str, str], bool]:
    """The containers to show, by ID with the name they were asked by ("" when none were
    named: the running ones, or all with ``-a``), and whether one asked for was not found
    (reported as Docker's daemon does, exit 1)."""
    if not args.containers:
        return {c.ID: "" for c in engine.containers.all() if args.all or c.State.Running}, False
    found, missing = {}, False
    for name in args.containers:
        try:
            found[engine.containers.get(name).ID] = name
        except EngineError as e:
            io.say(error_message(e))
            missing = True
    return found, missing


def cmd_stats(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    asked, missing = _chosen(engine, args, io)
    ids = list(asked)
    why = engine.limits.unsupported()
    if why:
        io.say(f"notice: {why}: CPU and memory are summed from /proc over the container's "
               "processes (resident memory, no limit), block I/O reads as 0")

    def table(usages: list[Usage]) -> Table:
        rows = [stats_row(u, asked.get(u.container.ID, ""), not args.no_trunc)
                for u in usages]
        return Table("stats", rows, STATS_COLUMNS, args.format)

    if missing and not ids:
        return Lines([], exit_code=1)
    usages = engine.stats.measure(ids)
    if args.no_stream:
        result = table(usages)
        result.exit_code = 1 if missing else 0
        return result
    terminal = io.stdout_is_terminal()
    try:
        while True:
            text = table(usages).text()
            io.stdout.write(((_CLEAR if terminal else "") + text + "\n").encode())
            io.stdout.flush()
            previous: dict[str, Sample] = {u.container.ID: u.sample for u in usages}
            time.sleep(1.0)
            if not args.containers:  # new containers join, stopped ones leave, as Docker's
                ids = [c.ID for c in engine.containers.all() if args.all or c.State.Running]
            usages = engine.stats.measure(ids, previous=previous)
    except KeyboardInterrupt:
        return Streamed()
