"""The network graph (``network ls --graph``) drawn by graphviz: networks on the left,
the containers on them on the right, each edge labelled with the container's address
there, and the host's loopback on the far side of every published port.

It is the layer graph's neighbour and is drawn the same way (``graphview.laid_out``): a
``text/html`` drawing that survives a reload untrusted, hover boxes for IDs, and the
CLI's tree (``NetworkGraph.text``) as ``text/plain``.
"""

from __future__ import annotations

from typing import Any

from layerlab.engine import NetworkGraph

from .graph import Node, Picture
from .html import esc, short

STYLE = {
    "network": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbeafe",
                "color": "#2563eb"},
    "quiet": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#f3f4f6",
              "color": "#9ca3af", "fontcolor": "#4b5563"},
    "container": {"shape": "box", "style": "filled", "fillcolor": "#fef3c7",
                  "color": "#d97706"},
    "stopped": {"shape": "box", "style": "filled,dashed", "fillcolor": "#f3f4f6",
                "color": "#9ca3af", "fontcolor": "#4b5563"},
    "host": {"shape": "cds", "style": "filled", "fillcolor": "#dcfce7", "color": "#16a34a"},
}
HOST = "host"
LEGEND = ("Blue: networks (dashed: Docker's built-in ones with no container on them); "
          "amber: containers (grey, dashed: not running), each edge labelled with its "
          "address on that network; green: the host, where a published port listens. "
          "A dashed edge: the container shares another container's network namespace. "
          "Hover a node for its IDs.")


def network_picture(g: NetworkGraph) -> Picture:
    """Nodes for every network, container and (if a port is published) the host."""
    pic = Picture()
    used = {ep["network"] for c in g.containers for ep in c["endpoints"]}
    for net in g.networks:
        pic.nodes.append(_network_node(net, net["id"] in used))
    names = {c["name"]: c["id"] for c in g.containers}
    for c in g.containers:
        key = "C" + c["id"]
        pic.nodes.append(_container_node(c))
        for ep in c["endpoints"]:
            label = " ".join([ep["ip"], *(f"({a})" for a in ep["aliases"])]).strip()
            pic.edges.append(("N" + ep["network"], key, {"label": esc(label), "dir": "none"}))
        shared = c["mode"].removeprefix("container:")
        if shared != c["mode"] and shared in names:
            pic.edges.append(("C" + names[shared], key, {"style": "dashed", "dir": "none",
                                                          "label": "netns"}))
        for port in c["ports"]:
            pic.edges.append((key, HOST, {"label": esc(port), "color": "#16a34a"}))
    if any(c["ports"] for c in g.containers):
        pic.nodes.append(Node(HOST, "host", "<<b>the host</b>>",
                              "the host: published ports listen here (docker port)"))
    return pic


def _network_node(net: dict[str, Any], used: bool) -> Node:
    rows = [f"<b>{esc(net['name'])}</b>", f'<font point-size="10">{esc(net["driver"])}'
            + (" · internal" if net["internal"] else "") + "</font>"]
    if net["subnet"]:
        rows.append(f'<font face="Courier" point-size="10">{esc(net["subnet"])}</font>')
    tip = f"network {net['name']} ({net['driver']}) {net['id']}"
    if net["subnet"]:
        tip += f"\nsubnet {net['subnet']}, gateway {net['gateway']}"
    if net["bridge"]:
        tip += f"\nLinux bridge {net['bridge']}"
    quiet = not used and net["name"] in ("bridge", "host", "none")
    return Node("N" + net["id"], "quiet" if quiet else "network", f"<{'<br/>'.join(rows)}>",
                tip)


def _container_node(c: dict[str, Any]) -> Node:
    label = (f'<<b>{esc(c["name"])}</b><br/><font point-size="10">{esc(c["state"])}'
             f'</font><br/><font face="Courier" point-size="10">{esc(short(c["id"]))}</font>>')
    tip = f"container {c['name']} ({c['state']}) {c['id']}\nnetwork mode {c['mode']}"
    if c["ports"]:
        tip += "\npublished: " + ", ".join(c["ports"])
    return Node("C" + c["id"], "container" if c["state"] == "running" else "stopped",
                label, tip)
