"""Which isolation this host allows, probed once, best first, and always explained."""

from __future__ import annotations

import contextlib
import functools
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ConfigError
from ..fs.atomic import atomic_write
from ..linux import syscalls as sc
from .cgroups import Cgroup

ALL_NS = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWPID | sc.CLONE_NEWNET
MODES = ("root", "none")


@dataclass(frozen=True)
class Isolation:
    mode: str  # "root": real namespaces + overlayfs + cgroups; "none": image commands only
    reason: str
    cgroup: str | None  # the freezer hierarchy used for pause, if any

    @property
    def can_run(self) -> bool:
        return self.mode != "none"


def _can_unshare(flags: int) -> bool:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - forked
        try:
            sc.unshare(flags)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


CACHE = "/run/layerlab/isolation.json"  # /run is a tmpfs: the cache dies with the boot


@functools.cache
def probe() -> Isolation:
    """Probe once per boot: testing namespaces costs a fork and a network namespace, too
    slow to repeat on every ``docker run``."""
    forced = os.environ.get("LAYERLAB_RUNTIME", "")
    if forced or os.geteuid() != 0:
        return _probe(forced)
    try:
        with open(CACHE) as f:
            return Isolation(**json.load(f))
    except (OSError, ValueError, TypeError):
        pass
    found = _probe(forced)
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(CACHE), exist_ok=True)
        atomic_write(Path(CACHE), json.dumps(asdict(found)).encode())
    return found


def _probe(forced: str) -> Isolation:
    if forced and forced not in MODES:
        raise ConfigError(f"LAYERLAB_RUNTIME={forced!r}: choose one of {', '.join(MODES)}")
    if forced == "none":
        return Isolation("none", "forced by LAYERLAB_RUNTIME=none", None)
    if os.geteuid() != 0:
        return Isolation(
            "none",
            "not running as root: containers need root for namespaces and mounts here "
            "(rootless user-namespace and proot modes are not available yet); "
            "image, layer and archive commands work",
            None,
        )
    if not _can_unshare(ALL_NS):
        return Isolation("none", "running as root but unshare(pid, mount, uts, ipc, net) is "
                                 "refused (seccomp or a locked-down container?)", None)
    cg = Cgroup.probe()
    why = "root: pid, mount, uts, ipc and net namespaces with pivot_root"
    why += f"; cgroup freezer {cg}" if cg else "; no writable cgroup freezer, pause unavailable"
    return Isolation("root", why, cg)


def default_driver() -> str:
    forced = os.environ.get("LAYERLAB_STORAGE_DRIVER", "")
    if forced:
        if forced not in ("overlay", "vfs"):
            raise ConfigError(f"LAYERLAB_STORAGE_DRIVER={forced!r}: choose overlay or vfs")
        return forced
    with open("/proc/filesystems") as f:
        has_overlay = any(line.split()[-1] == "overlay" for line in f if line.strip())
    return "overlay" if os.geteuid() == 0 and has_overlay else "vfs"
