"""A container's groups in the resource controllers: where its limits are enforced and
its counters (``docker stats``) are read.

The freezer group (``runtime/cgroups.py``) exists for pause and kill; these exist for
``memory``, ``cpu``/``cpuacct``, ``cpuset``, ``pids`` and ``blkio``/``io``. On a v1 or
hybrid host each controller has its own hierarchy (``/sys/fs/cgroup/memory`` …) and the
container gets ``<controller>/<LAYERLAB_CGROUP_ROOT>/<id>`` in each; on a pure v2 host
the controllers are enabled down ``cgroup.subtree_control`` and one directory holds them
all. A controller this host lacks is simply absent (``missing`` names it, for the warning
and for ``info``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .cgroups import CgroupError, _relative, _unescape, self_move_file, write_control
from .limits import Resources, cgroup_files

# v1 controllers a container joins; cpu and cpuacct are often co-mounted ("cpu,cpuacct").
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "cpuset", "pids", "blkio")
V2_CONTROLLERS = ("memory", "cpu", "cpuset", "pids", "io")
OOM_KILLS = "oom_kills"  # in the container's state dir: the last run's OOM kill count


class Group(Protocol):
    """What the init and ``exec`` do with any of a container's groups (freezer, devices,
    controllers): join, and the monitor's cleanup."""

    def add(self, pid: int) -> None: ...

    def self_move_files(self) -> list[Path]:
        """Where a single-threaded process moves itself in fast (``self_move_file``);
        empty where only ``add`` can move it (v2)."""
        ...

    def remove(self) -> None: ...


def join(group: Group) -> None:
    """Move the calling single-threaded process into ``group``, the fast way if any."""
    files = group.self_move_files()
    for file in files:
        write_control(file, "0")
    if not files:
        group.add(0)


@dataclass(frozen=True)
class Hierarchies:
    """Where each controller lives on this host: v1 mounts by controller, or the v2 root
    whose ``cgroup.controllers`` offers it."""

    v1: dict[str, Path] = field(default_factory=dict)
    v2: Path | None = None
    v2_controllers: frozenset[str] = frozenset()

    def version(self) -> int:
        """1 where v1 holds the memory controller (hybrid hosts), 2 on a unified host."""
        return 1 if self.v1 else 2 if self.v2_controllers else 0

    def has(self, controller: str) -> bool:
        if self.version() == 1:
            return controller in self.v1
        return controller in self.v2_controllers


@functools.cache
def hierarchies(mountinfo: str = "/proc/self/mountinfo") -> Hierarchies:
    """Writable controller hierarchies (probed once: mounts do not change under us)."""
    v1: dict[str, Path] = {}
    v2: Path | None = None
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            kind, _, super_opts = right.rstrip("\n").split(" ")[:3]
            mount = Path(_unescape(left.split()[4]))
            if kind == "cgroup":
                for opt in super_opts.split(","):
                    if opt in V1_CONTROLLERS and opt not in v1 and os.access(mount, os.W_OK):
                        v1[opt] = mount
            elif kind == "cgroup2" and v2 is None and os.access(mount, os.W_OK):
                v2 = mount
    offered: frozenset[str] = frozenset()
    if v2 is not None:
        with contextlib.suppress(OSError):
            offered = frozenset((v2 / "cgroup.controllers").read_text().split())
    if "memory" not in v1:  # limits go where memory is: never half v1, half v2
        v1 = {}
    return Hierarchies(v1, v2, offered & frozenset(V2_CONTROLLERS))


# The controller each limit flag needs.
_CONTROLLER_OF = {"--memory": "memory", "--memory-swap": "memory",
                  "--memory-reservation": "memory", "--oom-kill-disable": "memory",
                  "--cpus": "cpu", "--cpu-shares": "cpu", "--cpu-period": "cpu",
                  "--cpu-quota": "cpu", "--cpuset-cpus": "cpuset", "--pids-limit": "pids"}


def missing(r: Resources, h: Hierarchies | None = None) -> list[str]:
    """The flags of ``r`` this host has no writable controller (or file) for."""
    h = h or hierarchies()
    if h.version() == 0:
        return r.given()
    out = [flag for flag in r.given() if not h.has(_CONTROLLER_OF[flag])]
    if h.version() == 2 and r.oom_kill_disable:
        out.append("--oom-kill-disable")  # v2 has no way to disable the OOM killer
    return sorted(set(out))


@dataclass(frozen=True)
class ControllerGroups:
    """The container's directories, one per controller (v1) or one for all (v2)."""

    paths: dict[str, Path]  # controller → its directory
    version: int
    oom_file: Path | None = None  # remove() leaves the OOM kill count here (see there)

    @classmethod
    def create(cls, name: str, resources: Resources,
               oom_file: Path | None = None) -> ControllerGroups:
        """Make the groups and write ``resources`` into them, before any process joins."""
        h = hierarchies()
        version = h.version()
        if version == 0:
            raise CgroupError(errno.ENOTSUP, "no writable cgroup resource controllers")
        relative = _relative(name)
        if version == 1:
            paths = {c: mount / relative for c, mount in h.v1.items()}
        else:
            assert h.v2 is not None
            _enable_v2(h.v2, relative.parent, h.v2_controllers)
            paths = {c: h.v2 / relative for c in h.v2_controllers}
        groups = cls(paths, version, oom_file)
        if oom_file is not None:
            oom_file.write_text("0")
        try:
            for controller, path in paths.items():
                if controller == "cpuset" and version == 1:
                    _prepare_v1_cpuset(path)
                path.mkdir(parents=True, exist_ok=True)
            groups.apply(resources)
        except OSError as e:
            groups.remove()
            if isinstance(e, CgroupError):
                raise
            raise CgroupError(e.errno, f"create cgroup: {e.strerror}", str(e.filename)) from e
        return groups

    @classmethod
    def open(cls, name: str) -> ControllerGroups | None:
        """The running container's groups, if it has any."""
        h = hierarchies()
        version = h.version()
        if version == 0:
            return None
        relative = _relative(name)
        if version == 1:
            paths = {c: m / relative for c, m in h.v1.items() if (m / relative).is_dir()}
        else:
            assert h.v2 is not None
            here = h.v2 / relative
            paths = {c: here for c in h.v2_controllers} if here.is_dir() else {}
        return cls(paths, version) if paths else None

    def apply(self, r: Resources) -> None:
        """Write the set fields of ``r``. v1 memory: the limit may not exceed memsw's, so
        where one order is refused (lowering swap, raising memory) the other is tried."""
        for controller, writes in cgroup_files(r, self.version).items():
            path = self.paths.get(controller)
            if path is None:
                continue
            try:
                for name, value in writes:
                    write_control(path / name, value)
            except CgroupError as e:
                if e.errno != errno.EINVAL or len(writes) < 2:
                    raise
                for name, value in reversed(writes):
                    write_control(path / name, value)

    def add(self, pid: int) -> None:
        """Move ``pid`` (0: the caller) into every group; its children follow."""
        for path in dict.fromkeys(self.paths.values()):
            write_control(path / "cgroup.procs", str(pid))

    def self_move_files(self) -> list[Path]:
        files = [self_move_file(path, self.version) for path in dict.fromkeys(self.paths.values())]
        return [f for f in files if f is not None]

    def read(self, controller: str, filename: str) -> str:
        """One control file's text ("" where this host has no such controller or file)."""
        path = self.paths.get(controller)
        if path is None:
            return ""
        try:
            return (path / filename).read_text()
        except OSError:
            return ""

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer took from this group."""
        text = self.read("memory", "memory.oom_control" if self.version == 1
                         else "memory.events")
        return int(keyed(text).get("oom_kill", 0))

    def remove(self) -> None:
        """Delete the groups; already gone is fine, live processes are not.

        The OOM kill count is the one thing only the group knows and the exit record needs
        (``State.OOMKilled``); the monitor removes the group before the engine records the
        exit, so it is kept in ``oom_file`` first."""
        if self.oom_file is not None:
            with contextlib.suppress(OSError):
                self.oom_file.write_text(str(self.oom_kills()))
        for path in dict.fromkeys(self.paths.values()):
            for dirpath, _, _ in os.walk(path, topdown=False):
                try:
                    os.rmdir(dirpath)
                except FileNotFoundError:
                    pass
                except OSError as e:
                    raise CgroupError(e.errno, f"remove cgroup: {e.strerror}", dirpath) from e


def join_groups(name: str, resources: Resources | None,
                oom_file: Path | None = None) -> list[ControllerGroups]:
    """The groups a new container joins: none without ``resources`` (modes without
    cgroups); where the host cannot make them, none if no limit was asked for (the
    container runs, without ``stats`` counters), else the error (Docker fails the start)."""
    if resources is None:
        return []
    try:
        return [ControllerGroups.create(name, resources, oom_file)]
    except CgroupError:
        if resources.given():
            raise
        return []


def keyed(text: str) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, memory.events) as a dict."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[key] = int(value)
    return out


def _prepare_v1_cpuset(path: Path) -> None:
    """A fresh v1 cpuset group has empty ``cpus``/``mems`` and refuses every task: copy the
    parent's down each level (``<mount>/<root>``, then ``<root>/<id>``), as
    ``cgroup.clone_children`` would."""
    for group in (path.parent, path):
        group.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not (group / name).read_text().strip():
                write_control(group / name, (group.parent / name).read_text().strip())


def _enable_v2(root: Path, parent: Path, controllers: frozenset[str]) -> None:
    """Enable ``controllers`` in the subtree of every group from ``root`` down to
    ``root/parent``, so the container's own group gets their files."""
    wanted = " ".join(f"+{c}" for c in sorted(controllers))
    here = root
    for part in (None, *parent.parts):
        if part is not None:
            here = here / part
            here.mkdir(exist_ok=True)
        with contextlib.suppress(CgroupError):  # already enabled, or refused: absent files
            write_control(here / "cgroup.subtree_control", wanted)
