"""The ``vfs`` driver: a plain copy of the image per container; works with no privilege.

There is no upper directory to read changes from, so ``changes`` compares the container's
tree with an index of the image's layers, as Docker's naive diff does.
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
from pathlib import Path
from typing import Any, NamedTuple

from ..fs import tree
from ..fs.atomic import atomic_write, private_dir
from ..oci import layertar, ownership
from ..oci.changes import Change
from ..store.journal import discard
from ..store.layers import Layer
from . import SnapshotDriver


class Entry(NamedTuple):
    kind: int  # stat.S_IFMT bits
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    link: str


def _tar_kind(m: Any) -> int:
    if m.isdir():
        return stat.S_IFDIR
    if m.issym():
        return stat.S_IFLNK
    if m.ischr():
        return stat.S_IFCHR
    if m.isblk():
        return stat.S_IFBLK
    if m.isfifo():
        return stat.S_IFIFO
    return stat.S_IFREG


def image_index(layers: list[Layer], open_tar: Any) -> dict[str, Entry]:
    """What the unified view of ``layers`` contains, built from the layer tars alone."""
    index: dict[str, Entry] = {}
    for layer in layers:
        with open_tar(layer) as f:
            members = [(m, layertar.member_path(m.name)) for m in layertar.open_tar(f)]
        for _m, rel in members:
            parent, name = posixpath.split(rel)
            if name == layertar.WH_OPAQUE:
                prefix = parent + "/" if parent else ""
                for key in [k for k in index if k.startswith(prefix) and k != parent]:
                    del index[key]
            elif name.startswith(layertar.WH_PREFIX):
                victim = posixpath.join(parent, name[len(layertar.WH_PREFIX) :])
                for key in [k for k in index if k == victim or k.startswith(victim + "/")]:
                    del index[key]
        for m, rel in members:
            if not rel or posixpath.basename(rel).startswith(layertar.WH_PREFIX):
                continue
            if m.islnk():  # a hardlink is its target's inode
                src = index.get(layertar.member_path(m.linkname))
                if src:
                    index[rel] = src
                continue
            index[rel] = Entry(_tar_kind(m), m.mode & 0o7777, m.uid, m.gid,
                               m.size if m.isreg() else 0, int(m.mtime), m.linkname)
    return index


class VfsDriver(SnapshotDriver):
    name = "vfs"

    def rootfs(self, cid: str) -> Path:
        return self.dir(cid) / "rootfs"

    def prepare(self, cid: str, chain: list[Layer], disposable: bool = False) -> None:
        root = self.rootfs(cid)
        private_dir(self.dir(cid))
        root.mkdir()
        os.chmod(root, 0o755)
        owners: dict[str, ownership.IndexEntry] = {}
        for layer in chain:
            with self.layers.open_tar(layer) as f:
                owners.update(layertar.extract(f, root, "apply"))
        if owners:  # an unprivileged store's symlinks that belong to others (ownership.py)
            atomic_write(self.dir(cid) / "owners.json", json.dumps(owners).encode())

    def owner_index(self, cid: str, chain: list[Layer]) -> dict[str, list[Any]]:
        try:
            found: dict[str, list[Any]] = json.loads((self.dir(cid) / "owners.json").read_bytes())
        except FileNotFoundError:
            return {}
        return found

    def _mount(self, cid: str, chain: list[Layer]) -> Path:
        return self.rootfs(cid)

    def _unmount(self, cid: str) -> None:
        return None

    def is_mounted(self, cid: str) -> bool:
        return True

    def changes(self, cid: str, chain: list[Layer]) -> tuple[list[Change], list[str]]:
        index = image_index(chain, self.layers.open_tar)
        owners = ownership.recorder(self.owner_index(cid, chain))
        seen: set[str] = set()
        out: list[Change] = []
        with tree.opened_dir(self.rootfs(cid)) as root:  # by descriptor: it may be live
            for e in tree.walk(root, sort=False):
                seen.add(e.rel)
                old = index.get(e.rel)
                if old is None:
                    out.append(Change("A", "/" + e.rel))
                elif self._differs(old, e, owners):
                    out.append(Change("C", "/" + e.rel))
        for rel in index:
            parent = posixpath.dirname(rel)
            if rel not in seen and (not parent or parent in seen):
                out.append(Change("D", "/" + rel))  # only the topmost deleted path, like overlay
        return sorted(out, key=lambda c: c.path), []

    @staticmethod
    def _differs(old: Entry, e: tree.Entry, owners: ownership.Recorder | None) -> bool:
        """``owners``: an unprivileged store's, where the owner on disk is always ours."""
        st, dir_fd, name = e.st, e.dir_fd, e.name
        if stat.S_IFMT(st.st_mode) != old.kind or stat.S_IMODE(st.st_mode) != old.mode:
            return True
        owner = (st.st_uid, st.st_gid)
        if owners is not None:
            kept, link = None, ""
            path = f"/proc/self/fd/{dir_fd}/{name}"
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                kept = ownership.override(path)
            elif stat.S_ISLNK(st.st_mode):
                link = os.readlink(name, dir_fd=dir_fd)
            owner = owners.owner(e.rel, st, kept, link)
        if owner != (old.uid, old.gid):
            return True
        if old.kind == stat.S_IFLNK:
            try:
                return os.readlink(name, dir_fd=dir_fd) != old.link
            except OSError:
                return True
        if old.kind == stat.S_IFREG and st.st_size != old.size:
            return True
        return int(st.st_mtime) != old.mtime

    def source(self, cid: str) -> Path:
        return self.rootfs(cid)

    def metadata(self, cid: str, chain: list[Layer]) -> dict[str, Any]:
        return {"Dir": str(self.rootfs(cid))}

    def remove(self, cid: str) -> None:
        discard(self.root.parent, self.dir(cid))
