"""Inside the new mount namespace: build the container's ``/`` and pivot into it (S3).

Rootless (in a user namespace) the same steps run with three differences: ``mknod`` is
refused, so the host's device nodes are bound onto empty files (the binds keep devtmpfs'
superblock, so they work although a userns tmpfs is nodev); a fresh procfs or sysfs may
be refused where an outer runtime masked parts of them, so the host's are bound instead
(``info`` says so); and devpts gets no ``gid=5``, a group that is not mapped.
"""

from __future__ import annotations

import _socket  # the C module: socket.py's enums cost milliseconds on every start
import contextlib
import fcntl
import os
import stat
import struct

from ..fs import securejoin
from ..linux import syscalls as sc
from . import mounts
from .spec import ContainerSpec

DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
           "urandom": (1, 9), "tty": (5, 0)}
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def _mountpoint(root: str, rel: str) -> str:
    """The host path of a directory mount point inside the rootfs (resolved within it, as
    runc resolves mount destinations), created if the image lacks it."""
    path = securejoin.join(root, rel)
    if not os.path.lexists(path):
        os.makedirs(path, 0o755)
    return path


def _make_dev(root: str, bind_nodes: bool) -> None:
    dev = _mountpoint(root, "dev")
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME, "mode=755,size=65536k")
    for name, (major, minor) in DEVICES.items():
        path = os.path.join(dev, name)
        if bind_nodes:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
            sc.mount(f"/dev/{name}", path, None, sc.MS_BIND, None)
            continue
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(path, 0o666)
    for name, target in DEV_LINKS.items():
        os.symlink(target, os.path.join(dev, name))
    for sub in ("pts", "shm", "mqueue"):
        os.mkdir(os.path.join(dev, sub), 0o755)
    sc.mount("devpts", os.path.join(dev, "pts"), "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=0620")
    sc.mount("shm", os.path.join(dev, "shm"), "tmpfs",
             sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, "mode=1777,size=65536k")
    sc.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue",
             sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, None)


def _loopback_up() -> None:
    """A fresh network namespace has ``lo`` down; Docker brings it up."""
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    finally:
        s.close()


def _bind_host(source: str, target: str) -> None:
    """The host's /proc or /sys, where a fresh one is refused (masked by an outer runtime)."""
    sc.mount(source, target, None, sc.MS_BIND | sc.MS_REC, None)


def _mount_sysfs(target: str, rootless: bool) -> None:
    flags = sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
    try:
        sc.mount("sysfs", target, "sysfs", flags, None)
    except PermissionError:
        if not rootless:
            raise
        _bind_host("/sys", target)


def enter_rootfs(spec: ContainerSpec) -> None:
    """Mount proc/dev/sys, the container's own mounts (volumes, binds, tmpfs) and the /etc
    files into the rootfs, then pivot_root into it."""
    root = spec.rootfs
    rootless = spec.mode == "rootless"
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE, None)
    sc.mount(root, root, None, sc.MS_BIND | sc.MS_REC, None)
    proc = _mountpoint(root, "proc")
    if spec.fresh_proc:
        sc.mount("proc", proc, "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, None)
    else:
        _bind_host("/proc", proc)
    _make_dev(root, bind_nodes=rootless)
    _mount_sysfs(_mountpoint(root, "sys"), rootless)
    mounts.make_all(root, spec.mounts)
    for target, source in spec.etc_files.items():
        path = securejoin.join(root, target)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.lstat(path).st_mode):
                sc.mount(source, path, None, sc.MS_BIND, None)
    os.chdir(root)
    sc.pivot_root(".", ".")
    sc.umount2(".", sc.MNT_DETACH)  # the old root, stacked under the new one
    os.chdir("/")
    if spec.readonly_rootfs:  # --read-only: after the mounts, which stay as they were made
        mounts.remount_readonly("/")
    sc.sethostname(spec.hostname)
    if spec.namespaces & sc.CLONE_NEWNET:  # not the host's lo, nor a joined container's
        _loopback_up()
