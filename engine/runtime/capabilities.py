"""Linux capabilities as Docker names them, and the kernel calls that set them on a process.

Docker's rules (moby ``daemon/pkg/oci/caps``): a container starts from a fixed default
set; ``--cap-add``/``--cap-drop`` take names with or without ``CAP_``, in any case, plus
``ALL``; ``--privileged`` gets every capability the engine itself holds. Since Docker
20.10.14 (CVE-2022-24769) the set goes into the bounding, permitted and effective sets
only: inheritable and ambient stay empty, so a non-root user ends up with no capability
after ``execve`` (the kernel computes a non-root process's new permitted set from the
inheritable and ambient sets, which are empty) while root gets the bounding set back.

glibc exports ``capget``/``capset`` and ``prctl``, so ctypes is enough; PyPI's
``python-prctl`` (last release 2020, a C extension needing libcap headers) is not.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Iterable

from ..errors import InvalidArgument

# Kernel order: a name's index is its capability number (linux/capability.h).
NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
NUMBERS = {name: number for number, name in enumerate(NAMES)}

# moby daemon/pkg/oci/caps/defaults.go: bounding mask 0x00000000a80425fb.
DOCKER_DEFAULT = frozenset({
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
})
ALL = "ALL"

_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_PR_GET_PDEATHSIG = 2
_PR_SET_KEEPCAPS = 8
_PR_CAPBSET_READ = 23
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4


class _Header(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _Data(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32))


_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
_libc.capget.argtypes = [ctypes.POINTER(_Header), ctypes.POINTER(_Data)]
_libc.capset.argtypes = [ctypes.POINTER(_Header), ctypes.POINTER(_Data)]


def _check(ret: int, call: str) -> int:
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{call}: {os.strerror(err)}")
    return ret


def prctl(option: int, arg2: int = 0, call: str = "prctl") -> int:
    """prctl(2) with the unused arguments zero, as the kernel requires for most options."""
    return _check(_libc.prctl(option, arg2, 0, 0, 0), call)


@functools.cache
def last_cap() -> int:
    """The highest capability number this kernel knows, probed with PR_CAPBSET_READ (EINVAL
    past the end) rather than read from /proc, so it also works after pivot_root. It can
    exceed the names above on a newer kernel: those capabilities are dropped, never kept."""
    number = 0
    while number < 64 and _libc.prctl(_PR_CAPBSET_READ, number + 1, 0, 0, 0) != -1:
        number += 1
    return number


def mask(caps: Iterable[str]) -> int:
    """The kernel bit mask of ``caps`` (as ``CapBnd`` etc. in /proc/<pid>/status show it)."""
    bits = 0
    for name in caps:
        bits |= 1 << NUMBERS[name]
    return bits


def names(bits: int) -> frozenset[str]:
    return frozenset(name for number, name in enumerate(NAMES) if bits >> number & 1)


def current() -> frozenset[str]:
    """The capabilities this process may hand on: its effective set within its bounding set.

    Docker's ``--privileged`` and ``--cap-add ALL`` mean exactly these (moby asks
    containerd's ``cap.Current()``), so an engine that itself runs with fewer
    capabilities (a CI sandbox) never asks the kernel for ones it cannot grant.
    An unprivileged engine (rootless) hands on what root of a user namespace it makes
    gets: everything in its bounding set, over that namespace only.
    """
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    effective = data[0].effective | data[1].effective << 32
    bounding = sum(1 << n for n in range(last_cap() + 1)
                   if _libc.prctl(_PR_CAPBSET_READ, n, 0, 0, 0) == 1)
    if os.geteuid() != 0:
        return names(bounding)
    return names(effective & bounding)


def _quote(text: str) -> str:
    """Go's %q, as Docker's messages quote; imported only on this error path."""
    from ..gofmt import go_quote

    return go_quote(text)


def normalize(requested: Iterable[str], field: str,
              available: frozenset[str] | None = None) -> list[str]:
    """Docker's NormalizeLegacyCapabilities: upper-case, ``CAP_`` prefix, ``ALL`` kept;
    ``field`` ("CapAdd"/"CapDrop") names the option in the error, as the daemon does."""
    out = []
    available = current() if available is None else available
    for raw in requested:
        name = raw.upper()
        if name == ALL:
            out.append(name)
            continue
        if not name.startswith("CAP_"):
            name = "CAP_" + name
        if name not in NUMBERS:
            raise InvalidArgument(f"invalid {field}: unknown capability: {_quote(name)}")
        if name not in available:
            raise InvalidArgument(
                f"invalid {field}: capability not supported by your kernel or not available "
                f"in the current environment: {_quote(name)}")
        out.append(name)
    return out


def tweak(cap_add: Iterable[str] = (), cap_drop: Iterable[str] = (),
          privileged: bool = False) -> frozenset[str]:
    """Docker's TweakCapabilities over its default set: privileged gets everything we hold;
    ``--cap-add ALL`` everything but the drops; ``--cap-drop ALL`` only the adds; otherwise
    the defaults minus the drops plus the adds. Defaults this process does not hold are left
    out rather than failing the start (an engine in a restricted sandbox)."""
    available = current()
    adds = normalize(cap_add, "CapAdd", available)
    drops = normalize(cap_drop, "CapDrop", available)
    if privileged:
        return available
    if ALL in adds:
        return available - set(drops)
    if ALL in drops:
        return frozenset(adds)
    return (DOCKER_DEFAULT & available) - set(drops) | set(adds)


# --- applied in the container's init, after pivot_root, right before exec -----------------

def drop_bounding(keep: frozenset[str]) -> None:
    """Remove every capability not in ``keep`` from the bounding set (needs CAP_SETPCAP,
    so it comes before the capset that may drop SETPCAP itself)."""
    wanted = mask(keep)
    for number in range(last_cap() + 1):
        if not wanted >> number & 1:
            prctl(_PR_CAPBSET_DROP, number, "prctl(PR_CAPBSET_DROP)")


def set_keepcaps(on: bool) -> None:
    """Keep the permitted set across a setuid() away from root (runc's SetKeepCaps)."""
    prctl(_PR_SET_KEEPCAPS, int(on), "prctl(PR_SET_KEEPCAPS)")


def set_process(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) for the calling thread: the three 64-bit sets as two 32-bit halves."""
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for half in (0, 1):
        shift = 32 * half
        data[half].effective = effective >> shift & 0xFFFFFFFF
        data[half].permitted = permitted >> shift & 0xFFFFFFFF
        data[half].inheritable = inheritable >> shift & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def clear_ambient() -> None:
    prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)")


def parent_death_signal() -> int:
    """The pending parent-death signal; a uid change clears it, so callers restore it."""
    sig = ctypes.c_int(0)
    _check(_libc.prctl(_PR_GET_PDEATHSIG, ctypes.addressof(sig), 0, 0, 0),
           "prctl(PR_GET_PDEATHSIG)")
    return sig.value
