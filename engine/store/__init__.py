"""On-disk records under one state root: blobs, layers, images, containers, and the lock.

Only the services (``engine/services``, ``engine/builder``, ``engine/transfer``) open
these; the command layer and the front-ends go through the Engine API.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from ..fs.atomic import locked
from .containers import ContainerStore
from .content import ContentStore
from .images import ImageStore
from .layers import LayerStore


class Store:
    """Every store of one state root, and the lock that serialises metadata changes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.content = ContentStore(root)
        self.layers = LayerStore(root, self.content)
        self.images = ImageStore(root)
        self.containers = ContainerStore(root)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """The store lock: every metadata change holds it (``fcntl.flock``)."""
        return locked(self.root / "lock")
