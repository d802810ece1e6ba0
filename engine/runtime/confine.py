"""Confine a container as Docker's defaults do: capabilities, no_new_privs, masked and
read-only kernel paths, a read-only /sys, and seccomp.

It comes in two halves because it straddles pivot_root:

- host side, before any fork: :class:`Confinement` holds what the user asked for (Docker's
  ``--cap-add``/``--cap-drop``/``--privileged``/``--security-opt``) and
  :meth:`Confinement.resolve` turns it into a :class:`Plan`: the capability set, the paths,
  and the seccomp program compiled while the profile and libseccomp are still reachable.
  Every error a user can cause (unknown capability, bad profile) is raised here.
- container side: :func:`apply_mounts` in the init's mount namespace right after
  pivot_root, and :func:`apply_process` right before ``execve`` (in the init, and in
  ``exec`` after joining the namespaces). ``apply_process`` also switches uid/gid, because
  the capability calls and setuid must interleave in one order (runc's): bounding set,
  keep-caps, setuid, capset, ambient, seccomp.

Docker's masked and read-only paths are moby's ``daemon/pkg/oci/defaults.go``; runc
applies them (``readonlyPath``/``maskPath``) as done here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InvalidArgument, Unsupported
from ..linux import syscalls as sc
from . import capabilities as caps
from .users import User

if TYPE_CHECKING:
    from . import seccomp

# moby defaultLinuxMaskedPaths (plus the per-CPU thermal_throttle dirs, see below).
MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

_PR_SET_NO_NEW_PRIVS = 38
_STATFS_LOCKED = os.ST_NOSUID | os.ST_NODEV | os.ST_NOEXEC  # same bits as MS_NOSUID…


def default_masked_paths() -> tuple[str, ...]:
    """Docker's list, with ``/sys/devices/system/cpu/cpuN/thermal_throttle`` for every
    possible CPU that has one on this host (GHSA-6fw5-f8r9-fgfm), computed on the host."""
    extra = []
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            ranges = f.read().strip()
    except OSError:
        ranges = ""
    for part in filter(None, ranges.split(",")):
        first, _, last = part.partition("-")
        for cpu in range(int(first), int(last or first) + 1):
            path = f"/sys/devices/system/cpu/cpu{cpu}/thermal_throttle"
            if os.path.exists(path):
                extra.append(path)
    return (*MASKED_PATHS, *extra)


@dataclass(frozen=True)
class Plan:
    """Everything the container side applies, decided before the container is entered."""

    capabilities: frozenset[str]  # bounding = permitted = effective; inheritable/ambient empty
    no_new_privs: bool = False
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    # /sys read-only (bind-remounted by apply_mounts). False (privileged) needs the rootfs
    # code to mount sysfs read-write: a bind remount cannot lift a read-only superblock.
    readonly_sys: bool = True
    seccomp_filter: seccomp.Program | None = None
    warnings: tuple[str, ...] = ()  # what Docker logs as daemon warnings


def _quote(text: str) -> str:
    """Go's %q, as Docker's messages quote; imported only on this error path."""
    from ..gofmt import go_quote

    return go_quote(text)


def _parse_bool(value: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


@dataclass(frozen=True)
class Confinement:
    """What a container asked for, in Docker's HostConfig terms (the engine stores this)."""

    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    privileged: bool = False
    no_new_privs: bool = False
    seccomp_profile: str = ""  # "": Docker's default (none when privileged), "builtin",
    #                            "unconfined", or a profile's JSON text
    masked_paths: tuple[str, ...] | None = None  # None: Docker's defaults
    readonly_paths: tuple[str, ...] | None = None

    @classmethod
    def from_options(cls, cap_add: Iterable[str] = (), cap_drop: Iterable[str] = (),
                     privileged: bool = False,
                     security_opt: Iterable[str] = ()) -> Confinement:
        """Parse ``docker run`` flags: ``--security-opt`` takes ``no-new-privileges[=BOOL]``,
        ``seccomp=builtin|unconfined|FILE`` (the file is read now, as the Docker CLI
        does), ``systempaths=unconfined``; ``label=``/``apparmor=`` are accepted and have no
        effect (no LSM here, as Docker on a host without one). Validates the capabilities."""
        nnp, profile, masked, readonly = False, "", None, None
        for opt in security_opt:
            if opt == "no-new-privileges":
                nnp = True
                continue
            key, sep, value = opt.partition("=")
            if not sep:
                key, sep, value = opt.partition(":")  # Docker's deprecated separator
            if not sep or not value:
                raise InvalidArgument(f"invalid --security-opt 1: {_quote(opt)}")
            if key == "no-new-privileges" and _parse_bool(value) is not None:
                nnp = bool(_parse_bool(value))
            elif key == "seccomp":
                from . import seccomp  # the profile's code: for run/create, not pause or stop

                profile = value if value in (seccomp.BUILTIN, seccomp.UNCONFINED) \
                    else seccomp.read_file(value)
            elif key == "systempaths" and value == "unconfined":
                masked, readonly = (), ()
            elif key not in ("label", "apparmor"):
                raise InvalidArgument(f"invalid --security-opt 2: {_quote(opt)}")
        conf = cls(tuple(cap_add), tuple(cap_drop), privileged, nnp, profile, masked, readonly)
        conf.validate()
        return conf

    def validate(self) -> None:
        """Raise the error Docker gives at ``create`` for an unknown capability or a
        malformed seccomp profile."""
        from . import seccomp

        available = caps.current()
        caps.normalize(self.cap_add, "CapAdd", available)
        caps.normalize(self.cap_drop, "CapDrop", available)
        if self.seccomp_profile not in ("", seccomp.BUILTIN, seccomp.UNCONFINED):
            seccomp.parse(self.seccomp_profile)

    def capabilities(self, devices_enforced: bool = True) -> frozenset[str]:
        """The set the process keeps. Where the host enforces no device allowlist, CAP_MKNOD
        is dropped unless asked for explicitly: without it, container root cannot create a
        node for a host disk in the first place."""
        kept = caps.tweak(self.cap_add, self.cap_drop, self.privileged)
        asked = {n.upper().removeprefix("CAP_") for n in self.cap_add}
        if not devices_enforced and not self.privileged and not asked & {"MKNOD", caps.ALL}:
            kept -= {"CAP_MKNOD"}
        return kept

    def resolve(self, devices_enforced: bool = True) -> Plan:
        """The :class:`Plan` for one start; call it on the host, before forking the init."""
        kept = self.capabilities(devices_enforced)
        warnings = []
        if not devices_enforced and "CAP_MKNOD" not in kept and not self.privileged:
            warnings.append("the device allowlist is not enforced on this host: "
                            "running container without CAP_MKNOD")
        program, warning = self._seccomp(kept)
        if warning:
            warnings.append(warning)
        if self.privileged:
            return Plan(kept, self.no_new_privs, (), (), False, program, tuple(warnings))
        masked = default_masked_paths() if self.masked_paths is None else self.masked_paths
        readonly = READONLY_PATHS if self.readonly_paths is None else self.readonly_paths
        return Plan(kept, self.no_new_privs, masked, readonly, True, program, tuple(warnings))

    def _seccomp(self, kept: frozenset[str]) -> tuple[seccomp.Program | None, str]:
        """moby's WithSeccomp: unconfined → none; privileged → only an explicit profile;
        no kernel/libseccomp support → run without the default profile (a warning) but
        refuse a custom one."""
        from . import seccomp

        profile = self.seccomp_profile
        if profile == seccomp.UNCONFINED or (self.privileged and not profile):
            return None, ""
        custom = profile not in ("", seccomp.BUILTIN)
        status = seccomp.status()
        if not status.available:
            if custom:
                raise Unsupported("seccomp is not enabled in your kernel, cannot run a custom "
                                  f"seccomp profile ({status.reason})")
            return None, ("seccomp is not enabled in your kernel, running container without "
                          f"default profile ({status.reason})")
        text = profile if custom else seccomp.builtin_text()
        return seccomp.program_for(text, kept), ""


# --- container side ------------------------------------------------------------------------
# After pivot_root every path resolves inside the container's own tree (the old root is
# detached), so an image's symlinks can at worst redirect a mask onto another container
# file, never onto a host one.

def _readonly(path: str) -> None:
    """runc's readonlyPath: bind the path onto itself, then remount that bind read-only,
    keeping the nosuid/nodev/noexec it already had. Absent paths are skipped."""
    try:
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC, None)
    except FileNotFoundError:
        return
    kept = os.statvfs(path).f_flag & _STATFS_LOCKED
    sc.mount(path, path, None, kept | sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY, None)


def _mask(path: str) -> None:
    """runc's maskPath: /dev/null over a file, an empty read-only tmpfs over a directory.
    A missing /dev/null is an error (the mask would silently not happen), a missing path
    is not."""
    if not os.path.lexists(path):
        return
    try:
        sc.mount("/dev/null", path, None, sc.MS_BIND, None)
    except NotADirectoryError:
        sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)


def apply_mounts(plan: Plan) -> None:
    """In the container's mount namespace, after pivot_root and before dropping
    capabilities: read-only paths, then masks (runc's order), then /sys read-only."""
    for path in plan.readonly_paths:
        _readonly(path)
    for path in plan.masked_paths:
        _mask(path)
    if plan.readonly_sys:
        _readonly("/sys")


def apply_process(plan: Plan, user: User, set_groups: bool = True) -> None:
    """Become ``user`` with the plan's capabilities; the caller's next step is ``execve``.

    Order (runc's): no_new_privs first; a seccomp filter without no_new_privs needs
    CAP_SYS_ADMIN, so it is loaded while we still have it, otherwise as late as possible.
    The bounding set is cut while CAP_SETPCAP is held, keep-caps carries the permitted set
    across setuid, and capset then leaves exactly the plan's set in permitted and
    effective (inheritable and ambient empty). ``execve`` finishes the job: root gets the
    bounding set as its effective set, any other uid gets nothing, as under Docker.
    ``set_groups=False``: in a rootless user namespace, where setgroups is denied.
    """
    pdeath = caps.parent_death_signal()
    if plan.no_new_privs:
        caps.prctl(_PR_SET_NO_NEW_PRIVS, 1, "prctl(PR_SET_NO_NEW_PRIVS)")
    elif plan.seccomp_filter is not None:
        plan.seccomp_filter.load()
    caps.drop_bounding(plan.capabilities)
    caps.set_keepcaps(True)
    if set_groups:
        os.setgroups(user.groups)
    os.setgid(user.gid)
    os.setuid(user.uid)
    caps.set_keepcaps(False)
    bits = caps.mask(plan.capabilities)
    caps.set_process(effective=bits, permitted=bits, inheritable=0)
    caps.clear_ambient()
    if pdeath:
        sc.prctl_set_pdeathsig(pdeath)  # a uid change clears it; runc restores it too
    if plan.no_new_privs and plan.seccomp_filter is not None:
        plan.seccomp_filter.load()
