"""The container's own mounts (``-v``, ``--mount``, ``--tmpfs``, ``--read-only``), made by
its init in its mount namespace before ``pivot_root``, as runc makes a spec's mounts.

Destinations are paths an image chose (``VOLUME /data`` where ``/data`` is a symlink to
``/etc``…), so each is resolved within the rootfs by the one secure join: a mount never
lands outside the container's root. Mounts go parents first (``/a`` before ``/a/b``), as
Docker sorts them, so a nested one is not hidden by its parent.

A read-only remount must repeat the flags the kernel locked on the source mount: in a
user namespace (rootless), a bind of a host mount that is ``nosuid`` or ``relatime`` may
not drop those, and ``mount(MS_REMOUNT)`` without them is EPERM. runc does the same
(``statfs`` flags carried over).
"""

from __future__ import annotations

import os

from ..fs import securejoin
from ..linux import syscalls as sc
from .spec import Mount

MS_SYNCHRONOUS, MS_MANDLOCK = 16, 64
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
# statvfs(3) flag → the mount(2) flag that keeps it
_KEPT = ((os.ST_NOSUID, sc.MS_NOSUID), (os.ST_NODEV, sc.MS_NODEV), (os.ST_NOEXEC, sc.MS_NOEXEC),
         (os.ST_SYNCHRONOUS, MS_SYNCHRONOUS), (os.ST_MANDLOCK, MS_MANDLOCK),
         (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
         (os.ST_RELATIME, MS_RELATIME))


class MountFailure(Exception):
    """A mount the container asked for could not be made (runc's wording)."""


def remount_readonly(path: str) -> None:
    """Make the mount at ``path`` read-only, keeping its other (maybe locked) flags."""
    have = os.statvfs(path).f_flag
    flags = sum(ms for st, ms in _KEPT if have & st)
    sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | flags, None)


def _depth(m: Mount) -> int:
    return len([p for p in m.target.split("/") if p])


def _mountpoint(root: str, m: Mount) -> str:
    """The host path of ``m``'s destination below ``root``, made if missing: a file for a
    bind of a file, a directory otherwise (as runc makes them)."""
    path = securejoin.join(root, m.target)
    if os.path.lexists(path):
        return path
    if m.kind == "bind" and not os.path.isdir(m.source):
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644))
    else:
        os.makedirs(path, 0o755)
    return path


def make_all(root: str, mounts: list[Mount]) -> None:
    """Every mount of ``mounts`` below ``root`` (the container's rootfs, not yet entered)."""
    for m in sorted(mounts, key=_depth):
        try:
            path = _mountpoint(root, m)
            if m.kind == "tmpfs":
                flags = m.flags | (sc.MS_RDONLY if m.readonly else 0)
                sc.mount("tmpfs", path, "tmpfs", flags, m.data or None)
                continue
            sc.mount(m.source, path, None, sc.MS_BIND | sc.MS_REC, None)
            if m.readonly:
                remount_readonly(path)
        except OSError as e:
            what = m.source or "tmpfs"
            raise MountFailure(f'error mounting "{what}" to rootfs at "{m.target}": '
                               f"{e.strerror or e}") from None
