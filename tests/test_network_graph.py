"""The network graph's text twin (``network ls --graph``), from a typed result."""

from __future__ import annotations

from layerlab.engine.commands.results import NetworkGraph


def test_text_lists_each_network_with_its_containers() -> None:
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
    assert NetworkGraph(nets, containers).text().splitlines() == [
        "app bridge 10.213.5.0/24 gw 10.213.5.1 internal (llbr-n1)",
        "├─ web 10.213.5.2 running  aliases: www  ports: 127.0.0.1:8080->80/tcp",
        "└─ db exited",
        "host host",
        "└─ tool running",
        "container:web",
        "└─ sidecar running",
    ]
