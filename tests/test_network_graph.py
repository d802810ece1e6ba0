"""The network graph (``network ls --graph``) from a typed result: its text twin, and
the drawing the kernel shows (graphviz's ``dot``, as the layer graph's)."""

from __future__ import annotations

import base64
import re
import shutil

import pytest
from layerlab.engine.commands.results import NetworkGraph
from layerlab.kernel.render import render


def scene() -> NetworkGraph:
    nets = [
        {"id": "n1", "name": "app", "driver": "bridge", "subnet": "10.213.5.0/24",
         "gateway": "10.213.5.1", "bridge": "llbr-n1", "internal": True},
        {"id": "n2", "name": "host", "driver": "host", "subnet": "", "gateway": "",
         "bridge": "", "internal": False},
    ]
    containers = [
        {"id": "c1", "name": "web", "state": "running", "mode": "app",
         "endpoints": [{"network": "n1", "ip": "10.213.5.2", "aliases": ["www"]}],
         "ports": ["127.0.0.1:8080->80/tcp"]},
        {"id": "c2", "name": "db", "state": "exited", "mode": "app",
         "endpoints": [{"network": "n1", "ip": "", "aliases": []}], "ports": []},
        {"id": "c3", "name": "tool", "state": "running", "mode": "host",
         "endpoints": [{"network": "n2", "ip": "", "aliases": []}], "ports": []},
        {"id": "c4", "name": "sidecar", "state": "running", "mode": "container:web",
         "endpoints": [], "ports": []},
    ]
    return NetworkGraph(nets, containers)


def test_text_lists_each_network_with_its_containers() -> None:
    assert scene().text().splitlines() == [
        "app bridge 10.213.5.0/24 gw 10.213.5.1 internal (llbr-n1)",
        "├─ web 10.213.5.2 running  aliases: www  ports: 127.0.0.1:8080->80/tcp",
        "└─ db exited",
        "host host",
        "└─ tool running",
        "container:web",
        "└─ sidecar running",
    ]


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is missing")
def test_the_kernel_draws_networks_containers_addresses_and_published_ports() -> None:
    [out] = render(scene(), engine=None)
    assert out.data["text/plain"] == scene().text()  # the CLI's tree, as the twin
    svg = out.data["image/svg+xml"]
    texts = set(re.findall(r">([^<>]+)</text>", svg))
    assert {"app", "host", "the host", "web", "db", "tool", "sidecar", "10.213.5.2 (www)",
            "127.0.0.1:8080&#45;&gt;80/tcp", "netns"} <= texts, texts
    html = out.data["text/html"]
    assert 'class="layerlab-graph"' in html and "data:image/svg+xml;base64," in html
    drawn = base64.b64decode(html.split("base64,")[1].split(")")[0]).decode()
    assert drawn == svg
    titles = re.findall(r'<span title="([^"]*)"', html)
    assert len(titles) == 7  # one hover box per node: 2 networks, 4 containers, the host
    assert any(t.startswith("container web (running) c1") for t in titles)
    assert "published port listens" in html  # the legend
