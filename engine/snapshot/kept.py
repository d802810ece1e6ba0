"""A rootless store's snapshot driver: every filesystem operation inside the keeper.

The overlay views of a rootless store are mounted in the keeper's mount namespace, which
the host cannot see, and a container may leave files its own (host) uid cannot read
(mode 000: only CAP_DAC_OVERRIDE, which the keeper's user namespace grants over our own
files, reads them). So this driver runs the wrapped driver's methods in a keeper-joined
child (directly when the caller is already inside, as a monitor is).

A view handed to a host-side caller is reached through ``/proc/<keeper>/root``: the
kernel resolves that path in the keeper's mount namespace, so reads and writes there go
through the overlay as a container's would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..oci.changes import Change
from ..runtime.keeper import Keeper, inside
from ..store.layers import Layer
from . import SnapshotDriver


class KeptDriver(SnapshotDriver):
    def __init__(self, inner: SnapshotDriver, keeper: Keeper) -> None:
        # No super().__init__: the wrapped driver made (and owns) its directories.
        self.inner = inner
        self.keeper = keeper
        self.name = inner.name
        self.root = inner.root
        self.layers = inner.layers

    def dir(self, cid: str) -> Path:
        return self.inner.dir(cid)

    def prepare(self, cid: str, chain: list[Layer], disposable: bool = False) -> None:
        self.keeper.call(self.inner.prepare, cid, chain, disposable)

    # The base class's mount/unmount/view keep their locks and reader counts in the
    # store (reachable from here); only the mounting itself happens in the keeper.
    def _mount(self, cid: str, chain: list[Layer]) -> Path:
        return self.keeper.call(self.inner._mount, cid, chain)

    def _unmount(self, cid: str) -> None:
        self.keeper.call(self.inner._unmount, cid)

    def is_mounted(self, cid: str) -> bool:
        return self.keeper.call(self.inner.is_mounted, cid)

    def changes(self, cid: str, chain: list[Layer]) -> tuple[list[Change], list[str]]:
        return self.keeper.call(self.inner.changes, cid, chain)

    def usage(self, cid: str, chain: list[Layer]) -> int:
        return self.keeper.call(self.inner.usage, cid, chain)

    def source(self, cid: str) -> Path:
        return self.inner.source(cid)

    def owner_index(self, cid: str, chain: list[Layer]) -> dict[str, list[Any]]:
        return self.keeper.call(self.inner.owner_index, cid, chain)

    def metadata(self, cid: str, chain: list[Layer]) -> dict[str, Any]:
        return self.keeper.call(self.inner.metadata, cid, chain)

    def image_metadata(self, chain: list[Layer]) -> dict[str, Any]:
        return self.keeper.call(self.inner.image_metadata, chain)

    def forget(self, chain_ids: Iterable[str]) -> None:
        self.keeper.call(self.inner.forget, list(chain_ids))

    def remove(self, cid: str) -> None:
        self.keeper.call(self.inner.remove, cid)

    def reachable(self, path: Path) -> Path:
        """``path`` (in the keeper's mount namespace) as this process can open it."""
        if inside(self.keeper.store):
            return path
        rec = self.keeper.ensure()
        return Path(f"/proc/{rec.pid}/root{path}")

    @contextlib.contextmanager
    def view(self, cid: str, chain: list[Layer]) -> Iterator[Path]:
        with super().view(cid, chain) as path:
            yield self.reachable(path)
