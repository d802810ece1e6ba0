"""``docker cp``: files in and out of a container as tar streams, by descriptor, inside
its root (Docker's ``/containers/{id}/archive``: stat, get, put).

Where the files are read or written:

- a running container (root and rootless modes): ``/proc/<pid>/root``, the container's
  own view, its volumes, binds and tmpfs mounts included;
- a stopped one (or any in PRoot mode, whose processes keep the host's root): the
  snapshot driver's view, and for a path below a volume or a bind its host directory,
  as Docker mounts a stopped container's volumes for ``cp``.

A path is resolved by the one secure join (symlinks followed *within* the root, ``..``
stopping there), then its directory is opened component by component with
``O_NOFOLLOW`` (``fs.tree.DirChain``): a symlink the container swaps in meanwhile is
refused by the kernel, never followed out. Reading goes through ``layertar.TarWriter``,
writing through ``layertar.extract`` (every member checked before the first is written,
so a bad archive writes nothing). In a rootless store all of it runs in the keeper's
namespaces (``engine.in_store``), where the container's files are all reachable.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from ..errors import InvalidArgument, NotFound
from ..fs import securejoin, tree
from ..oci import layertar
from ..store.containers import Container

if TYPE_CHECKING:
    from .engine import Engine


@dataclass
class PathStat:
    """Docker's ``X-Docker-Container-Path-Stat``: what a container path is."""

    name: str
    size: int
    mode: int
    mtime: int
    link_target: str = ""

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


def spool() -> BinaryIO:
    """A temporary file for a tar on its way (tar reading needs to seek)."""
    return cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=8 << 20))


def retar(src: BinaryIO, out: BinaryIO, old_top: str = "", new_top: str | None = None,
          owner: tuple[int, int] | None = None) -> None:
    """Copy a tar stream, renaming its top entry ``old_top`` to ``new_top`` ("" drops it:
    its contents come out at the top, ``cp SRC/. DEST``), and with ``owner`` every
    member's uid/gid replaced (Docker's cp: 0:0 into a container unless ``-a``, the
    caller's own out of it). Reads ``src`` as a stream: stdin will do."""

    def rebase(name: str) -> str | None:
        name = posixpath.normpath(name.lstrip("/")) if name not in ("", ".") else ""
        if new_top is None or not old_top:
            return name
        if name == old_top:
            return new_top or None
        if name.startswith(old_top + "/"):
            rest = name[len(old_top) + 1:]
            return f"{new_top}/{rest}" if new_top else rest
        return name

    try:
        with tarfile.open(fileobj=src, mode="r|") as tin, \
                tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tout:
            for m in tin:
                name = rebase(m.name)
                if not name:
                    continue
                m.name = name
                if m.islnk():
                    m.linkname = rebase(m.linkname) or m.linkname
                if owner is not None:
                    m.uid, m.gid = owner
                    m.uname = m.gname = ""
                tout.addfile(m, tin.extractfile(m) if m.isreg() else None)
    except tarfile.TarError as e:
        raise InvalidArgument(f"invalid archive: {e}") from None


class Copies:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- where a container's path is -----------------------------------------------------
    @contextlib.contextmanager
    def _root(self, c: Container) -> Iterator[tuple[str, bool]]:
        """(a host path of the container's root, whether it shows its mounts)."""
        live = c.State.Running and self.engine.tasks.runtime(c)["mode"] != "proot"
        if live:
            yield f"/proc/{c.State.Pid}/root", True
            return
        with self.engine.containers.rootfs(c) as root:
            yield root, False

    def _sources(self, c: Container) -> list[tuple[str, str]]:
        """(destination, host source) of the container's binds and volumes, deepest
        destination first."""
        out = [(dest, source) for source, dest in self.engine.volumes.binds(c)]
        return sorted(out, key=lambda m: m[0].count("/"), reverse=True)

    def _locate(self, c: Container, root: str, shows_mounts: bool, path: str,
                follow: bool) -> tuple[str, str]:
        """(the root that holds ``path``, its canonical path below that root)."""
        canonical = securejoin.resolve(root, path, follow_last=follow)
        if shows_mounts:
            return root, canonical
        for dest, source in self._sources(c):
            if canonical == dest or canonical.startswith(dest.rstrip("/") + "/"):
                rest = canonical[len(dest):]
                return source, securejoin.resolve(source, rest or "/", follow_last=follow)
        return root, canonical

    def _missing(self, c: Container, path: str) -> NotFound:
        return NotFound(f"Could not find the file {path} in container {c.Name}")

    @contextlib.contextmanager
    def _open(self, c: Container, path: str, follow: bool) -> Iterator[tuple[int, str, str]]:
        """(descriptor of the directory holding ``path``, the name there or "" for the
        root, the canonical path) in the container; a missing parent is Docker's error."""
        with self._root(c) as (root, live):
            where, canonical = self._locate(c, root, live, path, follow)
            parent, base = posixpath.split(canonical.lstrip("/"))
            with tree.opened_dir(where) as root_fd:
                chain = tree.DirChain(root_fd)
                try:
                    try:
                        fd = chain.open(parent, create=False)
                    except OSError:
                        raise self._missing(c, path) from None
                    yield fd, base, canonical
                finally:
                    chain.close()

    # -- stat, get, put ------------------------------------------------------------------
    def stat(self, name: str, path: str, follow: bool = False) -> PathStat:
        """What ``path`` is in the container (``-L``: a final symlink followed)."""
        c = self.engine.containers.get(name)
        return self.engine.in_store(self._stat, c, path, follow)

    def _stat(self, c: Container, path: str, follow: bool) -> PathStat:
        with self._open(c, path, follow) as (dir_fd, base, canonical):
            try:
                st = tree.lstat_at(dir_fd, base) if base else os.fstat(dir_fd)
            except FileNotFoundError:
                raise self._missing(c, path) from None
            link = os.readlink(base, dir_fd=dir_fd) if stat.S_ISLNK(st.st_mode) else ""
        return PathStat(posixpath.basename(canonical) or "/", st.st_size, st.st_mode,
                        int(st.st_mtime), link)

    def archive(self, name: str, path: str, out: layertar.Sink,
                follow: bool = False) -> PathStat:
        """``path`` as a tar on ``out``, its top entry named as its last component (a
        directory with all below it), as Docker's archive endpoint sends it."""
        c = self.engine.containers.get(name)
        found = self.stat(c.ID, path, follow)
        self.engine.stream_from_store(lambda sink: self._archive(c, path, follow, sink), out)
        return found

    def _archive(self, c: Container, path: str, follow: bool, out: layertar.Sink) -> None:
        with self._open(c, path, follow) as (dir_fd, base, _):
            w = layertar.TarWriter(out)
            try:
                if not base:  # the root itself: its contents
                    for entry in tree.walk(dir_fd):
                        w.add(entry.dir_fd, entry.name, entry.rel)
                    return
                w.add(dir_fd, base, base)
                with contextlib.suppress(OSError):  # not a directory (or gone): done
                    sub = tree.open_dir_at(dir_fd, base)
                    try:
                        for entry in tree.walk(sub):
                            w.add(entry.dir_fd, entry.name, f"{base}/{entry.rel}")
                    finally:
                        os.close(sub)
            finally:
                w.close()

    def extract(self, name: str, path: str, archive: BinaryIO,
                copy_uid_gid: bool = False) -> None:
        """Unpack the tar ``archive`` into the container's directory ``path`` (Docker's
        PUT archive): owners 0:0 unless ``copy_uid_gid`` (``cp -a``). The archive is read
        whole and checked before anything is written."""
        c = self.engine.containers.get(name)
        owned = spool()
        retar(archive, owned, owner=None if copy_uid_gid else (0, 0))
        owned.seek(0)
        self.engine.in_store(self._extract, c, path, owned)

    def _extract(self, c: Container, path: str, archive: BinaryIO) -> None:
        with self._open(c, path, True) as (dir_fd, base, _):
            try:
                fd = tree.open_dir_at(dir_fd, base) if base else os.dup(dir_fd)
            except FileNotFoundError:
                raise self._missing(c, path) from None
            except OSError:
                raise InvalidArgument(f"extraction point is not a directory: {path} in "
                                      f"container {c.Name}") from None
            try:
                layertar.extract(archive, Path(f"/proc/self/fd/{fd}"), "plain")
            except InvalidArgument as e:
                if "Read-only file system" in str(e):
                    raise InvalidArgument("container rootfs is marked read-only") from None
                raise
            finally:
                os.close(fd)
