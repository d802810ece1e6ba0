"""The Engine API: one object per state root, composed of services by noun.

``engine.images``, ``engine.containers``, ``engine.tasks`` (a container's processes),
``engine.networks``, ``engine.system`` and ``engine.events`` (the event log) are what the
command layer calls; ``engine/builder`` and ``engine/transfer`` are services too and take
the engine. Only services open the stores (``engine.store``).

Metadata changes happen under one store lock; a container's state changes under its own
lock, because its monitor updates it while other commands run.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..runtime.isolation import Isolation, default_driver, probe
from ..snapshot import DRIVERS, SnapshotDriver, make_driver
from ..store import Store
from .containers import Containers
from .events import EventLog
from .images import Images
from .networks import Networks
from .recovery import Recovery
from .system import System
from .tasks import Tasks


class Engine:
    def __init__(self, root: Path, driver: str | None = None) -> None:
        self.root = root
        self.store = Store(root)
        self.driver_name = driver or default_driver()
        if self.driver_name not in DRIVERS:
            raise ConfigError(f"storage driver {self.driver_name!r} is unknown: choose "
                              f"{' or '.join(DRIVERS)}")
        self._drivers: dict[str, SnapshotDriver] = {}
        self.events = EventLog(root)
        self.images = Images(self)
        self.containers = Containers(self)
        self.tasks = Tasks(self)
        self.networks = Networks(self)
        self.system = System(self)
        self.recovery = Recovery(self)
        self.store.on_lock = self._recover

    def _recover(self) -> None:
        if self.recovery.needed():
            self.recovery.run()

    def driver(self, name: str | None = None) -> SnapshotDriver:
        """The snapshot driver ``name`` (default: this engine's), made once."""
        name = name or self.driver_name
        if name not in self._drivers:
            self._drivers[name] = make_driver(name, self.root, self.store.layers)
        return self._drivers[name]

    def isolation(self) -> Isolation:
        """What this host lets the current user run (probed once per boot)."""
        return probe()
