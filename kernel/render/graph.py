"""The layer graph (``images --tree``) as a graphviz SVG, drawn by the real ``dot``.

Layers are nodes stacked bottom-up; images hang on their top layer, containers sit on
theirs with their read-write layer; a layer that several images or containers build on is
drawn bold with "shared by N", intermediate images dashed and grey.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from layerlab.engine import Graph, human

EDGE = "#6b7280"
LAYER = ('shape=box style="rounded,filled" fillcolor="#dbeafe" color="#2563eb" '
         'fontname="Helvetica"')
IMAGE = 'shape=tab style=filled fillcolor="#dcfce7" color="#16a34a" fontname="Helvetica"'
INTERMEDIATE = ('shape=tab style="filled,dashed" fillcolor="#f3f4f6" color="#9ca3af" '
                'fontcolor="#4b5563" fontname="Helvetica"')
CONTAINER = ('shape=box style="filled,dashed" fillcolor="#fef3c7" color="#d97706" '
             'fontname="Helvetica"')


def _hex(ident: str) -> str:
    return ident.split(":")[-1]


def _chain(layers: dict[str, dict[str, Any]], top: str) -> list[str]:
    out = []
    while top and top in layers:
        out.append(top)
        top = layers[top]["parent"]
    return out


def focus(g: Graph, image_id: str) -> Graph:
    """The compact graph after ``commit``/``build``: the image's own layer stack, with the
    images and containers that sit on those layers (so sharing still shows)."""
    layers = {lay["id"]: lay for lay in g.layers}
    image = next((i for i in g.images if i["id"] == image_id), None)
    if image is None:
        return g
    keep = set(_chain(layers, image["top"]))
    return Graph([lay for lay in g.layers if lay["id"] in keep],
                 [i for i in g.images if i["top"] in keep or i["id"] == image_id],
                 [c for c in g.containers if c["top"] in keep])


def users(g: Graph) -> dict[str, int]:
    """How many top-level images and containers build on each layer."""
    layers = {lay["id"]: lay for lay in g.layers}
    count: dict[str, int] = {}
    tops = [i["top"] for i in g.images if not i["intermediate"]]
    tops += [c["top"] for c in g.containers]
    for top in tops:
        for lid in _chain(layers, top):
            count[lid] = count.get(lid, 0) + 1
    return count


def to_dot(g: Graph) -> str:
    shared = users(g)
    lines = ['digraph layers {', 'rankdir=BT; nodesep=0.3; ranksep=0.35; bgcolor="transparent";',
             f'edge [color="{EDGE}" arrowsize=0.6]; node [fontsize=11];']
    for lay in sorted(g.layers, key=lambda x: x["id"]):
        n = shared.get(lay["id"], 0)
        extra = f'<br/><font point-size="9"><b>shared by {n}</b></font>' if n > 1 else ""
        label = (f'<<font face="Courier">{_hex(lay["id"])[:12]}</font>'
                 f'<br/><font point-size="9">{human.size(lay["size"])}</font>{extra}>')
        pen = " penwidth=2.5" if n > 1 else ""
        lines.append(f'"L{lay["id"]}" [{LAYER}{pen} label={label} '
                     f'tooltip="layer (chainID) {lay["id"]}&#10;diffID {lay["diff_id"]}"];')
        if lay["parent"]:
            lines.append(f'"L{lay["parent"]}" -> "L{lay["id"]}";')
    known = {lay["id"] for lay in g.layers}
    for img in g.images:
        name = "<br/>".join(_html(t) for t in img["tags"]) or (
            "&lt;intermediate&gt;" if img["intermediate"] else "&lt;none&gt;")
        label = (f'<<b>{name}</b><br/><font face="Courier" point-size="9">'
                 f'{_hex(img["id"])[:12]}</font>>')
        style = INTERMEDIATE if img["intermediate"] else IMAGE
        tip = _html(img.get("created_by", "")).replace("\\", "\\\\") or "image"
        lines.append(f'"I{img["id"]}" [{style} label={label} tooltip="{tip}"];')
        if img["top"] in known:
            lines.append(f'"L{img["top"]}" -> "I{img["id"]}" [style=dashed arrowhead=none];')
    for c in g.containers:
        label = (f'<<b>{_html(c["name"])}</b><br/><font point-size="9">RW layer · '
                 f'{_html(c["state"])} · {human.size(c.get("rw_size", 0))}</font>>')
        lines.append(f'"C{c["id"]}" [{CONTAINER} label={label} '
                     f'tooltip="container {c["id"]}"];')
        if c["top"] in known:
            lines.append(f'"L{c["top"]}" -> "C{c["id"]}" [color="#d97706"];')
    lines.append("}")
    return "\n".join(lines)


def _html(text: str) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def to_svg(g: Graph) -> str | None:
    """The SVG, or None when graphviz's ``dot`` is not installed (text only then)."""
    dot = shutil.which("dot")
    if dot is None or not (g.layers or g.images or g.containers):
        return None
    p = subprocess.run([dot, "-Tsvg"], input=to_dot(g).encode(), capture_output=True,
                       timeout=30, check=False)
    if p.returncode != 0:
        return None
    svg = p.stdout.decode()
    return svg[svg.find("<svg"):]  # drop the XML prolog and DOCTYPE
