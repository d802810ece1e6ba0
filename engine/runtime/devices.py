"""The device allowlist: which device nodes a container's processes may open or create.

Container root keeps CAP_MKNOD (it is in Docker's default set), so it can create a node
for the host's disk; what stops it from *opening* one is the devices cgroup. Docker's
rules (moby's default spec followed by the devices runc always adds): deny everything,
allow ``mknod`` of any node (``c *:* m``, ``b *:* m``) and read/write/mknod of the nodes
the init creates (null, zero, full, random, urandom, tty, console, ptmx, pts) and of
/dev/net/tun; FUSE stays denied. So ``mknod /dev/sda b 8 0`` works and opening it fails
with EPERM.

cgroup v1 enforces this with ``devices.deny``/``devices.allow``. cgroup v2 has no such
files: it needs a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the group, which
LayerLab does not build, so on a v2-only host :func:`probe` says plainly that the
allowlist is not enforced (``confine`` then drops CAP_MKNOD instead, which is what
leaves host block devices out of reach without it).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from .cgroups import CgroupError, _relative, _unescape, write_control


@dataclass(frozen=True)
class Rule:
    """One cgroup v1 device rule; ``None`` major/minor is the ``*`` wildcard."""

    allow: bool
    kind: str  # "a" (all), "b" (block), "c" (char)
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"

    def __str__(self) -> str:
        if self.kind == "a":
            return "a"
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.kind} {major}:{minor} {self.access}"


# moby daemon/pkg/oci/defaults.go (Resources.Devices), then runc's specconv.AllowedDevices.
DOCKER_DEFAULT = (
    Rule(False, "a"),
    Rule(True, "c", 1, 5), Rule(True, "c", 1, 3), Rule(True, "c", 1, 9),
    Rule(True, "c", 1, 8), Rule(True, "c", 5, 0), Rule(True, "c", 5, 1),
    Rule(False, "c", 10, 229),
    Rule(True, "c", None, None, "m"), Rule(True, "b", None, None, "m"),
    Rule(True, "c", 1, 3), Rule(True, "c", 1, 8), Rule(True, "c", 1, 7),
    Rule(True, "c", 5, 0), Rule(True, "c", 1, 5), Rule(True, "c", 1, 9),
    Rule(True, "c", 136, None), Rule(True, "c", 5, 2), Rule(True, "c", 10, 200),
)


@dataclass(frozen=True)
class Support:
    """How (or whether) this host enforces the device allowlist; ``str`` is for ``info``."""

    enforced: bool
    detail: str

    def __str__(self) -> str:
        return f"devices: {self.detail}"


def _v1_devices_mount(mountinfo: str) -> Path | None:
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            kind, _, super_opts = right.rstrip("\n").split(" ")[:3]
            if kind == "cgroup" and "devices" in super_opts.split(","):
                return Path(_unescape(left.split()[4]))
    return None


def _has_cgroup2(mountinfo: str) -> bool:
    with open(mountinfo) as f:
        return any(" - cgroup2 " in line for line in f)


def probe(mountinfo: str = "/proc/self/mountinfo") -> Support:
    """Find the v1 devices hierarchy (hybrid and v1 hosts have one), else explain why not."""
    mount = _v1_devices_mount(mountinfo)
    if mount is not None and os.access(mount / "devices.allow", os.W_OK):
        return Support(True, f"cgroup v1 allowlist ({mount})")
    if mount is not None:
        return Support(False, f"not enforced: {mount} is not writable")
    if _has_cgroup2(mountinfo):
        return Support(False, "not enforced: cgroup v2 only, and LayerLab attaches no BPF "
                              "device program; CAP_MKNOD is dropped instead")
    return Support(False, "not enforced: no cgroup devices controller on this host; "
                          "CAP_MKNOD is dropped instead")


@dataclass(frozen=True)
class DeviceCgroup:
    """A container's group in the v1 devices hierarchy, next to its freezer group."""

    path: Path

    @classmethod
    def create(cls, name: str, rules: tuple[Rule, ...] = DOCKER_DEFAULT,
               mountinfo: str = "/proc/self/mountinfo") -> DeviceCgroup:
        """``<devices>/<LAYERLAB_CGROUP_ROOT>/<name>`` with ``rules`` written in order
        (a fresh child inherits its parent's list, so the first rule is ``deny a``)."""
        mount = _v1_devices_mount(mountinfo)
        if mount is None:
            raise CgroupError(errno.ENOTSUP, "no cgroup v1 devices hierarchy on this host")
        group = cls(mount / _relative(name))
        try:
            group.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CgroupError(e.errno, f"create devices cgroup: {e.strerror}",
                              str(group.path)) from e
        try:
            for rule in rules:
                group._write("devices.allow" if rule.allow else "devices.deny", str(rule))
        except CgroupError:
            group.remove()
            raise
        return group

    @classmethod
    def open(cls, name: str, mountinfo: str = "/proc/self/mountinfo") -> DeviceCgroup | None:
        """The existing group of container ``name`` (``exec`` joins it), if any."""
        mount = _v1_devices_mount(mountinfo)
        group = cls(mount / _relative(name)) if mount is not None else None
        return group if group is not None and group.path.is_dir() else None

    def _write(self, filename: str, value: str) -> None:
        write_control(self.path / filename, value)

    def add(self, pid: int) -> None:
        """Move ``pid`` (0: the caller) into the group; its children follow."""
        self._write("cgroup.procs", str(pid))

    def self_move_files(self) -> list[Path]:
        return [self.path / "tasks"]  # the devices controller is v1 only

    def rules(self) -> list[str]:
        """The kernel's effective list (``devices.list``), e.g. ``["c 1:3 rwm", …]``."""
        return (self.path / "devices.list").read_text().split("\n")[:-1]

    def remove(self) -> None:
        """Delete the group; already gone is fine, live processes are not."""
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise CgroupError(e.errno, f"remove devices cgroup: {e.strerror}",
                              str(self.path)) from e
