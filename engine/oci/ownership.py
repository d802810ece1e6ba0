"""File owners where ``chown`` is impossible: unprivileged stores (rootless, PRoot, none).

Without root, every file on disk belongs to us; a user namespace maps only our uid (to 0),
and the kernel refuses a chown to any other uid (EINVAL) before any filesystem sees it.
Two things must still come out right in layer tars (commit, build, export):

* files we own are root's in the image: recorded as 0:0, as a root-built layer has them;
* owners from image layers (``100:101`` in a tar) survive a commit of an unrelated
  change and an export. They are kept as metadata, the way containers-storage and
  fuse-overlayfs keep them: the ``user.containers.override_stat`` xattr
  (``uid:gid:0mode``) on regular files and directories (overlay copy-up carries it), and,
  for symlinks, which cannot carry ``user.*`` xattrs, an index written at unpack.

The mode always comes from the file itself (a ``chmod`` in the container is real); only
the owner comes from the metadata.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tarfile
from dataclasses import dataclass, field
from typing import Any

OVERRIDE_XATTR = "user.containers.override_stat"
# The storage's own bookkeeping: never applied from a layer's xattrs (a layer could make a
# directory opaque or fake an owner) and never written into one.
PRIVATE_XATTRS = ("user.overlay.", "trusted.overlay.", OVERRIDE_XATTR)
IndexEntry = list[Any]  # [uid, gid, mtime, symlink target]: valid while the link is unchanged


def chown_allowed() -> bool:
    """Root of the initial user namespace, who can give a file to anyone; uid 0 of a user
    namespace (a keeper's) cannot."""
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


def tar_xattr_allowed(name: str) -> bool:
    return not name.startswith(PRIVATE_XATTRS)


def keep_fd(fd: int, m: tarfile.TarInfo) -> None:
    """Record member ``m``'s owner on the file or directory it made (open at ``fd``)
    without chown, in the xattr. Owner 0:0 needs nothing: ours is 0:0."""
    if (m.uid, m.gid) == (0, 0) or not (m.isreg() or m.isdir()):
        return
    kind = stat.S_IFDIR if m.isdir() else stat.S_IFREG
    os.setxattr(fd, OVERRIDE_XATTR, f"{m.uid}:{m.gid}:0{kind | (m.mode & 0o7777):o}".encode())


def index_entry(m: tarfile.TarInfo) -> IndexEntry | None:
    """The index entry of a symlink member (which cannot carry a ``user.*`` xattr)."""
    if (m.uid, m.gid) == (0, 0):
        return None
    return [m.uid, m.gid, int(m.mtime), m.linkname]


def set_owner(path: str, uid: int, gid: int) -> None:
    """Give ``path`` to ``uid:gid`` as the engine writes it (``COPY --chown``): a real
    chown where allowed, else the xattr. A symlink cannot carry the xattr; outside a
    privileged store its owner is ours (0:0 in the layer)."""
    if chown_allowed():
        os.chown(path, uid, gid, follow_symlinks=False)
        return
    st = os.lstat(path)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return
    if (uid, gid) == (0, 0):
        with contextlib.suppress(OSError):
            os.removexattr(path, OVERRIDE_XATTR, follow_symlinks=False)
        return
    value = f"{uid}:{gid}:0{st.st_mode:o}".encode()
    os.setxattr(path, OVERRIDE_XATTR, value, follow_symlinks=False)


def override(target: int | str) -> tuple[int, int] | None:
    """The owner kept in the xattr of ``target`` (an open descriptor, or a path that is not
    followed if a symlink), if any."""
    try:
        raw = (os.getxattr(target, OVERRIDE_XATTR) if isinstance(target, int)
               else os.getxattr(target, OVERRIDE_XATTR, follow_symlinks=False))
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.EPERM, errno.ENOENT):
            return None
        if e.errno == errno.EACCES:
            unreadable(e)
        raise
    uid, _, rest = raw.decode(errors="replace").partition(":")
    gid = rest.partition(":")[0]
    if uid.isdigit() and gid.isdigit():
        return int(uid), int(gid)
    return None


@dataclass
class Recorder:
    """Which owner a file gets in a layer tar written by an unprivileged store."""

    index: dict[str, IndexEntry] = field(default_factory=dict)  # rel path → entry
    uid: int = field(default_factory=os.geteuid)  # ours, as this process sees it
    gid: int = field(default_factory=os.getegid)

    def owner(self, rel: str, st: os.stat_result, kept: tuple[int, int] | None = None,
              link: str = "") -> tuple[int, int]:
        """``kept``: the file's or directory's xattr owner; ``link``: a symlink's target
        (an index entry holds while the link is the one unpacked: same target and time)."""
        if kept is not None:
            return kept
        entry = self.index.get(rel.lstrip("/"))
        if entry is not None and stat.S_ISLNK(st.st_mode) and int(st.st_mtime) == entry[2] \
                and link == entry[3]:
            return int(entry[0]), int(entry[1])
        return (0 if st.st_uid == self.uid else st.st_uid,
                0 if st.st_gid == self.gid else st.st_gid)


def unreadable(err: OSError) -> None:
    """A directory a walk cannot list: a silent skip would make a diff, commit or export
    quietly incomplete. Without a user namespace (PRoot, none) nothing reads a mode-000
    file of our own; with one, the keeper can (so this is not reached there)."""
    from ..errors import Unsupported

    raise Unsupported(f"cannot read {err.filename}: {err.strerror} (a mode the container "
                      "set; without a user namespace the engine cannot read it: chmod it in "
                      "the container first)") from None


def recorder(index: dict[str, IndexEntry] | None = None) -> Recorder | None:
    """The recorder for this process: None where files carry their real owners (root)."""
    return None if chown_allowed() else Recorder(index or {})
