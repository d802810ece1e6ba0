"""Layer tars ⇄ directories, with OCI whiteouts, refusing anything that escapes the root.

OCI layers mark deletions with ``.wh.NAME`` files and "everything below was removed" with
``.wh..wh..opq``. Extraction turns these into overlayfs's own form (0/0 character devices
and the ``overlay.opaque`` xattr) for the overlay driver, or applies them as deletions for
the vfs driver and for flattening; a plain archive (``ADD x.tar``, a build context) has no
whiteouts at all: ``.wh.`` names are ordinary files there, as in Docker. Writing goes the
other way.

Archives are untrusted. ``check`` is the one set of rules, applied both when a layer is
registered (``load``, ``import``, ``pull``) and when it is extracted (``create``), so a
layer the store accepts is a layer every driver can unpack. The extractor works by file
descriptor: every parent is opened with ``O_NOFOLLOW`` relative to its own parent, every
change (chmod, chown, times, xattrs) is made on the new inode's descriptor or with
``AT_SYMLINK_NOFOLLOW``, and a directory's saved metadata, applied at the end (after its
contents, or writing them would change its times), goes to the directory by identity
(device and inode), never to whatever the name points at by then.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, cast

from ..errors import InvalidArgument
from ..fs import tree
from . import ownership
from .changes import Change

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
WH_META = ".wh..wh."  # AUFS metadata (.wh..wh.plnk …): skipped, as Docker does
Whiteouts = Literal["overlay", "apply", "plain"]
CHUNK = 1 << 20


class Sink(Protocol):
    """Where a tar is written: a file, stdout, a pipe, the content store's blob writer.

    Like any ``io`` writer, a sink takes any bytes-like object and is done with it when
    ``write`` returns: ``TarStream`` passes views of one buffer it reuses."""

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


class _MemberData(io.RawIOBase):
    """A member's data read from the tar's own file straight into the caller's buffer
    (``extractfile``'s reader passes every chunk through a new bytes object first)."""

    def __init__(self, fileobj: Any, start: int, size: int) -> None:
        self.fileobj, self.pos, self.left = fileobj, start, size

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.left <= 0:
            return 0
        self.fileobj.seek(self.pos)  # the same file also serves headers and other members
        view = memoryview(b).cast("B")[: self.left]
        n = self.fileobj.readinto(view)
        if not n:
            raise InvalidArgument("invalid archive: unexpected end of data")
        self.pos += n
        self.left -= n
        return n


def open_member(tf: tarfile.TarFile, info: tarfile.TarInfo) -> io.BufferedReader:
    """The data of the regular member ``info`` of ``tf`` (opened by ``open_tar``)."""
    if info.sparse is None and tf.fileobj is not None and hasattr(tf.fileobj, "readinto"):
        return io.BufferedReader(_MemberData(tf.fileobj, info.offset_data, info.size))
    src = tf.extractfile(info)
    assert src is not None  # a regular file
    return cast(io.BufferedReader, src)  # tarfile's ExFileObject is one


# -- the rules -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    """A checked member: its tar header, its path below the root and what it is for."""

    info: tarfile.TarInfo
    rel: str
    whiteout: str = ""  # "opaque", "file" (a .wh.NAME), or "" for content

    @property
    def victim(self) -> str:
        """What a ``.wh.NAME`` whiteout deletes."""
        parent, name = posixpath.split(self.rel)
        return posixpath.join(parent, name[len(WH_PREFIX):])


def _refuse(message: str) -> InvalidArgument:
    return InvalidArgument(f"invalid archive: {message}")


def check(members: Iterable[tarfile.TarInfo], plain: bool = False) -> list[Member]:
    """Every member checked against the rules extraction enforces, in archive order.

    Refused: absolute paths, ``..`` escapes, a member below a symlink or a non-directory
    that the same archive made (symlink-then-write), a hardlink out of the archive or to
    something it does not hold, a whiteout that names ``.``/``..``. Later duplicates
    replace earlier ones, as when extracting.
    """
    out: list[Member] = []
    kinds: dict[str, str] = {}  # rel → "d" (directory), "l" (symlink), "f" (anything else)
    blockers: set[str] = set()  # paths this archive made into something one cannot enter

    def below_blocker(rel: str, what: str) -> None:
        if not blockers:
            return
        parts = rel.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in blockers:
                how = "through symlink" if kinds.get(prefix) == "l" else "below non-directory"
                raise _refuse(f"{what} {rel!r} would be written {how} {prefix!r}")

    def made(rel: str, kind: str) -> None:
        if kinds.get(rel) == "d" and kind != "d":  # a directory replaced: its contents go
            gone = [b for b in blockers if b.startswith(rel + "/")]
            blockers.difference_update(gone)
        kinds[rel] = kind
        if kind == "d":
            blockers.discard(rel)
        else:
            blockers.add(rel)

    for m in members:
        rel = member_path(m.name)
        name = posixpath.basename(rel)
        if not plain and name.startswith(WH_PREFIX):
            if name.startswith(WH_META) and name != WH_OPAQUE:
                continue
            below_blocker(rel, "whiteout")
            if name == WH_OPAQUE:
                out.append(Member(m, rel, "opaque"))
                continue
            target = name[len(WH_PREFIX):]
            if target in ("", ".", ".."):
                raise _refuse(f"whiteout {rel!r} names no file")
            out.append(Member(m, rel, "file"))
            continue
        if not rel:
            if m.isdir():
                out.append(Member(m, rel))
            continue
        below_blocker(rel, "member")
        if m.islnk():
            target = member_path(m.linkname)
            below_blocker(target, "hardlink target")
            if not plain and kinds.get(target) not in ("f", "l"):
                raise _refuse(f"hardlink {rel!r} points at {m.linkname!r}, which is not a "
                              "file earlier in the same layer")
            made(rel, "f")
        elif m.isdir():
            made(rel, "d")
        elif m.issym():
            made(rel, "l")
        elif m.isreg() or m.ischr() or m.isblk() or m.isfifo():
            made(rel, "f")
        else:
            continue  # sockets and unknown kinds are not extracted
        out.append(Member(m, rel))
    return out


# -- extracting ----------------------------------------------------------------------------
class _Extractor:
    """Writes checked members under ``root_fd`` without ever following a symlink."""

    def __init__(self, root_fd: int, whiteouts: Whiteouts, opaque_xattr: str) -> None:
        self.whiteouts = whiteouts
        self.opaque_xattr = opaque_xattr
        self.root_user = ownership.chown_allowed()
        self.owners: dict[str, ownership.IndexEntry] = {}  # symlinks' owners, unprivileged
        self.dirs = tree.DirChain(root_fd)
        self.made: set[str] = set()  # paths this archive wrote (the rest came from below)
        self.dir_meta: dict[str, tuple[tuple[int, int], tarfile.TarInfo]] = {}
        # apply: lower layers' directories this layer writes into without bringing their
        # entry; their times are put back at the end, as the image index records them
        self.lower_times: dict[str, tuple[tuple[int, int], int, int]] = {}
        self.buffer = memoryview(bytearray(CHUNK))  # every file's data passes through it

    def owner(self, m: tarfile.TarInfo) -> tuple[int, int] | None:
        """Who owns what a member makes: its recorded uid/gid as root; nobody else may
        give files away, so an unprivileged extraction keeps its own."""
        return (m.uid, m.gid) if self.root_user else None  # else kept: see ``ownership``

    def parent(self, rel: str) -> tuple[int, str]:
        """(descriptor of the member's directory, its name there), making parents."""
        dirname, name = posixpath.split(rel)
        fd = self.dirs.open(dirname, create=True, replace=self._replace_parent(dirname))
        if self.whiteouts == "apply" and dirname not in self.lower_times:
            st = os.fstat(fd)
            self.lower_times[dirname] = (tree.identity(st), st.st_atime_ns, st.st_mtime_ns)
        return fd, name

    def _replace_parent(self, dirname: str) -> Callable[[int, str], bool]:
        def replace(parent_fd: int, name: str) -> bool:
            # A symlink or file this archive made is refused (``check`` says so first); one
            # from a lower layer (vfs stacks layers in one tree) is hidden by the directory
            # this layer implies, exactly as overlayfs shows it.
            if self.whiteouts == "overlay" and _is_whiteout_at(parent_fd, name):
                # this layer deleted the lower ``name`` and brings its own directory there:
                # in overlayfs's form that is an opaque directory
                tree.clear_at(parent_fd, name)
                os.mkdir(name, 0o755, dir_fd=parent_fd)
                self._opaque_at(parent_fd, name)
                return True
            if self.whiteouts != "apply":
                raise _refuse(f"cannot extract into {dirname!r}: {name!r} there is a symlink "
                              "or a file, not a directory")
            tree.clear_at(parent_fd, name)
            return True
        return replace

    def clear(self, dir_fd: int, name: str, rel: str, keep_dir: bool) -> bool:
        """Make way for a new entry; True if a directory already there is reused."""
        try:
            st = tree.lstat_at(dir_fd, name)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode) and keep_dir:
            return True
        tree.clear_at(dir_fd, name)
        self.dirs.forget(rel)
        return False

    def _opaque_at(self, dir_fd: int, name: str) -> None:
        fd = tree.open_dir_at(dir_fd, name)
        try:
            os.setxattr(fd, self.opaque_xattr, b"y")
        finally:
            os.close(fd)

    def whiteout(self, m: Member) -> None:
        if m.whiteout == "opaque":
            parent = posixpath.dirname(m.rel)
            fd = self.dirs.open(parent, create=True, replace=self._replace_parent(parent))
            if self.whiteouts == "overlay":
                os.setxattr(fd, self.opaque_xattr, b"y")
            else:
                for entry in os.listdir(fd):
                    tree.clear_at(fd, entry)
            return
        dir_fd, name = self.parent(m.victim)
        self.clear(dir_fd, name, m.victim, keep_dir=False)
        if self.whiteouts == "overlay":
            os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dir_fd)

    def entry(self, tf: tarfile.TarFile, m: Member) -> None:
        info, rel = m.info, m.rel
        if rel == "":
            self.dir_meta[""] = (tree.identity(os.fstat(self.dirs.root_fd)), info)
            return
        dir_fd, name = self.parent(rel)
        over_whiteout = self.whiteouts == "overlay" and _is_whiteout_at(dir_fd, name)
        reused = self.clear(dir_fd, name, rel, keep_dir=info.isdir())
        self.made.add(rel)
        if info.isdir():
            if not reused:
                os.mkdir(name, 0o700, dir_fd=dir_fd)
                if over_whiteout:
                    self._opaque_at(dir_fd, name)
            self.dir_meta[rel] = (tree.identity(tree.lstat_at(dir_fd, name)), info)
            return
        if info.isreg():
            src = open_member(tf, info)
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
            try:
                while n := src.readinto(self.buffer):
                    _write_all(fd, self.buffer[:n])
                self.meta_fd(fd, info)
            finally:
                os.close(fd)
        elif info.issym():
            os.symlink(info.linkname, name, dir_fd=dir_fd)
            self.meta_at(dir_fd, name, info, symlink=True)
            if not self.root_user and (kept := ownership.index_entry(info)) is not None:
                self.owners[rel] = kept
        elif info.islnk():
            target = member_path(info.linkname)
            tdir, tname = posixpath.split(target)
            src_fd = os.dup(self.dirs.open(tdir, create=False))
            try:
                try:
                    tree.lstat_at(src_fd, tname)
                except FileNotFoundError:
                    raise _refuse(f"hardlink {rel!r} points at missing "
                                  f"{info.linkname!r}") from None
                dir_fd, name = self.parent(rel)  # reopened: the target's lookup moved on
                os.link(tname, name, src_dir_fd=src_fd, dst_dir_fd=dir_fd,
                        follow_symlinks=False)
            finally:
                os.close(src_fd)
            # a hardlink shares its target's metadata
        elif info.ischr() or info.isblk() or info.isfifo():
            if not info.isfifo() and not self.root_user:
                return  # device nodes need CAP_MKNOD; an unprivileged rootfs does without
            kind = stat.S_IFCHR if info.ischr() else stat.S_IFBLK if info.isblk() \
                else stat.S_IFIFO
            os.mknod(name, kind | 0o600, os.makedev(info.devmajor, info.devminor),
                     dir_fd=dir_fd)
            self.meta_at(dir_fd, name, info, symlink=False)

    def meta_fd(self, fd: int, m: tarfile.TarInfo) -> None:
        """Owner, xattrs, mode and times of the inode open at ``fd``."""
        owner = self.owner(m)
        if owner is not None:
            os.fchown(fd, *owner)
        else:
            ownership.keep_fd(fd, m)
        for key, value in _xattrs(m):
            with contextlib.suppress(OSError):
                os.setxattr(fd, key, value)
        os.fchmod(fd, m.mode & 0o7777)
        os.utime(fd, (m.mtime, m.mtime))

    def meta_at(self, dir_fd: int, name: str, m: tarfile.TarInfo, symlink: bool) -> None:
        """The same for an inode that cannot be opened safely (a symlink, a device node, a
        fifo): every call with ``AT_SYMLINK_NOFOLLOW`` on the name just made."""
        owner = self.owner(m)
        if owner is not None:
            os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)
        for key, value in _xattrs(m):
            with contextlib.suppress(OSError):
                os.setxattr(f"/proc/self/fd/{dir_fd}/{name}", key, value, follow_symlinks=False)
        if not symlink:
            os.chmod(name, m.mode & 0o7777, dir_fd=dir_fd, follow_symlinks=False)
        os.utime(name, (m.mtime, m.mtime), dir_fd=dir_fd, follow_symlinks=False)

    def finish(self) -> None:
        """Directories' saved metadata, deepest first (so a parent's time is not undone by
        its children), each applied to the directory that was made for it or skipped if
        that directory is not there any more."""
        lower = {rel: v for rel, v in self.lower_times.items() if rel not in self.dir_meta}
        for rel in sorted({*self.dir_meta, *lower}, key=lambda r: r.count("/") if r else -1,
                          reverse=True):
            ident = self.dir_meta[rel][0] if rel in self.dir_meta else lower[rel][0]
            fd = self._dir_fd(rel)
            if fd is None:
                continue
            try:
                if tree.identity(os.fstat(fd)) != ident:
                    continue
                if rel in self.dir_meta:
                    self.meta_fd(fd, self.dir_meta[rel][1])
                else:
                    os.utime(fd, ns=lower[rel][1:])
            finally:
                os.close(fd)
        self.dirs.close()

    def _dir_fd(self, rel: str) -> int | None:
        """The directory at ``rel`` (None if it is not there any more)."""
        try:
            if not rel:
                return os.dup(self.dirs.root_fd)
            parent, name = posixpath.split(rel)
            return tree.open_dir_at(self.dirs.open(parent, create=False), name)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                return None
            raise


def _is_whiteout_at(dir_fd: int, name: str) -> bool:
    """An overlayfs whiteout (0/0 character device) this extraction made at ``name``."""
    try:
        st = tree.lstat_at(dir_fd, name)
    except FileNotFoundError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _xattrs(m: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    return [(key[13:], value.encode("utf-8", "surrogateescape"))
            for key, value in m.pax_headers.items()
            if key.startswith("SCHILY.xattr.") and ownership.tar_xattr_allowed(key[13:])]


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def extract(
    fileobj: BinaryIO,
    root: Path,
    whiteouts: Whiteouts,
    opaque_xattr: str = "trusted.overlay.opaque",
) -> dict[str, ownership.IndexEntry]:
    """Extract a layer tar (or, with ``whiteouts="plain"``, any archive) into ``root``;
    returns the owners an unprivileged extraction could keep neither on disk nor in an
    xattr (symlinks': see ``ownership``).

    Whiteouts are processed before content so that an opaque marker never hides files of
    the same layer, whatever order the writer chose.
    """
    tf = open_tar(fileobj)
    try:
        with tree.opened_dir(root) as root_fd:
            members = check(tf.getmembers(), plain=whiteouts == "plain")
            ex = _Extractor(root_fd, whiteouts, opaque_xattr)
            try:
                for m in members:
                    if m.whiteout:
                        ex.whiteout(m)
                for m in members:
                    if not m.whiteout:
                        ex.entry(tf, m)
                ex.finish()
                return ex.owners
            finally:
                ex.dirs.close()
    except tarfile.TarError as e:
        raise InvalidArgument(f"invalid archive: {e}") from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise InvalidArgument(f"invalid archive: cannot extract: {e}") from None


class TarStream:
    """A PAX tar written straight to a sink, byte for byte what ``tarfile``'s stream mode
    (``"w|"``) writes, without its cost: that mode's buffer re-copies everything it holds
    each time it passes 10 KiB on (quadratic in the size of each write), which was most of
    the time ``commit`` and ``save`` of a big layer took. Here a member's data goes from
    its file to the sink through one reused buffer, or with ``sendfile`` (no copy through
    Python at all) when the sink is a plain file, pipe or socket.
    """

    def __init__(self, out: Sink) -> None:
        self.out = out
        self.offset = 0
        self._buffer = memoryview(bytearray(CHUNK))
        self._out_fd = _plain_fd(out)

    def _write(self, data: bytes | memoryview) -> None:
        self.out.write(cast(bytes, data))  # bytes-like: see ``Sink``
        self.offset += len(data)

    def _header(self, info: tarfile.TarInfo) -> None:
        self._write(info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape"))

    def _pad(self, size: int) -> None:
        if size % tarfile.BLOCKSIZE:
            self._write(bytes(tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE))

    def add(self, info: tarfile.TarInfo, data: bytes = b"") -> None:
        """A member whose data (``info.size`` bytes, none for all but regular files) is in
        memory."""
        self._header(info)
        if data:
            self._write(data)
            self._pad(len(data))

    def add_fd(self, info: tarfile.TarInfo, fd: int) -> None:
        """A regular file's member with ``info.size`` bytes read from ``fd`` (its current
        position): zeros if the file shrank meanwhile, cut if it grew, so the tar stays
        well formed whatever a running container does to the file."""
        self._header(info)
        left = info.size
        if self._out_fd is not None and left:
            left = self._sendfile(fd, left)
        while left > 0:
            view = self._buffer[: min(left, CHUNK)]
            got = os.readv(fd, [view])
            if not got:
                break
            self._write(view[:got])
            left -= got
        while left > 0:  # the file shrank under us
            zeros = bytes(min(left, CHUNK))
            self._write(zeros)
            left -= len(zeros)
        self._pad(info.size)

    def _sendfile(self, fd: int, left: int) -> int:
        """Copy in the kernel; returns what is left to copy: the file ended early, or the
        sink refuses ``sendfile`` (``O_APPEND``…), and then the caller goes on from where
        this stopped (both descriptors' positions moved with what was sent)."""
        assert self._out_fd is not None
        flush = getattr(self.out, "flush", None)
        if flush is not None:
            flush()
        while left > 0:
            try:
                sent = os.sendfile(self._out_fd, fd, None, min(left, 1 << 30))
            except OSError as e:
                if e.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                    raise
                self._out_fd = None
                return left
            if not sent:
                break
            self.offset += sent
            left -= sent
        return left

    def close(self) -> None:
        """The end-of-archive blocks, padded to a whole record as ``tarfile`` does (the
        sink itself stays open)."""
        self._write(bytes(tarfile.BLOCKSIZE * 2))
        if self.offset % tarfile.RECORDSIZE:
            self._write(bytes(tarfile.RECORDSIZE - self.offset % tarfile.RECORDSIZE))


def _plain_fd(out: Sink) -> int | None:
    """The descriptor behind ``out`` if writing to it directly is the same as writing to
    ``out`` (a file object of the ``io`` module: ``GzipFile`` also has a ``fileno``, of
    the file under the compression)."""
    if not isinstance(out, io.BufferedWriter | io.FileIO):
        return None
    try:
        return out.fileno()
    except (OSError, ValueError):
        return None


class TarWriter:
    """Adds entries of a tree to a tar by descriptor: hardlinks kept, owners numeric, no
    passwd lookups (``TarFile.gettarinfo`` resolves user names for every file, which
    dominates on big trees).

    The tree may be a running container's: a regular file is opened with ``O_NOFOLLOW``
    relative to its directory and described by the ``fstat`` of the very descriptor that
    is read, so a file swapped for a symlink to a host file meanwhile is archived as that
    symlink (or skipped), never read through; a file that shrinks is padded, one that grows
    is cut at the size in its header.
    """

    def __init__(self, out: Sink, owners: ownership.Recorder | None = None) -> None:
        # only ever written forwards: the output may be a pipe or a socket
        self.tar = TarStream(out)
        self.inodes: dict[tuple[int, int], str] = {}
        self.owners = owners  # an unprivileged store's: who owns a file in the image

    def add(self, dir_fd: int, name: str, arcname: str) -> None:
        """The entry ``name`` of the directory ``dir_fd``; gone meanwhile is skipped."""
        try:
            st = tree.lstat_at(dir_fd, name)
        except FileNotFoundError:
            return
        fmt = stat.S_IFMT(st.st_mode)
        if fmt == stat.S_IFREG:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
                             | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOENT, errno.ENXIO):
                    raise
                return self.add_stat(dir_fd, name, arcname, None)  # it changed: describe anew
            try:
                fst = os.fstat(fd)
                if not stat.S_ISREG(fst.st_mode):
                    return self.add_stat(dir_fd, name, arcname, fst)
                self.add_file(fd, fst, arcname)
            finally:
                os.close(fd)
            return
        self.add_stat(dir_fd, name, arcname, st)

    def _info(self, arcname: str, st: os.stat_result) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(arcname)
        ti.mode, ti.uid, ti.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        ti.mtime = int(st.st_mtime)
        return ti

    def add_file(self, fd: int, st: os.stat_result, arcname: str) -> None:
        ti = self._info(arcname, st)
        if self.owners is not None:
            ti.uid, ti.gid = self.owners.owner(arcname, st, ownership.override(fd))
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.inodes:
            ti.type, ti.linkname = tarfile.LNKTYPE, self.inodes[key]
            self.tar.add(ti)
            return
        self.inodes[key] = arcname
        ti.size = st.st_size
        self.tar.add_fd(ti, fd)

    def add_stat(self, dir_fd: int, name: str, arcname: str,
                 st: os.stat_result | None) -> None:
        """A non-regular entry (directory, symlink, device, fifo) from its ``lstat``."""
        if st is None or stat.S_ISREG(st.st_mode):
            try:
                st = tree.lstat_at(dir_fd, name)
            except FileNotFoundError:
                return
            if stat.S_ISREG(st.st_mode):
                return  # swapped back and forth under us: leave it out
        ti = self._info(arcname, st)
        fmt = stat.S_IFMT(st.st_mode)
        if fmt == stat.S_IFDIR:
            ti.type = tarfile.DIRTYPE
        elif fmt == stat.S_IFLNK:
            try:
                ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=dir_fd)
            except OSError:
                return
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            ti.type = tarfile.CHRTYPE if fmt == stat.S_IFCHR else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif fmt == stat.S_IFIFO:
            ti.type = tarfile.FIFOTYPE
        else:
            return  # sockets cannot be archived; Docker skips them too
        if self.owners is not None:
            kept = None
            if fmt == stat.S_IFDIR:
                fd = tree.open_dir_at(dir_fd, name)
                try:
                    kept = ownership.override(fd)
                finally:
                    os.close(fd)
            ti.uid, ti.gid = self.owners.owner(arcname, st, kept, ti.linkname)
        self.tar.add(ti)

    def close(self) -> None:
        self.tar.close()


def write_changes(out: Sink, root_fd: int, changes: Iterable[Change],
                  opaque_dirs: Iterable[str] = (),
                  owners: ownership.Recorder | None = None) -> None:
    """Write a layer tar of ``changes`` (read below the directory ``root_fd``, never
    through a symlink) with OCI whiteouts."""
    opaque = set(opaque_dirs)
    w = TarWriter(out, owners)
    dirs = tree.DirChain(root_fd)
    try:
        for ch in sorted(changes, key=lambda c: c.path):
            rel = ch.path.lstrip("/")
            parent, name = posixpath.split(rel)
            if ch.kind == "D":
                w.tar.add(tarfile.TarInfo(posixpath.join(parent, WH_PREFIX + name)))
                continue
            if name.startswith(WH_PREFIX):
                continue  # a file named .wh.*: no layer can hold it (read as a whiteout)
            try:
                dir_fd = dirs.open(parent, create=False)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                    continue  # its directory changed since the diff: nothing safe to read
                raise
            w.add(dir_fd, name, rel)
            if ch.path in opaque:
                w.tar.add(tarfile.TarInfo(posixpath.join(rel, WH_OPAQUE)))
    finally:
        dirs.close()
    w.close()


def write_tree(out: Sink, root_fd: int, owners: ownership.Recorder | None = None) -> None:
    """Write the whole tree below the directory ``root_fd`` as one flat tar (``docker
    export``), by descriptor and without recursion (deep trees, live containers)."""
    w = TarWriter(out, owners)
    for entry in tree.walk(root_fd):
        w.add(entry.dir_fd, entry.name, entry.rel)
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
