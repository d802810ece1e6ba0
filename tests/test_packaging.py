"""The wheel carries every package of the tree: pyproject.toml's explicit package list
(needed by the engine/ → layerlab.engine mapping) names each directory with code."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_package_directory_is_listed() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for name, top in config["package-dir"].items():
        for init in (REPO / top).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / top).parts
            found.add(".".join([name, *rel]))
    assert found == set(config["packages"])
