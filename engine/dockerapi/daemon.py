"""The service's own state beside the engine's stores, shared by every request.

Docker's daemon keeps a few things in memory only: who is attached to a container, exec
instances (``docker exec`` creates one, starts it, then asks for its exit code), and the
exit codes of containers it started. So does this service (``Lifecycle``, ``Execs``);
everything else is read from the stores on every request, so the CLI and the kernel can
change the same engine meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .execs import Execs
from .lifecycle import Lifecycle

if TYPE_CHECKING:
    from ..services.engine import Engine


class Daemon:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lifecycle = Lifecycle(engine)
        self.execs = Execs()
