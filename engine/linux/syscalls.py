"""Linux namespace and mount syscalls that Python 3.11's ``os`` module lacks.

Every wrapper raises ``OSError`` carrying the kernel's errno and naming the call, so a
failed container setup says *which* step failed and on which path.
"""

from __future__ import annotations

import ctypes
import errno
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24

MNT_DETACH = 2

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36

# glibc has no pivot_root() wrapper, so it goes through syscall(2).
_PIVOT_ROOT_NR = {"x86_64": 155, "aarch64": 41}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
_libc.syscall.argtypes = [ctypes.c_long, ctypes.c_char_p, ctypes.c_char_p]

# The new mount API (Linux 5.2; numbers shared by every architecture). Its own handle on
# syscall(2): the one above is typed for pivot_root.
_NR_MOVE_MOUNT, _NR_FSOPEN, _NR_FSCONFIG, _NR_FSMOUNT = 429, 430, 431, 432
_syscall = _libc["syscall"]
_syscall.restype = ctypes.c_long
FSOPEN_CLOEXEC = 1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
FSMOUNT_CLOEXEC = 1
MOVE_MOUNT_F_EMPTY_PATH = 4
_AT_FDCWD = -100


def _mount_api(nr: int, *args: int | bytes | None) -> int:
    """syscall(2) with integers widened to long: it is variadic, and reads longs."""
    return int(_syscall(ctypes.c_long(nr), *(ctypes.c_long(a) if isinstance(a, int) else a
                                             for a in args)))


def _check(ret: int, call: str, path: str | None = None) -> None:
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{call}: {os.strerror(err)}", path)


def _path(value: str | os.PathLike[str] | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (``CLONE_NEW*`` flags)."""
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    """Join the namespace that ``fd`` (an open /proc/<pid>/ns/<kind>) refers to."""
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | os.PathLike[str] | None, target: str | os.PathLike[str],
          fstype: str | None = None, flags: int = 0, data: str | None = None) -> None:
    """mount(2); ``None`` arguments are passed as NULL, as propagation changes require."""
    _check(_libc.mount(_path(source), _path(target), _path(fstype), flags, _path(data)),
           "mount", os.fsdecode(target))


def umount2(target: str | os.PathLike[str], flags: int = 0) -> None:
    """umount2(2); use ``MNT_DETACH`` for an old root that still has users."""
    _check(_libc.umount2(_path(target), flags), "umount2", os.fsdecode(target))


def pivot_root(new_root: str | os.PathLike[str], put_old: str | os.PathLike[str]) -> None:
    """Make ``new_root`` the root mount and move the old root to ``put_old``."""
    machine = os.uname().machine  # what platform.machine() reads, without importing it
    nr = _PIVOT_ROOT_NR.get(machine)
    if nr is None:
        raise OSError(errno.ENOSYS, f"pivot_root: unsupported machine {machine}",
                      os.fsdecode(new_root))
    _check(_libc.syscall(nr, _path(new_root), _path(put_old)),
           "pivot_root", os.fsdecode(new_root))


def sethostname(name: str) -> None:
    """Set the hostname of the caller's UTS namespace."""
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "sethostname", name)


def prctl_set_pdeathsig(sig: int) -> None:
    """Have the kernel send ``sig`` to us when our parent dies, so no orphan outlives it."""
    _check(_libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def set_child_subreaper() -> None:
    """Adopt orphaned descendants so the engine can reap them instead of host init."""
    _check(_libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")


def _fs_messages(fs_fd: int) -> str:
    """The log a filesystem context keeps of why it refused something ("e overlay: ...")."""
    lines = []
    while True:
        try:
            raw = os.read(fs_fd, 1024)
        except OSError:
            break
        lines.append(raw.decode(errors="replace").removeprefix("e ").strip())
    return "; ".join(line for line in lines if line)


class FsContext:
    """A filesystem context of the new mount API: ``fsopen``, one ``fsconfig`` per
    option, then ``mount`` creates the superblock and moves it onto a path. Options go in
    one at a time, so no option string has to fit the one page ``mount(2)`` takes: that
    is how overlayfs takes one ``lowerdir+`` per layer (Linux 6.8)."""

    def __init__(self, fstype: str) -> None:
        fd = _mount_api(_NR_FSOPEN, fstype.encode(), FSOPEN_CLOEXEC)
        _check(-1 if fd < 0 else 0, "fsopen", fstype)
        self.fd = fd
        self.fstype = fstype

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> FsContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _config(self, cmd: int, key: bytes | None, value: bytes | None, what: str) -> None:
        if _mount_api(_NR_FSCONFIG, self.fd, cmd, key, value, 0) < 0:
            err = ctypes.get_errno()
            why = _fs_messages(self.fd) or os.strerror(err)
            raise OSError(err, f"fsconfig({self.fstype}, {what}): {why}")

    def set_string(self, key: str, value: str | os.PathLike[str]) -> None:
        self._config(FSCONFIG_SET_STRING, key.encode(), os.fsencode(value),
                     f"{key}={os.fsdecode(value)}")

    def set_flag(self, key: str) -> None:
        self._config(FSCONFIG_SET_FLAG, key.encode(), None, key)

    def mount(self, target: str | os.PathLike[str]) -> None:
        """Create the filesystem and attach it at ``target`` (as ``mount(2)`` would)."""
        self._config(FSCONFIG_CMD_CREATE, None, None, "create")
        mnt = _mount_api(_NR_FSMOUNT, self.fd, FSMOUNT_CLOEXEC, 0)
        if mnt < 0:
            err = ctypes.get_errno()
            why = _fs_messages(self.fd) or os.strerror(err)
            raise OSError(err, f"fsmount({self.fstype}): {why}", os.fsdecode(target))
        try:
            _check(-1 if _mount_api(_NR_MOVE_MOUNT, mnt, b"", _AT_FDCWD, _path(target),
                                    MOVE_MOUNT_F_EMPTY_PATH) < 0 else 0,
                   "move_mount", os.fsdecode(target))
        finally:
            os.close(mnt)
