"""Text rendering of the network graph: each network with the containers on it.

    app bridge 10.213.5.0/24 gw 10.213.5.1 (llbr-3f2a1b0c9d)
    ├─ web 10.213.5.2 running  aliases: www  ports: 127.0.0.1:8080->80/tcp
    └─ client 10.213.5.3 running
    bridge bridge 172.17.0.0/16 gw 172.17.0.1 (llbr0)
    host host
    none null
    └─ offline exited
    container:web
    └─ sidecar running

A stopped container is listed under the networks it will join, without an address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results import NetworkGraph


def _network_line(net: dict[str, Any]) -> str:
    parts = [net["name"], " ", net["driver"]]
    if net["subnet"]:
        parts.append(f" {net['subnet']} gw {net['gateway']}")
    if net["internal"]:
        parts.append(" internal")
    if net["bridge"]:
        parts.append(f" ({net['bridge']})")
    return "".join(parts)


def _container_line(c: dict[str, Any], ep: dict[str, Any] | None) -> str:
    parts = [c["name"]]
    if ep is not None and ep["ip"]:
        parts.append(ep["ip"])
    parts.append(c["state"])
    line = " ".join(parts)
    if ep is not None and ep["aliases"]:
        line += "  aliases: " + ", ".join(ep["aliases"])
    if c["ports"]:
        line += "  ports: " + ", ".join(c["ports"])
    return line


def _branches(lines: list[str], rows: list[str]) -> None:
    for i, row in enumerate(rows):
        lines.append(("└─ " if i == len(rows) - 1 else "├─ ") + row)


def render_networks(g: NetworkGraph) -> str:
    lines: list[str] = []
    for net in g.networks:
        lines.append(_network_line(net))
        rows = []
        for c in g.containers:
            for ep in c["endpoints"]:
                if ep["network"] == net["id"]:
                    rows.append(_container_line(c, ep))
            if not c["endpoints"] and c["mode"] == net["name"]:
                rows.append(_container_line(c, None))
        _branches(lines, rows)
    shared: dict[str, list[str]] = {}
    for c in g.containers:
        if c["mode"].startswith("container:"):
            shared.setdefault(c["mode"], []).append(_container_line(c, None))
    for mode, rows in shared.items():
        lines.append(mode)
        _branches(lines, rows)
    return "\n".join(lines)
