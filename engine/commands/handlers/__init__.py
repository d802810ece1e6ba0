"""One handler per docker command, grouped by noun: each maps parsed arguments to Engine
API calls and returns a typed result; none reaches into the stores.

``cmd_<name>`` handles the grammar's command ``<name>`` (spaces as underscores). Only the
module of the command being run is imported: the CLI starts in the time its own command
needs (``version`` does not pay for ``run``'s imports).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

_MODULES = ("containers", "images", "build", "transfer", "system", "explore", "networks",
            "volumes", "copy", "limits", "stats", "attach")
# Where each command's handler lives; a command missing here is still found (below).
_HOMES = {
    "containers": "create run start stop kill pause unpause restart rm rename wait "
                  "container_prune exec top ps diff logs commit export",
    "images": "images history tag rmi image_prune import",
    "build": "build",
    "transfer": "save load pull push login logout",
    "system": "inspect system_df system_check info system_service version system_prune events",
    "explore": "image_explore",
    "networks": "network_create network_ls network_inspect network_rm network_prune "
                "network_connect network_disconnect port",
    "volumes": "volume_create volume_ls volume_inspect volume_rm volume_prune",
    "copy": "cp",
    "limits": "update",
    "stats": "stats",
    "attach": "attach",
}
_HOME_OF = {cmd: module for module, cmds in _HOMES.items() for cmd in cmds.split()}
Handler = Callable[..., Any]


def handler(name: str) -> Handler:
    """The handler of the grammar's command ``name``."""
    attr = name.replace(" ", "_")
    home = _HOME_OF.get(attr)
    for module in ([home] if home else []) + [m for m in _MODULES if m != home]:
        found = getattr(importlib.import_module(f"{__name__}.{module}"), "cmd_" + attr, None)
        if found is not None:
            return found
    raise LookupError(f"no handler for docker {name}")
