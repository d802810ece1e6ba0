"""Where state lives and which driver/runtime to use, decided once per process."""

from __future__ import annotations

import os
from pathlib import Path


def default_root() -> Path:
    """``/var/lib/layerlab`` as root, ``$XDG_DATA_HOME/layerlab`` otherwise; env overrides."""
    if env := os.environ.get("LAYERLAB_ROOT"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/layerlab")
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data) / "layerlab"
