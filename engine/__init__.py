"""LayerLab's engine: a layered container engine with Docker's command language.

The public surface, for front-ends (the kernel, the Docker API server) and scripts:

- ``Engine`` (one per state root) and its services: ``engine.images``,
  ``engine.containers``, ``engine.tasks``, ``engine.networks``, ``engine.system``;
  ``CreateOptions`` (its network flags: ``NetworkRequest``);
- ``execute(engine, argv, io)`` and ``IO``: one docker command line → a typed result;
  ``error_message``; the result types (``Table``, ``History``, ``Lines``, ``Committed``,
  ``Document``, ``Changes``, ``Graph``, ``NetworkGraph``, ``Build``, ``Streamed``,
  ``Explored``);
- ``start_service(root, driver, uri, idle_timeout)``: the Docker API service for this
  engine in a child process (``DOCKER_HOST=service.uri`` then drives it), and
  ``default_service_uri()``;
- the errors (``EngineError`` and its kinds), ``default_root``, ``VERSION``, ``Progress``
  (a build's typed events), ``Change``, and the modules ``grammar`` (the docker command
  language: completion and help are derived from it) and ``human`` (Docker's sizes and
  durations).

Names load on first use, so ``import layerlab.engine`` stays cheap for the CLI.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not ``typing``'s: that import alone is ~20 ms of a CLI start here
if TYPE_CHECKING:
    from typing import Any

_SURFACE = {
    "Engine": "services.engine", "CreateOptions": "services.containers",
    "NetworkRequest": "services.network_request",
    "VERSION": "version", "execute": "commands", "IO": "commands",
    "error_message": "commands", "Result": "commands.results", "Table": "commands.results",
    "History": "commands.results", "Lines": "commands.results",
    "Committed": "commands.results", "Document": "commands.results",
    "Changes": "commands.results", "Graph": "commands.results", "Build": "commands.results",
    "NetworkGraph": "commands.results",
    "Streamed": "commands.results", "EngineError": "errors", "NotFound": "errors",
    "Conflict": "errors", "InvalidArgument": "errors", "Unsupported": "errors",
    "RuntimeFailure": "errors", "ConfigError": "errors", "UsageError": "commands.grammar",
    "default_root": "settings", "Progress": "builder", "Change": "oci.changes",
    "start_service": "dockerapi.background", "BackgroundService": "dockerapi.background",
    "Explored": "commands.results",
}
_MODULES = {"human": "commands.human", "grammar": "commands.grammar"}
_RENAMED = {"default_service_uri": ("dockerapi.listen", "default_uri")}
__all__ = sorted([*_SURFACE, *_MODULES, *_RENAMED])


def __getattr__(name: str) -> Any:
    import importlib

    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{_MODULES[name]}")
    if name in _RENAMED:
        module, attr = _RENAMED[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    if name in _SURFACE:
        return getattr(importlib.import_module(f"{__name__}.{_SURFACE[name]}"), name)
    raise AttributeError(f"module 'layerlab.engine' has no attribute {name!r}")
