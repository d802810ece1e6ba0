"""COPY and ADD into a step container's root filesystem, never outside it.

Every destination path is resolved inside the rootfs as the container would see it
(symlinks, even absolute ones, stay within the root), so an image whose ``/app`` is a
symlink to ``/etc`` or ``/../../host`` cannot make the builder write on the host. Existing
symlinks are replaced, never written through.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import posixpath
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgument
from ..fs.securejoin import host_path, resolve
from ..oci.compression import seekable_plain

CHUNK = 1 << 20


class CopyError(InvalidArgument):
    """A copy Docker would refuse: bad --chown/--chmod, a file over a directory, …"""


@dataclass(frozen=True)
class Entry:
    """A file, directory or symlink to copy: ``rel`` inside its source, ``host`` to read."""

    rel: str
    host: str
    st: os.stat_result

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


Walker = Callable[[Entry], Iterator[Entry]]


@dataclass
class Source:
    """One COPY/ADD source after lookup: a host entry (file or directory, with the walker
    that lists a directory), or inline ``data`` from a heredoc."""

    name: str  # the file name used when copying a file into a directory
    entry: Entry | None = None
    walk: Walker | None = None
    data: bytes | None = None
    archive: bool = False  # ADD of a local tar: unpack it instead of copying it


def walk_tree(entry: Entry) -> Iterator[Entry]:
    """Everything below a directory, parents first, symlinks not followed."""
    for dirpath, dirnames, filenames in os.walk(entry.host):
        dirnames.sort()
        sub = os.path.relpath(dirpath, entry.host)
        for name in dirnames + sorted(filenames):
            inner = name if sub == "." else f"{sub}/{name}"
            host = os.path.join(dirpath, name)
            yield Entry(inner, host, os.lstat(host))


# -- paths inside a root ------------------------------------------------------------------
def lstat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def chown(host: str, owner: tuple[int, int]) -> None:
    """Set ownership: a real chown as root, else kept where an unprivileged store keeps
    owners (``oci.ownership``), so the layer still records them."""
    from ..oci.ownership import set_owner

    set_owner(host, *owner)


def ensure_dir(root: str, path: str, owner: tuple[int, int]) -> tuple[str, bool]:
    """``mkdir -p`` inside the root; new directories 0755 owned by ``owner``. Returns the
    host path and whether the last component was created.

    The path is resolved inside the root first, so a destination below a symlink goes
    where the link points within the root, and a dangling link's missing target is made
    there (as Docker's MkdirAll in the container's root does), never on the host."""
    canonical = resolve(root, path)
    current = root
    created = False
    for part in [p for p in canonical.split("/") if p]:
        host = os.path.join(current, part)
        st = lstat_or_none(host)
        created = st is None
        if st is None:
            os.mkdir(host, 0o755)
            chown(host, owner)
        elif not stat.S_ISDIR(st.st_mode):
            raise CopyError(f"mkdir {canonical}: not a directory")
        current = host
    return current, created


# -- ownership and modes -------------------------------------------------------------------
def parse_chmod(spec: str) -> int | None:
    if not spec:
        return None
    if not all(c in "01234567" for c in spec) or len(spec) > 4:
        raise CopyError(f"invalid chmod parameter: '{spec}'; only octal modes like 0755 are "
                        "supported")
    return int(spec, 8)


def resolve_owner(root: str, spec: str) -> tuple[int, int]:
    """``--chown=user[:group]`` against the destination image's own passwd and group
    files; as in Docker, a group left out is looked up by the user's name or number."""
    from ..runtime.users import UnknownUser
    from ..runtime.users import resolve as lookup

    if not spec:
        return (0, 0)
    user, _, group = spec.partition(":")

    def table(name: str) -> str:
        path = host_path(root, resolve(root, f"/etc/{name}"))
        st = lstat_or_none(path)
        return path if st and stat.S_ISREG(st.st_mode) else os.devnull

    try:
        found = lookup(f"{user}:{group or user}", table("passwd"), table("group"))
    except UnknownUser as e:
        raise CopyError(f"unable to convert uid/gid chown string to host mapping: {e}") from None
    return found.uid, found.gid


# -- content hashes --------------------------------------------------------------------------
def file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def source_hash(src: Source) -> tuple[str, str]:
    """(what Docker's history shows: ``file:<sha256 of the content>`` or ``dir:<sha256>``
    of the tree listing, a digest of what else the copy keeps: modes and link targets).
    The second goes into the cache key, so ``chmod +x`` alone busts the cache too."""
    if src.data is not None:
        return "file:" + hashlib.sha256(src.data).hexdigest(), "inline"
    entry = src.entry
    assert entry is not None
    if not entry.is_dir:
        return "file:" + file_digest(entry.host), f"{stat.S_IMODE(entry.st.st_mode):o}"
    h = hashlib.sha256()
    assert src.walk is not None
    for e in src.walk(entry):
        mode = e.st.st_mode
        if stat.S_ISREG(mode):
            content = file_digest(e.host)
        elif stat.S_ISLNK(mode):
            content = os.readlink(e.host)
        else:
            content = ""
        h.update(f"{e.rel}\0{stat.S_IFMT(mode):o}\0{stat.S_IMODE(mode):o}\0{content}\n"
                 .encode("utf-8", "surrogateescape"))
    return "dir:" + h.hexdigest(), f"{stat.S_IMODE(entry.st.st_mode):o}"


# -- copying ---------------------------------------------------------------------------------
class Copier:
    """Writes sources into ``root`` with Docker's ownership (``owner``, default 0:0), the
    sources' modes (or ``chmod``) and modification times."""

    def __init__(self, root: str, owner: tuple[int, int], chmod: int | None) -> None:
        self.root = root
        self.owner = owner
        self.chmod = chmod
        self.links: dict[tuple[int, int], str] = {}  # (dev, ino) → first copy: hardlinks
        self.dir_times: list[tuple[str, int, tuple[int, int]]] = []

    def _clear(self, host: str, for_dir: bool) -> bool:
        """Make way for a new entry; True if a directory already there is to be reused."""
        st = lstat_or_none(host)
        if st is None:
            return False
        if stat.S_ISDIR(st.st_mode):
            if for_dir:
                return True
            raise CopyError(f"cannot overwrite directory {self._inside(host)!r} with "
                            "non-directory")
        os.unlink(host)
        return False

    def _inside(self, host: str) -> str:
        return "/" + os.path.relpath(host, self.root)

    def _finish(self, host: str, st: os.stat_result | None, mode: int, symlink: bool) -> None:
        chown(host, self.owner)
        if not symlink:
            os.chmod(host, self.chmod if self.chmod is not None else mode,
                     follow_symlinks=False)
        if st is not None:
            os.utime(host, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)

    def file(self, src: Source | Entry, host: str) -> None:
        """One regular file (or symlink, fifo) at ``host``, whose parent is a real
        directory inside the root."""
        entry = src if isinstance(src, Entry) else src.entry
        if isinstance(src, Source) and src.data is not None:
            self._clear(host, for_dir=False)
            fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(src.data)
            self._finish(host, None, 0o644, symlink=False)
            return
        assert entry is not None
        st = entry.st
        self._clear(host, for_dir=False)
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and (st.st_dev, st.st_ino) in self.links:
            os.link(self.links[(st.st_dev, st.st_ino)], host, follow_symlinks=False)
            return
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(entry.host), host)
            self._finish(host, st, 0, symlink=True)
            return
        if stat.S_ISFIFO(st.st_mode):
            os.mkfifo(host, 0o600)
        elif stat.S_ISREG(st.st_mode):
            _copy_content(entry.host, host)
            if st.st_nlink > 1:
                self.links[(st.st_dev, st.st_ino)] = host
        else:
            return  # sockets and device nodes are not copied
        self._finish(host, st, stat.S_IMODE(st.st_mode), symlink=False)

    def tree(self, src: Source, dest: str) -> None:
        """A directory's contents (not the directory itself) into ``dest``."""
        assert src.entry is not None and src.walk is not None
        host, created = ensure_dir(self.root, dest, self.owner)
        if created:
            self._finish(host, None, stat.S_IMODE(src.entry.st.st_mode), symlink=False)
            self._dir_time(host, src.entry.st.st_mtime_ns)
        dirs = {"": host}
        for e in src.walk(src.entry):
            parent, name = posixpath.split(e.rel)
            if parent not in dirs:  # below a directory .dockerignore left out
                dirs[parent], _ = ensure_dir(self.root, posixpath.join(
                    self._inside(host), parent), self.owner)
            target = os.path.join(dirs[parent], name)
            if e.is_dir:
                dirs[e.rel] = self._dir(target, e)
            else:
                self.file(e, target)

    def _dir(self, host: str, e: Entry) -> str:
        st = lstat_or_none(host)
        if st is not None and stat.S_ISLNK(st.st_mode):
            canonical = resolve(self.root, self._inside(host))
            target = host_path(self.root, canonical)
            tst = lstat_or_none(target)
            if tst is not None and stat.S_ISDIR(tst.st_mode):
                return target  # /lib → usr/lib: copy into what the image links to
        if self._clear(host, for_dir=True):
            return host
        os.mkdir(host, 0o700)
        self._finish(host, None, stat.S_IMODE(e.st.st_mode), symlink=False)
        self._dir_time(host, e.st.st_mtime_ns)
        return host

    def _dir_time(self, host: str, mtime: int) -> None:
        st = os.lstat(host)
        self.dir_times.append((host, mtime, (st.st_dev, st.st_ino)))

    def done(self) -> None:
        """Directory times last, deepest first, so writing their contents does not undo it;
        each to the directory made for it (same device and inode), never to whatever its
        name points at by then."""
        for host, mtime, ident in sorted(self.dir_times, key=lambda x: x[0].count("/"),
                                         reverse=True):
            st = lstat_or_none(host)
            if st is not None and stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) == ident:
                os.utime(host, ns=(mtime, mtime), follow_symlinks=False)


def _copy_content(src: str, dst: str) -> None:
    with open(src, "rb") as fin:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            size = os.fstat(fin.fileno()).st_size
            offset = 0
            while offset < size:
                sent = os.sendfile(fd, fin.fileno(), offset, min(size - offset, 1 << 30))
                if sent == 0:
                    break
                offset += sent
        finally:
            os.close(fd)


def copy_sources(root: str, sources: list[Source], dest: str, owner: tuple[int, int],
                 chmod: int | None, what: str) -> None:
    """Docker's destination rules: a directory source's contents go into ``dest``; a file
    goes to ``dest`` itself, or into it when ``dest`` ends with ``/`` or is a directory;
    an archive (ADD) is unpacked into ``dest``."""
    if len(sources) > 1 and not dest.endswith("/"):
        raise CopyError(f"When using {what} with more than one source file, the destination "
                        "must be a directory and end with a /")
    copier = Copier(root, owner, chmod)
    for src in sources:
        if src.entry is not None and src.entry.is_dir:
            copier.tree(src, dest)
        elif src.archive:
            assert src.entry is not None
            host, _ = ensure_dir(root, dest, owner)
            extract_archive(src.entry.host, host)
        else:
            canonical = resolve(root, dest)
            existing = lstat_or_none(host_path(root, canonical))
            into = dest.endswith("/") or (existing is not None and stat.S_ISDIR(existing.st_mode))
            target = posixpath.join(dest, src.name) if into else dest
            parent, name = posixpath.split(posixpath.normpath(target))
            parent_host, _ = ensure_dir(root, parent, owner)
            copier.file(src, os.path.join(parent_host, name))
    copier.done()


# -- archives --------------------------------------------------------------------------------
def is_archive(path: str) -> bool:
    """Docker's ADD test: a tar, plain or gzip/bzip2/xz-compressed, with a first header."""
    import tarfile

    try:
        with tarfile.open(path, "r:*") as tf:
            return tf.next() is not None
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError):
        return False


def extract_archive(path: str, dest_host: str) -> None:
    """ADD of a local tar: unpacked into the directory as a plain archive (``.wh.`` names
    are files: whiteouts are layer syntax, not archive syntax), safely (layertar refuses
    members that escape it or would be written through a symlink)."""
    from ..oci import layertar

    with open(path, "rb") as f, seekable_plain(f, f"ADD {path}") as plain:
        layertar.extract(plain, Path(dest_host), "plain")
