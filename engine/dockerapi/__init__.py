"""The Docker Engine API over a unix socket, so the real ``docker`` CLI and docker-py drive
LayerLab (issue 14).

``serve`` is the entry point of ``layerlab system service``. Endpoints are plain functions
``(Request) -> Response`` registered on a ``RouteTable`` next to their code, one module per
noun (``system``, ``containers``, ``execs``, ``images``, ``transfer``, ``build``);
``server.production_router`` lists the tables. The server runs handlers in worker threads
and writes what they return (``responses``).

Names load on first use: ``layerlab info`` asks ``listen.default_uri`` where the service
would listen without loading the HTTP stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_SURFACE = {
    "HijackedConnection": "hijack", "StreamType": "hijack", "default_uri": "listen",
    "API_VERSION": "routing", "MIN_API_VERSION": "routing", "Request": "routing",
    "Route": "routing", "Router": "routing", "RouteTable": "routing",
    "production_router": "server", "serve": "server",
}
__all__ = sorted(_SURFACE)


def __getattr__(name: str) -> Any:
    if name in _SURFACE:
        return getattr(importlib.import_module(f"{__name__}.{_SURFACE[name]}"), name)
    raise AttributeError(f"module 'layerlab.engine.dockerapi' has no attribute {name!r}")
