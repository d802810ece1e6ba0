"""The layer graph (``images --tree``) as a graphviz graph: what is drawn, and its DOT.

Layers are nodes stacked bottom-up, named by diffID (as ``docker inspect`` lists them);
the images whose top layer a layer is hang on it as one node, the containers on it (each
with its read-write layer) as another. A layer that several top-level images and
containers build on is drawn bold, "shared by N" (``users`` is the one definition).

A graph too wide for a notebook is drawn with fewer nodes, as dockviz's ``-l`` does: a
run of layers that nothing sits on and that does not branch is folded into one node
(``fold``), and the layout that fits is picked by ``graphview``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import graphviz
from layerlab.engine import Graph, human

from .html import CHAIN_NOTE, esc, short

EDGE = "#6b7280"
FONT = "Helvetica"
STYLE = {
    "layer": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbeafe",
              "color": "#2563eb"},
    "fold": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#eff6ff",
             "color": "#2563eb"},
    "images": {"shape": "tab", "style": "filled", "fillcolor": "#dcfce7", "color": "#16a34a"},
    "intermediate": {"shape": "tab", "style": "filled,dashed", "fillcolor": "#f3f4f6",
                     "color": "#9ca3af", "fontcolor": "#4b5563"},
    "containers": {"shape": "box", "style": "filled,dashed", "fillcolor": "#fef3c7",
                   "color": "#d97706"},
}
ROWS_SHOWN = 8  # images or containers listed in one node; the rest are counted


def _chain(layers: dict[str, dict[str, Any]], top: str) -> list[str]:
    out = []
    while top and top in layers:
        out.append(top)
        top = layers[top]["parent"]
    return out


def users(g: Graph) -> dict[str, list[str]]:
    """"Shared by N", the one definition: for each layer (chainID), the top-level images
    (what ``docker images`` lists) and the containers (``docker ps -a``) whose stack
    holds it. Always counted on the whole graph, also when only part of it is drawn."""
    layers = {lay["id"]: lay for lay in g.layers}
    out: dict[str, list[str]] = {}
    named = [(_image_name(i), i["top"]) for i in g.images if not i["intermediate"]]
    named += [(f"container {c['name']}", c["top"]) for c in g.containers]
    for name, top in named:
        for lid in _chain(layers, top):
            out.setdefault(lid, []).append(name)
    return out


def _key(kind: str, ident: str) -> str:
    """A DOT node name: no ``:``, which DOT reads as a node's port."""
    return kind + (ident.split(":")[-1] or "none")


def _image_name(img: dict[str, Any]) -> str:
    return ", ".join(img["tags"]) or f"<none> {short(img['id'])}"


def focus(g: Graph, image_id: str) -> Graph:
    """The compact graph after ``commit``/``build``: the image's own layer stack, with the
    images and containers that sit on those layers."""
    layers = {lay["id"]: lay for lay in g.layers}
    image = next((i for i in g.images if i["id"] == image_id), None)
    if image is None:
        return g
    keep = set(_chain(layers, image["top"]))
    return Graph([lay for lay in g.layers if lay["id"] in keep],
                 [i for i in g.images if i["top"] in keep or i["id"] == image_id],
                 [c for c in g.containers if c["top"] in keep])


@dataclass
class Node:
    """One drawn node: its kind (a STYLE key), HTML-like label and tooltip text."""

    key: str
    kind: str
    label: str
    tooltip: str
    bold: bool = False


@dataclass
class Picture:
    """What is drawn: nodes, edges (parent → child, bottom-up) and what was folded."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    folded_layers: int = 0
    hidden_intermediates: int = 0


def picture(g: Graph, shared: dict[str, list[str]], fold: bool = False) -> Picture:
    """The nodes of ``g``; with ``fold``, runs of layers nothing sits on are one node."""
    pic = Picture()
    on_layer: dict[str, list[dict[str, Any]]] = {}
    for img in g.images:
        on_layer.setdefault(img["top"], []).append(img)
    boxes: dict[str, list[dict[str, Any]]] = {}
    for c in g.containers:
        boxes.setdefault(c["top"], []).append(c)
    children: dict[str, list[str]] = {}
    for lay in g.layers:
        children.setdefault(lay["parent"], []).append(lay["id"])

    def plain(lid: str) -> bool:
        """Nothing but intermediates sits on it, and exactly one layer builds on it."""
        tops = [i for i in on_layer.get(lid, []) if not i["intermediate"]]
        return len(children.get(lid, [])) == 1 and not tops and not boxes.get(lid)

    node_of: dict[str, str] = {}  # layer chainID → the node drawing it
    layers = {lay["id"]: lay for lay in g.layers}
    starts = [lid for lid in sorted(layers) if fold and plain(lid)
              and not (layers[lid]["parent"] in layers and plain(layers[lid]["parent"]))]
    for lid in starts:  # a run: from its first plain layer up while the next is plain
        run = [lid]
        while plain(children[run[-1]][0]):
            run.append(children[run[-1]][0])
        if len(run) < 2:
            continue
        key = _key("F", lid)
        pic.nodes.append(_fold_node(key, [layers[r] for r in run]))
        pic.folded_layers += len(run)
        pic.hidden_intermediates += sum(len(on_layer.get(r, [])) for r in run)
        node_of.update((r, key) for r in run)
    for lid in sorted(layers):
        if lid not in node_of:
            node_of[lid] = _key("L", lid)
            inter = [i for i in on_layer.get(lid, []) if i["intermediate"]]
            pic.nodes.append(_layer_node(layers[lid], shared.get(lid, []), inter))
    for lay in g.layers:
        parent = lay["parent"]
        if parent in node_of and node_of[parent] != node_of[lay["id"]]:
            pic.edges.append((node_of[parent], node_of[lay["id"]], {}))
    for lid, imgs in sorted(on_layer.items()):
        if (fold and node_of.get(lid, "").startswith("F")) or (
                lid in node_of and all(i["intermediate"] for i in imgs)):
            continue  # folded away, or intermediates: named inside their layer's node
        key = _key("I", lid)
        pic.nodes.append(_images_node(key, imgs))
        if lid in node_of:
            pic.edges.append((node_of[lid], key, {"style": "dashed", "arrowhead": "none"}))
    for lid, cs in sorted(boxes.items()):
        key = _key("C", lid)
        pic.nodes.append(_containers_node(key, cs))
        if lid in node_of:
            pic.edges.append((node_of[lid], key, {"color": "#d97706"}))
    return pic


def _layer_node(lay: dict[str, Any], who: list[str], inter: list[dict[str, Any]]) -> Node:
    """A layer; the intermediate images whose top it is are named inside it (a node of
    their own each would double the graph's width for every build)."""
    n = len(who)
    extra = f'<br/><font point-size="10"><b>shared by {n}</b></font>' if n > 1 else ""
    if inter:
        ids = ", ".join(short(i["id"]) for i in inter[:2]) + (" …" if len(inter) > 2 else "")
        extra += (f'<br/><font point-size="10" color="#4b5563">intermediate'
                  f' {esc(ids)}</font>')
    label = (f'<<font face="Courier">{esc(short(lay["diff_id"]))}</font>'
             f'<br/><font point-size="10">{esc(human.size(lay["size"]))}</font>{extra}>')
    tip = (f"read-only layer, diffID {lay['diff_id']}\nchainID {lay['id']}\n  ({CHAIN_NOTE})"
           f"\nsize {human.size(lay['size'])}")
    if who:
        tip += f"\nin the stack of {n}: " + "; ".join(who)
    tip += "".join(f"\nintermediate image {i['id']}\n  made by: {i.get('created_by', '')}"
                   for i in inter)
    return Node(_key("L", lay["id"]), "layer", label, tip, bold=n > 1)


def _fold_node(key: str, run: list[dict[str, Any]]) -> Node:
    size = sum(lay["size"] for lay in run)
    label = (f'<<i>{len(run)} layers</i><br/><font point-size="10">{esc(human.size(size))}'
             '</font>>')
    tip = (f"{len(run)} layers folded into one node: nothing else builds on them and no "
           "top-level image or container sits on them (docker images -a lists their "
           "intermediate images)\n" + "\n".join(
               f"diffID {lay['diff_id']} ({human.size(lay['size'])})" for lay in reversed(run)))
    return Node(key, "fold", label, tip)


def _rows(items: list[str]) -> str:
    shown = items[:ROWS_SHOWN]
    more = len(items) - len(shown)
    return "<br/>".join(shown) + (f'<br/><font point-size="10">… and {more} more</font>'
                                  if more else "")


def _images_node(key: str, imgs: list[dict[str, Any]]) -> Node:
    tops = [i for i in imgs if not i["intermediate"]]
    inter = [i for i in imgs if i["intermediate"]]
    rows = [f'<b>{esc(_image_name(i))}</b><br/><font face="Courier" point-size="10">'
            f'{esc(short(i["id"]))}</font>' for i in tops]
    if tops and inter:
        rows.append(f'<font point-size="10">+ {len(inter)} intermediate image'
                    f'{"" if len(inter) == 1 else "s"}</font>')
    elif inter:
        rows += [f'{esc("<intermediate>")} <font face="Courier" point-size="10">'
                 f'{esc(short(i["id"]))}</font>' for i in inter]
    tip = "\n".join(f"{'intermediate image' if i['intermediate'] else 'image'} "
                    f"{_image_name(i) if not i['intermediate'] else ''} {i['id']}\n"
                    f"  last step: {i.get('created_by', '') or '(none)'}" for i in imgs)
    return Node(key, "images" if tops else "intermediate", f"<{_rows(rows)}>", tip)


def _containers_node(key: str, cs: list[dict[str, Any]]) -> Node:
    rows = [f'<b>{esc(c["name"])}</b><br/><font point-size="10">{esc(c["state"])} · RW '
            f'layer {esc(human.size(c.get("rw_size", 0)))}</font>' for c in cs]
    tip = "\n".join(f"container {c['name']} ({c['state']}) {c['id']}\n  its read-write "
                    f"layer holds {human.size(c.get('rw_size', 0))}" for c in cs)
    return Node(key, "containers", f"<{_rows(rows)}>", tip)


def to_dot(pic: Picture, rankdir: str = "BT",
           style: dict[str, dict[str, str]] | None = None) -> graphviz.Digraph:
    """The picture as DOT; ``style`` maps node kinds to attributes (the layer graph's by
    default, the network graph brings its own)."""
    style = STYLE if style is None else style
    dot = graphviz.Digraph("layers", graph_attr={
        "rankdir": rankdir, "nodesep": "0.25", "ranksep": "0.3", "bgcolor": "transparent",
        "fontname": FONT}, node_attr={"fontname": FONT, "fontsize": "12", "margin": "0.1,0.04"},
        edge_attr={"color": EDGE, "arrowsize": "0.6", "fontname": FONT, "fontsize": "10"})
    for n in pic.nodes:
        attrs = dict(style[n.kind])
        if n.bold:
            attrs["penwidth"] = "2.5"
        dot.node(n.key, label=n.label, tooltip=n.tooltip, **attrs)
    for a, b, attrs in pic.edges:
        dot.edge(a, b, **attrs)
    return dot
