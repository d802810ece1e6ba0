"""The Engine API: one object per state root, composed of services by noun.

``engine.images``, ``engine.containers``, ``engine.tasks`` (a container's processes),
``engine.networks``, ``engine.volumes``, ``engine.cp`` (files in and out of
a container), ``engine.limits`` (cgroup limits, ``update``), ``engine.stats``,
``engine.system`` and ``engine.events`` (the event log) are what the
command layer calls; ``engine/builder`` and ``engine/transfer`` are services too and take
the engine. Only services open the stores (``engine.store``).

Metadata changes happen under one store lock; a container's state changes under its own
lock, because its monitor updates it while other commands run.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError, InvalidArgument, NotFound
from ..snapshot import DRIVERS, SnapshotDriver, make_driver
from ..store import Store
from .events import EventLog

if TYPE_CHECKING:
    from ..oci.layertar import Sink
    from ..runtime.isolation import Isolation
    from ..runtime.keeper import Keeper
    from .containers import Containers
    from .cp import Copies
    from .images import Images
    from .limits import Limits
    from .networks import Networks
    from .recovery import Recovery
    from .stats import Stats
    from .system import System
    from .tasks import Tasks
    from .volumes import Volumes

T = TypeVar("T")


class Engine:
    def __init__(self, root: Path, driver: str | None = None) -> None:
        self.root = Path(os.path.abspath(root))  # a keeper join moves the cwd to "/"
        self.store = Store(self.root)
        if driver:
            if driver not in DRIVERS:
                raise ConfigError(f"storage driver {driver!r} is unknown: choose "
                                  f"{' or '.join(DRIVERS)}")
            self.driver_name = driver
        self._drivers: dict[str, SnapshotDriver] = {}
        self.events = EventLog(root)
        self.store.on_lock = self._recover

    # The services are made on first use, each importing its module then: a command pays
    # for the services it calls only (``history`` loads no runtime, network or monitor
    # module, ~40 ms of a CLI start).
    @functools.cached_property
    def images(self) -> Images:
        from .images import Images

        return Images(self)

    @functools.cached_property
    def containers(self) -> Containers:
        from .containers import Containers

        return Containers(self)

    @functools.cached_property
    def tasks(self) -> Tasks:
        from .tasks import Tasks

        return Tasks(self)

    @functools.cached_property
    def networks(self) -> Networks:
        from .networks import Networks

        return Networks(self)

    @functools.cached_property
    def volumes(self) -> Volumes:
        from .volumes import Volumes

        return Volumes(self)

    @functools.cached_property
    def cp(self) -> Copies:
        from .cp import Copies

        return Copies(self)

    @functools.cached_property
    def limits(self) -> Limits:
        from .limits import Limits

        return Limits(self)

    @functools.cached_property
    def stats(self) -> Stats:
        from .stats import Stats

        return Stats(self)

    @functools.cached_property
    def system(self) -> System:
        from .system import System

        return System(self)

    @functools.cached_property
    def recovery(self) -> Recovery:
        from .recovery import Recovery

        return Recovery(self)

    @functools.cached_property
    def driver_name(self) -> str:
        """The storage driver asked for, else the host's (``default_driver``): found on
        first use, since probing it imports the runtime (~15 ms) and listings such as
        ``history`` or ``images`` never need it."""
        from ..runtime.isolation import default_driver

        return default_driver(self.root)

    def is_container(self, name: str) -> bool:
        """Whether ``name`` (ID, name or ID prefix) may be a container, from the store alone:
        ``inspect IMAGE`` looks containers up first, as Docker does, and need not load the
        container service (a third of a CLI start) to learn there is none. An ambiguous
        prefix counts, so the container service reports it as before."""
        try:
            self.store.containers.resolve(name)
        except NotFound:
            return False
        except InvalidArgument:
            return True
        return True

    def _recover(self) -> None:
        if self.recovery.needed():
            self.recovery.run()

    def driver(self, name: str | None = None) -> SnapshotDriver:
        """The snapshot driver ``name`` (default: this engine's), made once."""
        name = name or self.driver_name
        if name not in self._drivers:
            rootless = self.rootless
            made = make_driver(name, self.root, self.store.layers, userxattr=rootless)
            if rootless:
                from ..snapshot.kept import KeptDriver

                made = KeptDriver(made, self.keeper)
            self._drivers[name] = made
        return self._drivers[name]

    def isolation(self) -> Isolation:
        """What this host lets the current user run (probed once per boot)."""
        from ..runtime.isolation import probe

        return probe(self.root)

    @property
    def rootless(self) -> bool:
        return self.isolation().mode == "rootless"

    @functools.cached_property
    def keeper(self) -> Keeper:
        """The store's user-namespace keeper (rootless mode)."""
        from ..runtime.keeper import Keeper

        return Keeper(self.root)

    def in_store(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` where the store's files and views are fully reachable: inside the
        keeper's namespaces for a rootless store, else right here."""
        return self.keeper.call(fn, *args) if self.rootless else fn(*args)

    def stream_from_store(self, fn: Callable[[Sink], T], out: Sink) -> T:
        """``fn(out)`` as ``in_store`` runs it, its output copied to ``out``; its result."""
        return self.keeper.stream(fn, out) if self.rootless else fn(out)
