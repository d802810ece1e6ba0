"""Snapshot drivers: give a container its read-write layer over the image's read-only ones.

Both drivers answer the same questions (where is the container's view, what changed), so
``diff``, ``commit`` and ``export`` are written once, against this interface.
"""

from __future__ import annotations

import contextlib
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

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
    def prepare(self, cid: str, chain: list[Layer]) -> None:
        """Create the container's empty read-write layer over ``chain`` (bottom first)."""

    @abstractmethod
    def mount(self, cid: str, chain: list[Layer]) -> Path:
        """Make the unified view available and return its path (idempotent)."""

    @abstractmethod
    def unmount(self, cid: str) -> None: ...

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
        src = self.source(cid)
        total = 0
        for ch in changes:
            if ch.kind != "D":
                with contextlib.suppress(OSError):
                    st = os.lstat(os.path.join(src, ch.path.lstrip("/")))
                    total += 0 if stat.S_ISDIR(st.st_mode) else st.st_size
        return total

    @abstractmethod
    def remove(self, cid: str) -> None: ...

    @contextlib.contextmanager
    def view(self, cid: str, chain: list[Layer]) -> Iterator[Path]:
        """The unified view for a read, mounting it only for as long as needed."""
        was_mounted = self.is_mounted(cid)
        path = self.mount(cid, chain)
        try:
            yield path
        finally:
            if not was_mounted:
                self.unmount(cid)


DRIVERS = ("overlay", "vfs")


def make_driver(name: str, root: Path, layers: LayerStore,
                userxattr: bool = False) -> SnapshotDriver:
    """``userxattr``: overlayfs mounted in a user namespace (rootless), which keeps its
    whiteout metadata in ``user.overlay.*`` instead of ``trusted.overlay.*``."""
    from .overlay import OverlayDriver
    from .vfs import VfsDriver

    if name == "overlay":
        return OverlayDriver(root, layers, userxattr)
    return VfsDriver(root, layers)
