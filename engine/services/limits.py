"""Limits: a container's cgroup resource limits, checked before ``create`` and changed by
``docker update`` (on a running container, in its cgroups at once; always in its record).

Only root mode puts containers in cgroups. Elsewhere (rootless, PRoot) and for
controllers this host lacks, moby's way is kept: the limit is discarded with a warning
naming it, and the container runs.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument, RuntimeFailure
from ..runtime import controllers
from ..runtime.cgroups import CgroupError
from ..runtime.controllers import ControllerGroups
from ..runtime.limits import Resources, validate
from ..runtime.ulimits import Ulimit
from ..store.containers import Container

if TYPE_CHECKING:
    from .engine import Engine

_FIELD_OF_FLAG = {"--memory": "memory", "--memory-swap": "memory_swap",
                  "--memory-reservation": "memory_reservation", "--cpus": "nano_cpus",
                  "--cpu-shares": "cpu_shares", "--cpu-period": "cpu_period",
                  "--cpu-quota": "cpu_quota", "--cpuset-cpus": "cpuset_cpus",
                  "--pids-limit": "pids_limit", "--oom-kill-disable": "oom_kill_disable"}


def online_cpus() -> str:
    """The CPUs this process may run on, as a cpuset list (``0-1``)."""
    cpus = sorted(os.sched_getaffinity(0))
    return ",".join(str(c) for c in cpus)


class Limits:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    def unsupported(self) -> str:
        """Why this mode applies no limits at all, or "" where cgroups carry them."""
        iso = self.engine.isolation()
        if iso.mode != "root":
            return f"{iso.mode} mode puts containers in no cgroups"
        if controllers.hierarchies().version() == 0:
            return "this host has no writable cgroup resource controllers"
        return ""

    def support(self) -> dict[str, Any]:
        """Docker's ``info`` fields for limits: the cgroup version and which limits apply
        (all False in a mode without cgroups), and ``LimitsUnsupported``, the reason."""
        h = controllers.hierarchies()
        why = self.unsupported()
        version = "" if why else str(h.version())

        def has(controller: str, filename: str = "") -> bool:
            return not why and h.has(controller)

        return {"CgroupDriver": "none" if why else "cgroupfs", "CgroupVersion": version,
                "MemoryLimit": has("memory"), "SwapLimit": has("memory") and (
                    h.version() == 2 or (h.v1.get("memory", Path("/")) /
                                         "memory.memsw.limit_in_bytes").exists()),
                "KernelMemory": False, "OomKillDisable": has("memory") and h.version() == 1,
                "CpuCfsPeriod": has("cpu"), "CpuCfsQuota": has("cpu"),
                "CPUShares": has("cpu"), "CPUSet": has("cpuset"), "PidsLimit": has("pids"),
                "LimitsUnsupported": why}

    def check(self, r: Resources, ulimits: list[Ulimit] | None = None, update: bool = False,
              ) -> tuple[Resources, list[str]]:
        """moby's checks (errors in its words), then what cannot apply here is discarded
        with a warning: the record to store, and the warnings for the client."""
        fixed, warnings = validate(r, os.cpu_count() or 1, online_cpus(), update)
        why = self.unsupported()
        lost = r.given() if why else controllers.missing(fixed)
        if lost:
            reason = why or "this host has no writable cgroup controller for them"
            warnings.append(f"{reason}: {', '.join(lost)} cannot apply here. Limitation "
                            "discarded (see docker info).")
            unset = Resources()
            fixed = unset if why else dataclasses.replace(
                fixed, **{_FIELD_OF_FLAG[f]: getattr(unset, _FIELD_OF_FLAG[f]) for f in lost})
        if ulimits and self.engine.isolation().mode == "proot":
            warnings.append("PRoot mode runs the command without its own init: --ulimit "
                            "cannot apply here. Limitation discarded.")
        return fixed, warnings

    def update(self, name: str, changes: Resources) -> tuple[Container, list[str]]:
        """``docker update``: new limits in the record and, if it runs, in its cgroups."""
        with self.store.lock():
            c = self.engine.containers.get(name)
            current = Resources.from_host_config(c.HostConfig)
            if (changes.memory and not changes.memory_swap and current.memory_swap > 0
                    and changes.memory > current.memory_swap):
                raise InvalidArgument("Memory limit should be smaller than already set "
                                      "memoryswap limit, update the memoryswap at the same "
                                      "time")
            fixed, warnings = self.check(changes, update=True)
            merged = current.merged(fixed)
            validate(merged, os.cpu_count() or 1, online_cpus(), update=True)
            groups = ControllerGroups.open(c.ID) if c.State.Running else None
            try:
                if groups is not None:
                    groups.apply(fixed)
            except CgroupError as e:  # e.g. a memory limit below what it uses (EBUSY)
                where = Path(e.filename).name if e.filename else "cgroup"
                raise RuntimeFailure(f"Cannot update container {c.ID}: {where}: "
                                     f"{e.strerror}", 1) from None
            self.store.containers.set_host_config(c.ID, merged.host_config())
            updated = self.store.containers.get(c.ID)
        self.engine.events.container(updated, "update")
        return updated, warnings
