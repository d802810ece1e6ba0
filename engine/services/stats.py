"""Stats: a container's resource usage from the kernel's own counters (``docker stats``).

CPU time, memory, block I/O and PIDs come from the container's controller groups
(``cpuacct.usage``/``cpu.stat``, ``memory.usage_in_bytes``/``memory.current``,
``blkio.throttle.io_service_bytes_recursive``/``io.stat``, ``pids.current``); network
bytes from its network namespace (``/proc/<pid>/net/dev``, every interface but ``lo``).
CPU % is Docker's: the container's CPU time over the host's in the same interval, times
the number of CPUs. Without groups (modes without cgroups) CPU and memory are summed from
/proc over the container's processes; a stopped container reads as zeros, as Docker
shows one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import NotFound
from ..runtime.controllers import ControllerGroups, keyed
from ..store.containers import Container

if TYPE_CHECKING:
    from .engine import Engine

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """One reading of a container's counters."""

    cpu_ns: int = 0  # CPU time its processes used, in total
    system_ns: int = 0  # the host's CPU time, in total (all CPUs)
    memory: int = 0  # bytes in use, less the inactive page cache (as the docker CLI shows)
    limit: int = 0  # its memory limit, or the host's memory where it has none
    net_rx: int = 0
    net_tx: int = 0
    blk_read: int = 0
    blk_write: int = 0
    pids: int = 0
    online_cpus: int = 1


@dataclass(frozen=True)
class Usage:
    """What ``docker stats`` shows for one container over one interval."""

    container: Container
    cpu_percent: float
    sample: Sample

    @property
    def memory_percent(self) -> float:
        s = self.sample
        return s.memory * 100.0 / s.limit if s.limit else 0.0


def host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def system_cpu_ns() -> int:
    """The host's CPU time so far (``/proc/stat``, user to softirq), as Docker reads it."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(map(int, fields)) * 10**9 // _CLOCK_TICKS


def _int(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else 0


def _net(pid: int) -> tuple[int, int]:
    """Received and sent bytes of every interface but ``lo`` in ``pid``'s netns."""
    rx = tx = 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.readlines()[2:]
    except OSError:
        return 0, 0
    for line in lines:
        name, _, counters = line.partition(":")
        values = counters.split()
        if name.strip() != "lo" and len(values) >= 9:
            rx += int(values[0])
            tx += int(values[8])
    return rx, tx


def _proc_usage(pids: list[int]) -> tuple[int, int]:
    """CPU time (ns) and resident memory (bytes) summed over ``pids`` from /proc, where
    no cgroup counts them: a process's own time plus that of the children it reaped (so
    nothing is counted twice; children reaped by no member are lost), and RSS (pages
    shared between members counted once per member)."""
    cpu = memory = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            with open(f"/proc/{pid}/statm") as f:
                resident = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
        cpu += sum(int(v) for v in fields[11:15]) * 10**9 // _CLOCK_TICKS
        memory += resident * page
    return cpu, memory


def read_sample(groups: ControllerGroups, pid: int) -> Sample:
    """The counters of one container's groups (and of the netns of its ``pid``)."""
    rx, tx = _net(pid)
    total = host_memory()
    cpus = len(os.sched_getaffinity(0))
    if groups.version == 1:
        cpu = _int(groups.read("cpuacct", "cpuacct.usage"))
        usage = _int(groups.read("memory", "memory.usage_in_bytes"))
        inactive = keyed(groups.read("memory", "memory.stat")).get("total_inactive_file", 0)
        limit = _int(groups.read("memory", "memory.limit_in_bytes"))
        read = write = 0
        for line in groups.read("blkio", "blkio.throttle.io_service_bytes_recursive").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "Read":
                read += int(parts[2])
            elif len(parts) == 3 and parts[1] == "Write":
                write += int(parts[2])
    else:
        cpu = keyed(groups.read("cpu", "cpu.stat")).get("usage_usec", 0) * 1000
        usage = _int(groups.read("memory", "memory.current"))
        inactive = keyed(groups.read("memory", "memory.stat")).get("inactive_file", 0)
        limit = _int(groups.read("memory", "memory.max"))  # "max" reads as 0: the host's
        read = write = 0
        for line in groups.read("io", "io.stat").splitlines():
            pairs = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
            read += int(pairs.get("rbytes", 0))
            write += int(pairs.get("wbytes", 0))
    memory = usage - inactive if inactive < usage else usage
    return Sample(cpu, system_cpu_ns(), memory, min(limit, total) if limit else total, rx, tx,
                  read, write, _int(groups.read("pids", "pids.current")), cpus)


class Stats:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def sample(self, c: Container) -> Sample:
        """The container's counters now (zeros where it has no groups or does not run)."""
        if not c.State.Running:
            return Sample()
        groups = ControllerGroups.open(c.ID)
        if groups is None:  # no cgroups in this mode: what /proc can tell without them
            members = self.engine.tasks.members(c)
            cpu, memory = _proc_usage(members)
            rx, tx = _net(c.State.Pid)
            return Sample(cpu, system_cpu_ns(), memory, host_memory(), rx, tx, 0, 0,
                          len(members), len(os.sched_getaffinity(0)))
        return read_sample(groups, c.State.Pid)

    def measure(self, names: list[str], interval: float = 1.0,
                previous: dict[str, Sample] | None = None) -> list[Usage]:
        """Usage of each container over ``interval`` seconds (or since ``previous``, the
        samples of the last round, which streaming passes on)."""
        cs = [self.engine.containers.get(n) for n in names]
        before = previous if previous is not None else {c.ID: self.sample(c) for c in cs}
        if previous is None and any(c.State.Running for c in cs):
            time.sleep(interval)  # Docker's collector interval: CPU % needs two readings
        out = []
        for c in cs:
            try:
                c = self.engine.containers.get(c.ID)
            except NotFound:
                continue  # removed meanwhile
            now, prior = self.sample(c), before.get(c.ID, Sample())
            cpu_delta = now.cpu_ns - prior.cpu_ns
            system_delta = now.system_ns - prior.system_ns
            percent = (cpu_delta / system_delta * now.online_cpus * 100.0
                       if cpu_delta > 0 and system_delta > 0 and prior.system_ns else 0.0)
            out.append(Usage(c, percent, now))
        return out
