"""Text rendering of the layer graph: one line per layer, bottom layer first, each named by
its diffID (as ``inspect`` lists an image's layers and the notebook's graph labels them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..oci.digest import short
from . import human

if TYPE_CHECKING:
    from .results import Graph


def _labels(g: Graph) -> dict[str, str]:
    """Each layer's ``← image, container`` note, keyed by the layer's chainID: made in one
    pass over the images and containers (looking them up per layer made a store of 500
    images and 500 containers half a million comparisons)."""
    parts: dict[str, list[str]] = {}
    for img in g.images:
        name = ", ".join(img["tags"]) or ("<intermediate>" if img["intermediate"]
                                          else "<none>")
        parts.setdefault(img["top"], []).append(f"{name} [{short(img['id'])}]")
    for c in g.containers:
        parts.setdefault(c["top"], []).append(
            f"container {c['name']} ({c['state']}, RW layer)")
    return {top: "  ← " + "; ".join(names) for top, names in parts.items()}


def render_tree(g: Graph) -> str:
    children: dict[str, list[dict]] = {}
    for layer in g.layers:
        children.setdefault(layer["parent"], []).append(layer)
    lines: list[str] = []
    labels = _labels(g)

    def walk(layer: dict, prefix: str, last: bool, root: bool) -> None:
        branch = "" if root else ("└─ " if last else "├─ ")
        lines.append(f"{prefix}{branch}{short(layer['diff_id'])} {human.size(layer['size'])}"
                     f"{labels.get(layer['id'], '')}")
        kids = sorted(children.get(layer["id"], []), key=lambda x: x["id"])
        sub = prefix if root else prefix + ("   " if last else "│  ")
        for i, kid in enumerate(kids):
            walk(kid, sub, i == len(kids) - 1, False)

    for layer in sorted(children.get("", []), key=lambda x: x["id"]):
        walk(layer, "", True, True)
    empty = labels.get("", "")
    if empty:
        lines.append(f"(no layers){empty}")
    return "\n".join(lines)
