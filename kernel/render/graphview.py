"""The layer graph (and its neighbour, the network graph) drawn by graphviz's ``dot``,
laid out to fit a notebook, as HTML that works untrusted.

**Fitting.** A layer graph grows sideways: every image or container that branches off adds
a column. The drawing tries layouts in order — as it is; with untagged chains folded (see
``graph.picture``); with the leaves staggered over several ranks (graphviz's
``unflatten``); left to right — and takes the first whose width fits ``MAX_WIDTH_PT``
(the narrowest if none does), measured by ``dot`` itself (``-Tjson``), never guessed.

**Surviving a reload.** JupyterLab shows ``image/svg+xml`` only in trusted outputs, and as
an ``<img>`` (so the SVG's own tooltips never show). The ``text/html`` drawing is the SVG
as a CSS background plus one transparent box per node carrying its tooltip in a ``title``
attribute: inline styles and titles are what JupyterLab's sanitizer keeps, so a reopened
notebook, trusted or not, shows the same graph with the same tooltips. It scales down to
the output's width (``max-width``), never up.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import graphviz
from layerlab.engine import Graph, NetworkGraph

from .graph import Node, Picture, picture, to_dot, users
from .html import caption, esc
from .netgraph import STYLE as NETWORK_STYLE
from .netgraph import network_picture

MAX_WIDTH_PT = 780.0  # ≈1040 px: JupyterLab's output area in a 1280 px wide window
PT_TO_PX = 4 / 3
PAD_PT = 4.0  # dot's margin around the drawing in SVG output
LAYOUTS = (("as it is", False, 0, "BT"), ("untagged chains folded", True, 0, "BT"),
           ("leaves staggered over 3 ranks", True, 3, "BT"),
           ("leaves staggered over 6 ranks", True, 6, "BT"), ("left to right", True, 0, "LR"))


@dataclass
class Spot:
    """A node's box in the drawing, in points from the top-left corner."""

    node: Node
    x: float
    y: float
    w: float
    h: float


@dataclass
class Drawing:
    svg: str
    width: float  # points, margins included
    height: float
    spots: list[Spot]
    picture: Picture
    layout: str


def draw(g: Graph, full: Graph | None = None) -> Drawing | None:
    """The graph drawn to fit; None when ``dot`` is missing or fails (text only then).
    "Shared by N" is counted on ``full`` (default ``g``) when ``g`` is part of it."""
    if shutil.which("dot") is None or not (g.layers or g.images or g.containers):
        return None
    shared = users(full or g)
    best: tuple[float, str, str, Picture, dict[str, Any]] | None = None
    try:
        for name, fold, stagger, rankdir in LAYOUTS:
            pic = picture(g, shared, fold)
            if fold and not pic.folded_layers and rankdir == "BT" and not stagger:
                continue  # nothing to fold: the same as the layout before
            source = to_dot(pic, rankdir).source
            if stagger:
                source = graphviz.unflatten(source, stagger=stagger)
            layout = json.loads(graphviz.pipe("dot", "json", source.encode()))
            width = _bbox(layout)[0]
            if best is None or width < best[0]:
                best = (width, name, source, pic, layout)
            if width <= MAX_WIDTH_PT:
                break
        assert best is not None
        _, name, source, pic, layout = best
        return laid_out(source, pic, name, layout)
    except (graphviz.ExecutableNotFound, subprocess.CalledProcessError):
        return None


def draw_networks(g: NetworkGraph) -> Drawing | None:
    """The network graph, left to right (networks, then containers, then the host)."""
    if shutil.which("dot") is None or not g.networks:
        return None
    pic = network_picture(g)
    try:
        return laid_out(to_dot(pic, "LR", NETWORK_STYLE).source, pic, "networks")
    except (graphviz.ExecutableNotFound, subprocess.CalledProcessError):
        return None


def laid_out(source: str, pic: Picture, name: str,
             layout: dict[str, Any] | None = None) -> Drawing:
    """``source`` drawn by ``dot``: the SVG and where each node of ``pic`` landed."""
    if layout is None:
        layout = json.loads(graphviz.pipe("dot", "json", source.encode()))
    svg = graphviz.pipe("dot", "svg", source.encode()).decode()
    width, height = _bbox(layout)
    return Drawing(svg[svg.find("<svg"):], width, height, _spots(layout, pic, height), pic,
                   name)


def _bbox(layout: dict[str, Any]) -> tuple[float, float]:
    _, _, urx, ury = (float(v) for v in layout["bb"].split(","))
    return urx + 2 * PAD_PT, ury + 2 * PAD_PT


def _spots(layout: dict[str, Any], pic: Picture, height: float) -> list[Spot]:
    nodes = {n.key: n for n in pic.nodes}
    out = []
    for obj in layout.get("objects", []):
        node = nodes.get(obj.get("name", ""))
        if node is None or "pos" not in obj:
            continue
        cx, cy = (float(v) for v in obj["pos"].split(","))
        w, h = float(obj["width"]) * 72, float(obj["height"]) * 72
        out.append(Spot(node, PAD_PT + cx - w / 2, height - PAD_PT - cy - h / 2, w, h))
    return out


def graph_html(d: Drawing, legend: str = "") -> str:
    """The drawing as a scalable CSS background with a tooltip box per node, and its
    legend (the layer graph's unless given)."""
    data = base64.b64encode(d.svg.encode()).decode()
    spots = "".join(
        f'<span title="{esc(s.node.tooltip)}" style="position:absolute;'
        f"left:{100 * s.x / d.width:.3f}%;top:{100 * s.y / d.height:.3f}%;"
        f'width:{100 * s.w / d.width:.3f}%;height:{100 * s.h / d.height:.3f}%;cursor:help">'
        "</span>" for s in d.spots)
    return (f'<div class="layerlab-graph" style="width:100%;max-width:'
            f'{d.width * PT_TO_PX:.0f}px"><div style="position:relative;height:0;'
            f"padding-bottom:{100 * d.height / d.width:.3f}%;"
            f"background-image:url(data:image/svg+xml;base64,{data});"
            f'background-size:100% 100%;background-repeat:no-repeat">{spots}</div></div>'
            + caption(legend or _legend(d)))


def _legend(d: Drawing) -> str:
    order = "left to right" if d.layout == "left to right" else "bottom-up"
    text = (f"Blue: read-only layers, {order}, named by <b>diffID</b> (as <code>docker "
            "inspect</code> lists them); green: images, on their top layer (grey, dashed: "
            "intermediate images); amber: containers, each with its read-write layer. "
            "<b>Shared by N</b>: N top-level images and containers (what <code>docker "
            "images</code> and <code>docker ps -a</code> list) have the layer in their "
            "stack. Hover a node for its IDs.")
    if d.picture.folded_layers:
        text += (f" To fit, {d.picture.folded_layers} layers that nothing else builds on "
                 f"are folded into dashed nodes ({d.picture.hidden_intermediates} "
                 "intermediate images; <code>docker images -a</code> lists them).")
    return text
