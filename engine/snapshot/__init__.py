"""Snapshot drivers: give a container its read-write layer over the image's read-only ones.

Both drivers answer the same questions (where is the container's view, what changed), so
``diff``, ``commit`` and ``export`` are written once, against this interface.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import posixpath
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..fs import tree
from ..fs.atomic import locked
from ..oci.changes import Change
from ..store.layers import Layer, LayerStore


class SnapshotDriver(ABC):
    name: str

    def __init__(self, root: Path, layers: LayerStore) -> None:
        self.root = root / self.name
        self.root.mkdir(parents=True, exist_ok=True)
        self.layers = layers

    def dir(self, cid: str) -> Path:
        return self.root / cid

    @abstractmethod
    def prepare(self, cid: str, chain: list[Layer], disposable: bool = False) -> None:
        """Create the container's empty read-write layer over ``chain`` (bottom first).
        ``disposable``: the layer is thrown away after use (``--rm``, a build step), so
        nothing of it need ever reach the disk."""

    @abstractmethod
    def _mount(self, cid: str, chain: list[Layer]) -> Path:
        """Make the unified view available and return its path (idempotent)."""

    @abstractmethod
    def _unmount(self, cid: str) -> None: ...

    # Mounts are shared by a running container and by readers (``export`` and the
    # builder's steps), several at once: a reader that mounted a stopped container's view
    # marks it transient, and the last reader out unmounts it, never one while another
    # reads (parallel exports got incomplete tars that way). Start claims the mount.
    def _lock(self, cid: str) -> contextlib.AbstractContextManager[None]:
        return locked(self.dir(cid) / ".view.lock")

    def _marker(self, cid: str) -> Path:
        return self.dir(cid) / ".view.transient"

    def _readers(self, cid: str) -> bool:
        """Whether some reader holds the view (a shared flock on ``.view.users``)."""
        try:
            fd = os.open(self.dir(cid) / ".view.users", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def mount(self, cid: str, chain: list[Layer]) -> Path:
        """The view for a container's run: it stays until ``unmount``."""
        with self._lock(cid):
            path = self._mount(cid, chain)
            self._marker(cid).unlink(missing_ok=True)
        return path

    def unmount(self, cid: str) -> None:
        """End the run's view; if readers still hold it, the last of them unmounts."""
        if not self.dir(cid).is_dir():
            return
        with self._lock(cid):
            if self._readers(cid):
                self._marker(cid).touch()
            else:
                self._unmount(cid)
                self._marker(cid).unlink(missing_ok=True)

    @abstractmethod
    def is_mounted(self, cid: str) -> bool: ...

    @abstractmethod
    def changes(self, cid: str, chain: list[Layer]) -> tuple[list[Change], list[str]]:
        """(changes sorted by path, directories made opaque) of the read-write layer."""

    @abstractmethod
    def source(self, cid: str) -> Path:
        """Where the content of added/changed paths can be read (upper dir or rootfs)."""

    @abstractmethod
    def metadata(self, cid: str, chain: list[Layer]) -> dict[str, Any]:
        """``GraphDriver.Data`` for ``inspect`` (S2: lower/upper/merged directories)."""

    def image_metadata(self, chain: list[Layer]) -> dict[str, Any]:
        """``GraphDriver.Data`` of an image (its layers' directories, where the driver
        keeps them)."""
        return {}

    def owner_index(self, cid: str, chain: list[Layer]) -> dict[str, list[Any]]:
        """Owners of the container's files that only an index holds (symlinks of an
        unprivileged store's image layers; see ``oci.ownership``), by path."""
        return {}

    def forget(self, chain_ids: Iterable[str]) -> None:  # noqa: B027 - most keep nothing
        """Drop what the driver keeps for deleted layers (caches of unpacked layers)."""

    def usage(self, cid: str, chain: list[Layer]) -> int:
        """Bytes of file content in the read-write layer, as Docker counts its SIZE."""
        changes, _ = self.changes(cid, chain)
        total = 0
        with tree.opened_dir(self.source(cid)) as src:
            dirs = tree.DirChain(src)
            try:
                for ch in changes:
                    if ch.kind != "D":
                        parent, name = posixpath.split(ch.path.lstrip("/"))
                        with contextlib.suppress(OSError):
                            st = tree.lstat_at(dirs.open(parent, create=False), name)
                            total += 0 if stat.S_ISDIR(st.st_mode) else st.st_size
            finally:
                dirs.close()
        return total

    @abstractmethod
    def remove(self, cid: str) -> None: ...

    @contextlib.contextmanager
    def view(self, cid: str, chain: list[Layer]) -> Iterator[Path]:
        """The unified view for a read, mounted for as long as some reader needs it."""
        with self._lock(cid):
            if not self.is_mounted(cid):
                path = self._mount(cid, chain)
                self._marker(cid).touch()
            else:
                path = self._mount(cid, chain)
            users = os.open(self.dir(cid) / ".view.users",
                            os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(users, fcntl.LOCK_SH)
        try:
            yield path
        finally:
            with self._lock(cid):
                os.close(users)
                if self._marker(cid).exists() and not self._readers(cid):
                    self._unmount(cid)
                    self._marker(cid).unlink(missing_ok=True)


DRIVERS = ("overlay", "vfs")


def make_driver(name: str, root: Path, layers: LayerStore,
                userxattr: bool = False) -> SnapshotDriver:
    """``userxattr``: overlayfs mounted in a user namespace (rootless), which keeps its
    whiteout metadata in ``user.overlay.*`` instead of ``trusted.overlay.*``."""
    if name == "overlay":
        from .overlay import OverlayDriver

        return OverlayDriver(root, layers, userxattr)
    from .vfs import VfsDriver  # reads layer tars: tarfile comes with it

    return VfsDriver(root, layers)
