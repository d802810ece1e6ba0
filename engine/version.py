"""The engine's version and ``docker version``'s data: a module of its own, so that
``layerlab version`` imports no store or service."""

from __future__ import annotations

import os
import sys
from typing import Any

VERSION = "0.1.0"


def version_info() -> dict[str, Any]:
    """``docker version``'s data (client and server are the same program here); from
    ``sys`` and ``os.uname``, as ``platform`` (3 ms to import) would read them."""
    uname = os.uname()
    return {"Client": {"Version": VERSION, "GoVersion": "python" + sys.version.split()[0],
                       "Os": "linux", "Arch": uname.machine},
            "Server": {"Version": VERSION, "Engine": "LayerLab",
                       "KernelVersion": uname.release}}


def version_line() -> str:
    """``docker --version`` / ``docker -v``: one line, shaped as Docker's."""
    return f"LayerLab version {VERSION}, docker commands on a Python engine"
