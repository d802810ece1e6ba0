"""One handler per docker command, grouped by noun: each maps parsed arguments to Engine
API calls and returns a typed result; none reaches into the stores.

``cmd_<name>`` handles the grammar's command ``<name>`` (spaces as underscores).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import attach, build, containers, explore, images, networks, system, transfer

_MODULES = (containers, attach, images, build, transfer, system, explore, networks)
Handler = Callable[..., Any]


def handler(name: str) -> Handler:
    """The handler of the grammar's command ``name``."""
    attr = "cmd_" + name.replace(" ", "_")
    for module in _MODULES:
        found = getattr(module, attr, None)
        if found is not None:
            return found
    raise LookupError(f"no handler for docker {name}")
