"""A container's resource limits (``-m``, ``--memory-swap``, ``--cpus``, ``--pids-limit`` …):
the record kept in ``HostConfig``, the daemon's checks, and the cgroup files that carry it.

One record, three readers: ``create``/``update`` validate it with moby's rules and words
(``verifyPlatformContainerResources``) so a bad value fails before anything is made; the
monitor writes it into the container's controller groups (``runtime/controllers.py``) before
the init joins them; ``inspect`` shows it under Docker's ``HostConfig`` names. The cgroup
values follow runc's conversions, for v1 (``memory.limit_in_bytes`` …) and v2
(``memory.max`` …) alike.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument

MIN_MEMORY = 6 * 1024 * 1024  # moby's linuxMinMemory
MIN_CPU_SHARES, MAX_CPU_SHARES = 2, 262144  # the kernel's bounds for cpu.shares
CFS_PERIOD_US = 100_000  # runc's period for --cpus
# HostConfig name → Resources field, in the order inspect shows them.
_HOST_FIELDS = {"Memory": "memory", "MemorySwap": "memory_swap",
                "MemoryReservation": "memory_reservation", "NanoCpus": "nano_cpus",
                "CpuShares": "cpu_shares", "CpuPeriod": "cpu_period", "CpuQuota": "cpu_quota",
                "CpusetCpus": "cpuset_cpus",
                "PidsLimit": "pids_limit", "OomKillDisable": "oom_kill_disable"}
# The controller each limit needs, for the warning where it cannot apply.
_FLAGS = {"memory": "--memory", "memory_swap": "--memory-swap",
          "memory_reservation": "--memory-reservation", "nano_cpus": "--cpus",
          "cpu_shares": "--cpu-shares", "cpu_period": "--cpu-period",
          "cpu_quota": "--cpu-quota", "cpuset_cpus": "--cpuset-cpus",
          "pids_limit": "--pids-limit", "oom_kill_disable": "--oom-kill-disable"}


@dataclass(frozen=True)
class Resources:
    """Docker's resource fields; 0 / "" / False means not set. ``memory_swap`` -1 is
    unlimited swap; ``pids_limit`` None is unset, 0 or less unlimited (Docker's API)."""

    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_period: int = 0  # --cpu-period/--cpu-quota: the CFS numbers themselves (µs)
    cpu_quota: int = 0
    cpuset_cpus: str = ""
    pids_limit: int | None = None
    oom_kill_disable: bool = False

    @classmethod
    def from_host_config(cls, hc: dict[str, Any]) -> Resources:
        values = {f: hc[k] for k, f in _HOST_FIELDS.items() if hc.get(k) is not None}
        return cls(**values)

    def host_config(self) -> dict[str, Any]:
        """The ``HostConfig`` fields, as Docker shows them (``PidsLimit`` null if unset)."""
        return {k: getattr(self, f) for k, f in _HOST_FIELDS.items()}

    def given(self) -> list[str]:
        """The flags of the limits that are set (for the warning where none can apply)."""
        return [flag for f, flag in _FLAGS.items()
                if getattr(self, f) not in (0, "", False, None)]

    def merged(self, changes: Resources) -> Resources:
        """``docker update``: the set fields of ``changes`` over this record."""
        fields = {f.name: getattr(changes, f.name) for f in dataclasses.fields(changes)
                  if getattr(changes, f.name) not in (0, "", False, None)}
        return dataclasses.replace(self, **fields)


def validate(r: Resources, ncpu: int, cpus_online: str, update: bool = False,
             ) -> tuple[Resources, list[str]]:
    """moby's checks, in its words; the record as the daemon stores it (swap defaults to
    twice the memory, shares clamped to the kernel's range) and its warnings."""
    warnings: list[str] = []
    if r.memory and r.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if r.memory > 0 and r.memory_swap > 0 and r.memory_swap < r.memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    if not r.memory and r.memory_swap > 0 and not update:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap "
                              "limit, see usage")
    if r.memory_reservation and r.memory_reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if r.memory > 0 and r.memory_reservation > 0 and r.memory < r.memory_reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation "
                              "limit, see usage")
    if r.nano_cpus < 0 or r.nano_cpus > ncpu * 10**9:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    if 0 < r.nano_cpus < 10**7:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    if r.nano_cpus and r.cpu_period:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if r.nano_cpus and r.cpu_quota:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if r.cpu_period and not 1000 <= r.cpu_period <= 1_000_000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
                              "than 1s (i.e. 1000000)")
    if 0 < r.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if r.cpuset_cpus:
        wanted = cpu_list(r.cpuset_cpus)
        if not wanted <= cpu_list(cpus_online):
            raise InvalidArgument(f"Requested CPUs are not available - requested "
                                  f"{r.cpuset_cpus}, available: {cpus_online}")
    fixed = r
    if r.cpu_shares and not MIN_CPU_SHARES <= r.cpu_shares <= MAX_CPU_SHARES:
        bound = MIN_CPU_SHARES if r.cpu_shares < MIN_CPU_SHARES else MAX_CPU_SHARES
        word = "minimum" if bound == MIN_CPU_SHARES else "maximum"
        warnings.append(f"Changing requested CPUShares of {r.cpu_shares} to {word} allowed "
                        f"of {bound}")
        fixed = dataclasses.replace(fixed, cpu_shares=bound)
    if r.oom_kill_disable and not r.memory:
        warnings.append("OOM killer is disabled for the container, but no memory limit is "
                        "set, this can result in the system running out of resources.")
    if r.memory > 0 and r.memory_swap == 0 and not update:
        fixed = dataclasses.replace(fixed, memory_swap=2 * r.memory)  # moby's default
    return fixed, warnings


def cpu_list(text: str) -> set[int]:
    """``0-2,4`` → {0, 1, 2, 4}, as the kernel's cpuset lists read; bad syntax is refused
    in Docker's words."""
    out: set[int] = set()
    for part in text.strip().split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if not m:
            raise InvalidArgument(f"Invalid value {text} for cpuset cpus")
        low, high = int(m[1]), int(m[2] or m[1])
        if high < low:
            raise InvalidArgument(f"Invalid value {text} for cpuset cpus")
        out.update(range(low, high + 1))
    return out


def cpu_weight(shares: int) -> int:
    """runc's ``ConvertCPUSharesToCgroupV2Value``: [2, 262144] onto cpu.weight's [1, 10000]."""
    return 1 + ((shares - 2) * 9999) // 262142


def cgroup_files(r: Resources, version: int) -> dict[str, list[tuple[str, str]]]:
    """What to write, by controller, in order: ``{"memory": [("memory.limit_in_bytes",
    "33554432"), …], …}``. Unset fields write nothing at create; ``update`` writes only
    what it changes (the caller passes the changed fields)."""
    files: dict[str, list[tuple[str, str]]] = {}

    def put(controller: str, name: str, value: object) -> None:
        files.setdefault(controller, []).append((name, str(value)))

    if version == 1:
        if r.memory_reservation:
            put("memory", "memory.soft_limit_in_bytes", r.memory_reservation)
        if r.memory:
            put("memory", "memory.limit_in_bytes", r.memory)
        if r.memory_swap:
            put("memory", "memory.memsw.limit_in_bytes", r.memory_swap)
        if r.oom_kill_disable:
            put("memory", "memory.oom_control", 1)
        if r.nano_cpus:
            put("cpu", "cpu.cfs_period_us", CFS_PERIOD_US)
            put("cpu", "cpu.cfs_quota_us", r.nano_cpus * CFS_PERIOD_US // 10**9)
        if r.cpu_period:
            put("cpu", "cpu.cfs_period_us", r.cpu_period)
        if r.cpu_quota:
            put("cpu", "cpu.cfs_quota_us", r.cpu_quota)
        if r.cpu_shares:
            put("cpu", "cpu.shares", r.cpu_shares)
        if r.cpuset_cpus:
            put("cpuset", "cpuset.cpus", r.cpuset_cpus)
        if r.pids_limit is not None:
            put("pids", "pids.max", r.pids_limit if r.pids_limit > 0 else "max")
        return files
    if r.memory_reservation:
        put("memory", "memory.low", r.memory_reservation)
    if r.memory:
        put("memory", "memory.max", r.memory)
    if r.memory_swap:  # v2 counts swap apart from memory; runc subtracts
        swap = "max" if r.memory_swap < 0 else max(r.memory_swap - r.memory, 0)
        put("memory", "memory.swap.max", swap)
    if r.nano_cpus:
        put("cpu", "cpu.max", f"{r.nano_cpus * CFS_PERIOD_US // 10**9} {CFS_PERIOD_US}")
    if r.cpu_period or r.cpu_quota:  # cpu.max is both at once: the unset one as unlimited
        quota = r.cpu_quota if r.cpu_quota > 0 else "max"
        put("cpu", "cpu.max", f"{quota} {r.cpu_period or CFS_PERIOD_US}")
    if r.cpu_shares:
        put("cpu", "cpu.weight", cpu_weight(r.cpu_shares))
    if r.cpuset_cpus:
        put("cpuset", "cpuset.cpus", r.cpuset_cpus)
    if r.pids_limit is not None:
        put("pids", "pids.max", r.pids_limit if r.pids_limit > 0 else "max")
    return files
