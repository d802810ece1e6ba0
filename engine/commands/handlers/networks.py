"""Network commands: network create/ls/inspect/rm/prune/connect/disconnect, and port."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ...errors import InvalidArgument, NotFound
from ...network.model import Network
from ...network.ports import port_lines
from .. import IO
from ..results import Lines, NetworkGraph, Result, Table
from .common import confirm, each, go_time, inspect_each

if TYPE_CHECKING:
    from ...services.engine import Engine

NETWORK_COLUMNS = [("ID", "NETWORK ID"), ("Name", "NAME"), ("Driver", "DRIVER"),
                   ("Scope", "SCOPE")]


def _labels(items: list[str]) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in items)


def cmd_network_create(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    net = engine.networks.create(args.name, driver=args.driver, subnet=args.subnet,
                                 gateway=args.gateway, internal=args.internal,
                                 labels=_labels(args.label))
    return Lines([net.ID], kind="id")


def _row(net: Network, trunc: bool) -> dict[str, Any]:
    return {"ID": net.ID[:12] if trunc else net.ID, "Name": net.Name, "Driver": net.Driver,
            "Scope": "local", "IPv4": "true", "IPv6": "false",
            "Internal": str(net.Internal).lower(),
            "Labels": ",".join(f"{k}={v}" for k, v in net.Labels.items()),
            "CreatedAt": go_time(net.Created)}


def cmd_network_ls(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    if args.graph:
        return NetworkGraph.of(engine.networks.graph())
    from ...services.networks import NETWORK_FILTERS

    wanted: dict[str, list[str]] = {}
    for f in args.filter:
        key, sep, value = f.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid filter '{f}' (supported: "
                                  f"{', '.join(sorted(NETWORK_FILTERS))})")
        wanted.setdefault(key, []).append(value)
    nets = engine.networks.matching(wanted)
    rows = [_row(n, not args.no_trunc) for n in nets]
    template = "{{.ID}}" if args.quiet else args.format
    return Table("network ls", rows, NETWORK_COLUMNS, template)


def cmd_network_inspect(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return inspect_each(args.names, engine.networks.inspect, "network", args.format, io)


def cmd_network_rm(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    def remove(name: str) -> None:
        try:
            engine.networks.remove(name)
        except NotFound:
            if not args.force:
                raise

    return each(args.names, remove, io)


def cmd_network_prune(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    if not args.force and not confirm(io, "WARNING! This will remove all custom networks "
                                          "not used by at least one container."):
        return Lines([])
    gone = engine.networks.prune()
    return Lines(["Deleted Networks:", *(n.Name for n in gone)] if gone else [])


def cmd_network_connect(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    engine.networks.connect(args.network, args.container, args.alias, args.ip or None)
    return Lines([])


def cmd_network_disconnect(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    engine.networks.disconnect(args.network, args.container, args.force)
    return Lines([])


def cmd_port(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """``docker port``: the container's published ports, or one of them."""
    c = engine.containers.get(args.container)
    return Lines(port_lines(engine.networks.port_settings(c), args.container, args.private))
