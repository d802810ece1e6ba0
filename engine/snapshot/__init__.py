"""Snapshot drivers: give a container its read-write layer over the image's read-only ones.

Both drivers answer the same questions (where is the container's view, what changed), so
``diff``, ``commit`` and ``export`` are written once, against this interface.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..oci.layertar import Change
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


def make_driver(name: str, root: Path, layers: LayerStore) -> SnapshotDriver:
    from .overlay import OverlayDriver
    from .vfs import VfsDriver

    drivers: dict[str, type[SnapshotDriver]] = {"overlay": OverlayDriver, "vfs": VfsDriver}
    return drivers[name](root, layers)
