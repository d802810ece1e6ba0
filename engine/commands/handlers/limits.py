"""Resource limit flags (``run``/``create``/``update``: ``-m``, ``--cpus``, ``--pids-limit``
…) made into the engine's record, and ``docker update``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ...runtime.limits import Resources
from .. import IO
from ..results import Result
from .common import each

if TYPE_CHECKING:
    from ...runtime.ulimits import Ulimit
    from ...services.engine import Engine


def resources_of(args: argparse.Namespace) -> Resources:
    """The limits the command line asks for (unset flags stay unset)."""
    return Resources(memory=args.memory, memory_swap=args.memory_swap,
                     memory_reservation=args.memory_reservation, nano_cpus=args.cpus,
                     cpu_shares=args.cpu_shares, cpu_period=args.cpu_period,
                     cpu_quota=args.cpu_quota, cpuset_cpus=args.cpuset_cpus,
                     pids_limit=args.pids_limit,
                     oom_kill_disable=getattr(args, "oom_kill_disable", False))


def checked(engine: Engine, args: argparse.Namespace, io: IO) -> tuple[Resources, list[Ulimit]]:
    """``run``/``create``: the limits as the engine will keep them; what it discards (no
    cgroups in this mode) is said on stderr, as Docker prints its daemon's warnings."""
    ulimits: list[Ulimit] = list(args.ulimit)
    resources, warnings = engine.limits.check(resources_of(args), ulimits)
    for w in warnings:
        io.say(f"WARNING: {w}")
    if engine.isolation().mode == "proot":
        ulimits = []
    return resources, ulimits


def cmd_update(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """New limits for each container, running (its cgroups change at once) or not."""
    changes = resources_of(args)
    if not changes.given():
        from ..grammar import UsageError

        raise UsageError("docker update: you must provide one or more flags when using this "
                         "command\nSee 'docker update --help'.")

    def one(name: str) -> None:
        _, warnings = engine.limits.update(name, changes)
        for w in warnings:
            io.say(f"WARNING: {w}")

    return each(args.containers, one, io)
