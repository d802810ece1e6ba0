"""The Docker Engine API over a unix socket, so the real ``docker`` CLI and docker-py drive
LayerLab (issue 14).

``serve`` is the entry point of ``layerlab system service``. Endpoints are plain functions
``(Request) -> Response`` registered on a ``RouteTable`` next to their code (``system.py``
is the pattern); ``server.production_router`` lists the tables. The server runs handlers
in worker threads and writes what they return (``responses``).
"""

from .hijack import HijackedConnection, StreamType
from .listen import default_uri
from .routing import API_VERSION, MIN_API_VERSION, Request, Route, Router, RouteTable
from .server import production_router, serve

__all__ = ["API_VERSION", "MIN_API_VERSION", "HijackedConnection", "Request", "Route",
           "RouteTable", "Router", "StreamType", "default_uri", "production_router", "serve"]
