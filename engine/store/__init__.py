"""On-disk records under one state root: blobs, layers, images, containers, volumes, and the lock.

Only the services (``engine/services``, ``engine/builder``, ``engine/transfer``) open
these; the command layer and the front-ends go through the Engine API.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import ConfigError
from ..fs.atomic import locked, private_dir
from .containers import ContainerStore
from .content import ContentStore
from .images import ImageStore
from .journal import Journal
from .layers import LayerStore
from .volumes import VolumeStore

ROOT_MODE = 0o710


class Store:
    """Every store of one state root, and the lock that serialises metadata changes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.on_lock: Callable[[], object] | None = None
        self._recovering = False
        try:
            root.mkdir(parents=True, exist_ok=True)
            # Docker's /var/lib/docker: 0710 for root (no other user reaches unpacked layers,
            # their setuid files and device nodes), 0700 for an unprivileged store.
            private_dir(root, ROOT_MODE if os.geteuid() == 0 else 0o700)
            self.content = ContentStore(root)
            self.layers = LayerStore(root, self.content)
            self.images = ImageStore(root)
            self.containers = ContainerStore(root)
            self.volumes = VolumeStore(root)
            self.journal = Journal(root)
        except OSError as e:
            raise ConfigError(f"cannot use {root} as the state root (--root): "
                              f"{e.strerror or e}") from None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The store lock: every metadata change holds it (``fcntl.flock``). Whoever takes
        it first finishes what a killed command left half done (``on_lock``: recovery)."""
        with locked(self.root / "lock"):
            if self.on_lock is not None and not self._recovering:
                self._recovering = True
                try:
                    self.on_lock()
                finally:
                    self._recovering = False
            yield
