"""Layer tars ⇄ directories, with OCI whiteouts, refusing anything that escapes the root.

OCI layers mark deletions with ``.wh.NAME`` files and "everything below was removed" with
``.wh..wh..opq``. Extraction turns these into overlayfs's own form (0/0 character devices
and the ``overlay.opaque`` xattr) for the overlay driver, or applies them as deletions for
the vfs driver and for flattening. Writing goes the other way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, cast

from ..errors import InvalidArgument
from .changes import Change

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
Whiteouts = Literal["overlay", "apply"]
# tarfile copies member data in 16 KiB pieces unless told (typeshed lacks the keyword).
BIG_COPIES: dict[str, Any] = {"copybufsize": 1 << 20}


class Sink(Protocol):
    """Where a tar is written: a file, stdout, a pipe, the content store's blob writer."""

    def write(self, data: bytes, /) -> object: ...


def member_path(name: str) -> str:
    """The member's path relative to the root; raises on absolute or ``..`` escapes."""
    if name.startswith("/"):
        raise InvalidArgument(f"invalid archive: member {name!r} has an absolute path")
    norm = posixpath.normpath(name)
    if norm == ".":
        return ""
    if norm == ".." or norm.startswith("../"):
        raise InvalidArgument(f"invalid archive: member {name!r} escapes the archive root")
    return norm


def open_tar(fileobj: BinaryIO) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=fileobj, mode="r:")
    except tarfile.TarError as e:
        raise InvalidArgument(f"invalid archive: not a tar file ({e})") from None


class _Extractor:
    """Writes members under ``root`` without ever following a symlink on the host."""

    def __init__(self, root: Path, whiteouts: Whiteouts, opaque_xattr: str) -> None:
        self.root = root
        self.whiteouts = whiteouts
        self.opaque_xattr = opaque_xattr
        self.root_user = os.geteuid() == 0
        self.safe_dirs: set[str] = {""}
        self.dir_meta: list[tuple[str, tarfile.TarInfo]] = []

    def host(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else str(self.root)

    def ensure_parents(self, rel: str) -> None:
        """Create missing parents; refuse a parent that is a symlink (symlink-then-write)."""
        parts = rel.split("/")[:-1]
        prefix = ""
        for part in parts:
            prefix = f"{prefix}/{part}" if prefix else part
            if prefix in self.safe_dirs:
                continue
            try:
                st = os.lstat(self.host(prefix))
            except FileNotFoundError:
                os.mkdir(self.host(prefix), 0o755)
            else:
                if stat.S_ISLNK(st.st_mode):
                    raise InvalidArgument(
                        f"invalid archive: member {rel!r} would be written through "
                        f"symlink {prefix!r}"
                    )
                if not stat.S_ISDIR(st.st_mode):
                    raise InvalidArgument(
                        f"invalid archive: member {rel!r} is below non-directory {prefix!r}"
                    )
            self.safe_dirs.add(prefix)

    def clear(self, rel: str, keep_dir: bool) -> None:
        """Remove what is at ``rel`` unless it is a directory we are about to reuse."""
        path = self.host(rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            from ..fs.atomic import remove_tree

            remove_tree(Path(path))
            self.safe_dirs = {d for d in self.safe_dirs if d != rel and not d.startswith(rel + "/")}
        else:
            os.unlink(path)

    def whiteout(self, rel: str, name: str) -> None:
        parent = posixpath.dirname(rel)
        if name == WH_OPAQUE:
            self.ensure_parents(posixpath.join(parent, "x"))
            target = self.host(parent)
            if self.whiteouts == "overlay":
                os.setxattr(target, self.opaque_xattr, b"y")
            else:
                for entry in os.listdir(target):
                    self.clear(posixpath.join(parent, entry), keep_dir=False)
            return
        victim = posixpath.join(parent, name[len(WH_PREFIX) :])
        member_path(victim)
        self.ensure_parents(victim)
        self.clear(victim, keep_dir=False)
        if self.whiteouts == "overlay":
            os.mknod(self.host(victim), stat.S_IFCHR | 0o000, os.makedev(0, 0))

    def entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo, rel: str) -> None:
        if rel == "":
            if m.isdir():
                self.dir_meta.append((rel, m))
            return
        self.ensure_parents(rel)
        path = self.host(rel)
        self.clear(rel, keep_dir=m.isdir())
        if m.isdir():
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
            self.safe_dirs.add(rel)
            self.dir_meta.append((rel, m))
            return
        if m.isreg():
            src = tf.extractfile(m)
            assert src is not None
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
        elif m.issym():
            os.symlink(m.linkname, path)
        elif m.islnk():
            target = member_path(m.linkname)
            self.ensure_parents(target)
            tpath = self.host(target)
            if not os.path.lexists(tpath):
                raise InvalidArgument(
                    f"invalid archive: hardlink {rel!r} points at missing {m.linkname!r}"
                )
            os.link(tpath, path, follow_symlinks=False)
            return  # a hardlink shares its target's metadata
        elif m.ischr() or m.isblk() or m.isfifo():
            if not m.isfifo() and not self.root_user:
                return  # device nodes need CAP_MKNOD; an unprivileged rootfs does without
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            os.mknod(path, kind | 0o600, os.makedev(m.devmajor, m.devminor))
        else:
            return
        self.apply_meta(rel, m)

    def apply_meta(self, rel: str, m: tarfile.TarInfo) -> None:
        path = self.host(rel)
        if self.root_user:
            os.lchown(path, m.uid, m.gid)
        for key, value in m.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                with contextlib.suppress(OSError):
                    os.setxattr(path, key[13:], value.encode("utf-8", "surrogateescape"),
                                follow_symlinks=False)
        if not m.issym():
            os.chmod(path, m.mode & 0o7777)
        os.utime(path, (m.mtime, m.mtime), follow_symlinks=False)

    def finish(self) -> None:
        # Deepest first, so restoring a parent's mtime is not undone by its children.
        for rel, m in sorted(self.dir_meta, key=lambda x: x[0].count("/"), reverse=True):
            self.apply_meta(rel, m)


def extract(
    fileobj: BinaryIO,
    root: Path,
    whiteouts: Whiteouts,
    opaque_xattr: str = "trusted.overlay.opaque",
) -> None:
    """Extract a layer tar into ``root``.

    Whiteouts are processed before content so that an opaque marker never hides files of
    the same layer, whatever order the writer chose.
    """
    tf = open_tar(fileobj)
    ex = _Extractor(root, whiteouts, opaque_xattr)
    try:
        members = [(m, member_path(m.name)) for m in tf.getmembers()]
        for _m, rel in members:
            name = posixpath.basename(rel)
            if name.startswith(WH_PREFIX):
                ex.whiteout(rel, name)
        for m, rel in members:
            if not posixpath.basename(rel).startswith(WH_PREFIX):
                ex.entry(tf, m, rel)
        ex.finish()
    except tarfile.TarError as e:
        raise InvalidArgument(f"invalid archive: {e}") from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise InvalidArgument(f"invalid archive: cannot extract: {e}") from None


class _TarWriter:
    """Adds host files to a tar: hardlinks kept, owners numeric, no passwd lookups
    (``TarFile.gettarinfo`` resolves user names for every file, which dominates on big trees)."""

    def __init__(self, out: Sink) -> None:
        # Stream mode ("w|") only ever writes: the output may be a pipe or a socket.
        self.tf = tarfile.open(  # noqa: SIM115 - closed by close()
            fileobj=cast(BinaryIO, out), mode="w|", format=tarfile.PAX_FORMAT,
            **BIG_COPIES)
        self.inodes: dict[tuple[int, int], str] = {}

    def add(self, host_path: str, arcname: str) -> None:
        st = os.lstat(host_path)
        ti = tarfile.TarInfo(arcname)
        ti.mode, ti.uid, ti.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        ti.mtime = int(st.st_mtime)
        fmt = stat.S_IFMT(st.st_mode)
        if fmt == stat.S_IFREG:
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.inodes:
                ti.type, ti.linkname = tarfile.LNKTYPE, self.inodes[key]
            else:
                self.inodes[key] = arcname
                ti.size = st.st_size
                with open(host_path, "rb") as f:
                    self.tf.addfile(ti, f)
                return
        elif fmt == stat.S_IFDIR:
            ti.type = tarfile.DIRTYPE
        elif fmt == stat.S_IFLNK:
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(host_path)
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            ti.type = tarfile.CHRTYPE if fmt == stat.S_IFCHR else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif fmt == stat.S_IFIFO:
            ti.type = tarfile.FIFOTYPE
        else:
            return  # sockets cannot be archived; Docker skips them too
        self.tf.addfile(ti)

    def close(self) -> None:
        self.tf.close()


def write_changes(out: Sink, root: Path, changes: Iterable[Change],
                  opaque_dirs: Iterable[str] = ()) -> None:
    """Write a layer tar of ``changes`` (read from ``root``) with OCI whiteouts."""
    opaque = set(opaque_dirs)
    w = _TarWriter(out)
    for ch in sorted(changes, key=lambda c: c.path):
        rel = ch.path.lstrip("/")
        if ch.kind == "D":
            parent, name = posixpath.split(rel)
            w.tf.addfile(tarfile.TarInfo(posixpath.join(parent, WH_PREFIX + name)))
            continue
        w.add(os.path.join(root, rel), rel)
        if ch.path in opaque:
            w.tf.addfile(tarfile.TarInfo(posixpath.join(rel, WH_OPAQUE)))
    w.close()


def write_tree(out: Sink, root: Path) -> None:
    """Write the whole tree under ``root`` as one flat tar (``docker export``)."""
    w = _TarWriter(out)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            w.add(os.path.join(dirpath, name), name if rel_dir == "." else f"{rel_dir}/{name}")
    w.close()


def tar_changes(fileobj: BinaryIO, present: set[str]) -> list[Change]:
    """A layer tar read as ``docker diff`` entries against the paths of the layers below
    (``present``, updated in place): whiteouts are D, paths already there C, others A."""
    changes: list[Change] = []
    tf = open_tar(fileobj)
    for m in tf:
        rel = member_path(m.name)
        if not rel:
            continue
        parent, name = posixpath.split(rel)
        if name == WH_OPAQUE:
            below = parent + "/"
            gone = sorted(p for p in present if p.startswith(below))
            changes += [Change("D", "/" + p) for p in gone]
            present.difference_update(gone)
        elif name.startswith(WH_PREFIX):
            target = posixpath.join(parent, name[len(WH_PREFIX):])
            changes.append(Change("D", "/" + target))
            present.difference_update([p for p in present if p.startswith(target + "/")])
            present.discard(target)
        else:
            changes.append(Change("C" if rel in present else "A", "/" + rel))
            present.add(rel)
    return changes
