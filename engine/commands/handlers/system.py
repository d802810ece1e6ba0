"""System commands: info, version, system df, inspect (S18)."""

from __future__ import annotations

import argparse
import contextlib
import platform
from typing import Any

from ...errors import NotFound
from ...services.engine import Engine
from ...services.system import VERSION
from .. import IO, error_message, human
from ..results import Document, Lines, Result, Table

DF_COLUMNS = [("Type", "TYPE"), ("TotalCount", "TOTAL"), ("Active", "ACTIVE"),
              ("Size", "SIZE"), ("Reclaimable", "RECLAIMABLE")]


def cmd_inspect(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S18: JSON metadata of containers, images and networks (in that order, as Docker
    looks them up)."""
    objects: list[dict[str, Any]] = []
    kinds: set[str] = set()
    missing = []
    for name in args.names:
        found, kind = None, ""
        if args.type in ("", "container"):
            with contextlib.suppress(NotFound):
                found, kind = engine.containers.inspect(name), "container"
        if found is None and args.type in ("", "image"):
            with contextlib.suppress(NotFound):
                found, kind = engine.images.inspect(name), "image"
        if found is None and args.type in ("", "network"):
            with contextlib.suppress(NotFound):
                found, kind = engine.networks.inspect(name), "network"
        if found is None:
            missing.append(name)
            continue
        objects.append(found)
        kinds.add(kind)
    if missing:
        if objects:
            io.stdout.write((Document(objects, template=args.format).text() + "\n").encode())
        for name in missing:
            io.say(error_message(NotFound(f"No such object: {name}")))
        return Lines([], exit_code=1)
    return Document(objects, kinds.pop() if len(kinds) == 1 else "", args.format)


def cmd_system_df(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    def pct(part: int, whole: int) -> str:
        return f"{human.size(part)} ({round(100 * part / whole) if whole else 0}%)"

    rows = []
    for u in engine.system.disk_usage():
        shares = u.kind in ("Images", "Containers")
        rows.append({"Type": u.kind, "TotalCount": str(u.total), "Active": str(u.active),
                     "Size": human.size(u.size),
                     "Reclaimable": pct(u.reclaimable, u.size) if shares
                     else human.size(u.reclaimable)})
    return Table("df", rows, DF_COLUMNS, args.format)


CHECK_COLUMNS = [("Kind", "KIND"), ("Object", "OBJECT"), ("Problem", "PROBLEM"),
                 ("Action", "ACTION")]


def cmd_system_check(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """Report (and with ``--repair`` fix) every inconsistency of the store; exit 1 while
    any is left unrepaired."""
    from ...services.check import Checker

    found = Checker(engine).run(repair=args.repair)
    if not found and not args.format:
        return Lines(["The store is consistent."])
    rows = [{"Kind": f.kind, "Object": f.object, "Problem": f.problem,
             "Action": "repaired" if f.repaired else
             ("could not repair" if args.repair else "run with --repair")} for f in found]
    exit_code = 1 if any(not f.repaired for f in found) else 0
    return Table("check", rows, CHECK_COLUMNS, args.format, exit_code=exit_code)


def cmd_info(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    info = engine.system.info()
    if args.format:
        return Document([info], "info", args.format)
    lines = [
        "Client:",
        " Context:    default",
        "",
        "Server:",
        f" Containers: {info['Containers']}",
        f"  Running: {info['ContainersRunning']}",
        f"  Paused: {info['ContainersPaused']}",
        f"  Stopped: {info['ContainersStopped']}",
        f" Images: {info['Images']}",
        f" Server Version: layerlab {info['ServerVersion']}",
        f" Storage Driver: {info['Driver']}",
        *([f"  Why: {info['DriverReason']}"] if info["DriverReason"] else []),
        f" Isolation: {info['Isolation']}",
        f"  Why: {info['IsolationReason']}",
        "  Probes:",
        *(f"   {p['Mode']}: {'works' if p['Works'] else 'no'}: {p['Found']}"
          for p in info["IsolationProbes"]),
        *(["  Cannot show:"] if info["IsolationLimits"] else []),
        *(f"   {note}" for note in info["IsolationLimits"]),
        f" Pause: {info['Pause']}",
        f" Cgroup Freezer: {info['CgroupFreezer'] or 'none'}",
        f" Kernel Version: {info['KernelVersion']}",
        f" Operating System: {info['OperatingSystem']}",
        f" Architecture: {info['Architecture']}",
        f" CPUs: {info['NCPU']}",
        f" Docker Root Dir: {info['DockerRootDir']}",
        *_api_lines(info.get("APIServices") or []),
    ]
    return Lines(lines, kind="info")


def _api_lines(uris: list[str]) -> list[str]:
    """Where the Docker API is served for this engine (``DOCKER_HOST``), if it is."""
    if uris:
        return [f" Docker API: {uri} (running)" for uri in uris]
    from ...dockerapi.listen import default_uri

    return [f" Docker API: not running (layerlab system service serves it on "
            f"{default_uri()})"]


def cmd_system_service(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """Serve the Docker Engine API until SIGINT/SIGTERM or ``--time`` idle seconds. Needs a
    process of its own: its containers are started by a spawner forked before any thread
    (see ``dockerapi.spawner``), so a threaded caller (the kernel) starts it as a
    subprocess (``layerlab.engine.start_service``)."""
    import threading

    from ...dockerapi import default_uri, serve
    from ..grammar import UsageError

    if threading.active_count() > 1:
        raise UsageError("docker system service: run it in a process of its own (from a "
                         "notebook, use layerlab.engine.start_service)")
    serve(lambda: engine, args.uri or default_uri(), args.time,
          allow_remote=args.allow_remote, socket_group=args.group)
    return Lines([])


def cmd_version(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    data = engine.system.version()
    if args.format:
        return Document([data], "version", args.format)
    return Lines([
        "Client:", f" Version:           {VERSION}",
        f" Python version:    {platform.python_version()}", " OS/Arch:           linux/"
        + platform.machine(), "", "Server: LayerLab Engine", f" Version:          {VERSION}",
        f" Kernel Version:   {platform.release()}"])
