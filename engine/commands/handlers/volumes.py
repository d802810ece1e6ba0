"""Volume commands: volume create/ls/inspect/rm/prune."""

from __future__ import annotations

import argparse
from typing import Any

from ...services import filters
from ...services.engine import Engine
from ...store.volumes import Volume
from .. import IO, human
from ..results import Lines, Result, Table
from .common import confirm, each, inspect_each

VOLUME_COLUMNS = [("Driver", "DRIVER"), ("Name", "VOLUME NAME")]


def _labels(items: list[str]) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in items)


def cmd_volume_create(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """``volume create [NAME]`` (or ``--name``); no name makes an anonymous one."""
    if args.name and args.volume_name and args.name != args.volume_name:
        from ..grammar import UsageError

        raise UsageError('conflicting options: either specify --name or provide positional '
                         'arg, not both\nSee \'docker volume create --help\'.')
    v = engine.volumes.create(args.name or args.volume_name, _labels(args.label), args.driver,
                              _labels(args.opt))
    return Lines([v.Name], kind="id")


def _row(engine: Engine, v: Volume, size: bool) -> dict[str, Any]:
    """The fields of the docker CLI's volumeContext."""
    return {"Name": v.Name, "Driver": v.Driver, "Scope": v.Scope,
            "Mountpoint": engine.volumes.mountpoint(v.Name),
            "Labels": ",".join(f"{k}={val}" for k, val in v.Labels.items()),
            "Links": str(len(engine.volumes.users(v.Name))),
            "Size": human.size(engine.volumes.size(v.Name)) if size else "N/A",
            "CreatedAt": v.CreatedAt}


def cmd_volume_ls(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    vols = engine.volumes.matching(filters.Filters(args.filter))
    size = "{{.Size}}" in args.format.replace(" ", "")
    rows = [_row(engine, v, size) for v in vols]
    template = "{{.Name}}" if args.quiet else args.format
    return Table("volume ls", rows, VOLUME_COLUMNS, template)


def cmd_volume_inspect(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return inspect_each(args.names, engine.volumes.inspect, "volume", args.format, io)


def cmd_volume_rm(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    return each(args.names, lambda n: engine.volumes.remove(n, force=args.force), io)


def cmd_volume_prune(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """Docker 23+: unused anonymous volumes; ``-a`` every unused volume."""
    what = "all local volumes" if args.all else "all anonymous local volumes"
    if not args.force and not confirm(io, f"WARNING! This will remove {what} not used by at "
                                          "least one container."):
        return Lines(["Total reclaimed space: 0B"])
    select = filters.prune_filter(args.filter, "volume")
    removed, size = engine.volumes.prune(all=args.all, select=select)
    head = ["Deleted Volumes:", *removed, ""] if removed else []
    return Lines([*head, f"Total reclaimed space: {human.size(size)}"])
