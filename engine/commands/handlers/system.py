"""System commands: info, version, system df, system prune, events, inspect (S18)."""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import TYPE_CHECKING, Any

from ...errors import InvalidArgument, NotFound
from ...version import version_info
from .. import IO, human
from ..results import Document, Lines, Result, Streamed, Table
from .common import ClientError, go_time, inspected

if TYPE_CHECKING:
    from ...gotemplate import GoStruct
    from ...services.engine import Engine
    from ...services.events import Event
    from ...services.system import Usage

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
        if args.type in ("", "container") and engine.is_container(name):
            with contextlib.suppress(NotFound):
                found, kind = engine.containers.inspect(name, size=args.size), "container"
        if found is None and args.type in ("", "image"):
            with contextlib.suppress(NotFound):
                found, kind = engine.images.inspect(name), "image"
        if found is None and args.type in ("", "network"):
            with contextlib.suppress(NotFound):
                found, kind = engine.networks.inspect(name), "network"
        if found is None and args.type in ("", "volume"):
            with contextlib.suppress(NotFound):
                found, kind = engine.volumes.inspect(name), "volume"
        if found is None:
            missing.append(name)
            continue
        objects.append(found)
        kinds.add(kind)
    return inspected(objects, [NotFound(f"No such object: {name}") for name in missing],
                     kinds.pop() if len(kinds) == 1 else "", args.format, io)


DF_TYPES = {"Images": "*formatter.diskUsageImagesContext",
            "Containers": "*formatter.diskUsageContainersContext",
            "Local Volumes": "*formatter.diskUsageVolumesContext",
            "Build Cache": "*formatter.diskUsageBuilderContext"}


def cmd_system_df(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """``system df``: a row per kind; ``-v`` a table of each kind's objects."""
    from ...gotemplate import GoStruct

    if args.verbose:
        return _df_verbose(engine, args.format)

    def reclaimable(u: Usage) -> str:
        if u.kind != "Build Cache" and u.size:  # Go's integer division, as the CLI prints
            return f"{human.size(u.reclaimable)} ({u.reclaimable * 100 // u.size}%)"
        return human.size(u.reclaimable)

    rows: list[dict[str, Any]] = [
        GoStruct(DF_TYPES[u.kind], {"Type": u.kind, "TotalCount": str(u.total),
                                    "Active": str(u.active), "Size": human.size(u.size),
                                    "Reclaimable": reclaimable(u)})
        for u in engine.system.disk_usage()]
    return Table("df", rows, DF_COLUMNS, args.format)


DF_IMAGES = [("Repository", "REPOSITORY"), ("Tag", "TAG"), ("ID", "IMAGE ID"),
             ("CreatedSince", "CREATED"), ("Size", "SIZE"), ("SharedSize", "SHARED SIZE"),
             ("UniqueSize", "UNIQUE SIZE"), ("Containers", "CONTAINERS")]
DF_CONTAINERS = [("ID", "CONTAINER ID"), ("Image", "IMAGE"), ("Command", "COMMAND"),
                 ("LocalVolumes", "LOCAL VOLUMES"), ("Size", "SIZE"),
                 ("RunningFor", "CREATED"), ("Status", "STATUS"), ("Names", "NAMES")]
DF_VOLUMES = [("Name", "VOLUME NAME"), ("Links", "LINKS"), ("Size", "SIZE")]
DF_CACHE = [("ID", "CACHE ID"), ("CacheType", "CACHE TYPE"), ("Size", "SIZE"),
            ("CreatedSince", "CREATED"), ("LastUsedSince", "LAST USED"),
            ("UsageCount", "USAGE"), ("Shared", "SHARED")]


def _df_verbose(engine: Engine, template: str) -> Result:
    """Docker's ``system df -v``: images with their shared and unique bytes and how many
    containers use them, containers with their RW layer, volumes, build cache."""
    from ...gotemplate import GoStruct
    from ...oci.digest import strip_algo
    from .containers import _ps_row

    images: list[dict[str, Any]] = []
    for u in engine.system.image_usage():
        repo, _, tag = (u.image.tags[0].rpartition(":") if u.image.tags else ("<none>", "",
                                                                                "<none>"))
        created = u.image.config.get("created", "")
        images.append(GoStruct("*formatter.imageContext", {
            "Containers": str(u.containers), "CreatedAt": go_time(created),
            "CreatedSince": human.ago(created), "Digest": "<none>",
            "ID": strip_algo(u.image.id)[:12], "Repository": repo,
            "SharedSize": human.size(u.shared), "Size": human.size(u.size), "Tag": tag,
            "UniqueSize": human.size(u.size - u.shared)}))
    containers: list[dict[str, Any]] = []
    for c in engine.containers.all():
        row = _ps_row(engine, c, trunc=True, size=False)
        row["Size"] = human.size(engine.containers.rw_size(c))  # no "virtual" here
        containers.append(GoStruct("*formatter.ContainerContext", dict(sorted(row.items()))))
    volumes: list[dict[str, Any]] = [GoStruct("*formatter.volumeContext", {
        "Name": v.Name, "Driver": v.Driver, "Scope": v.Scope, "Labels": ",".join(
            f"{k}={val}" for k, val in v.Labels.items()),
        "Mountpoint": engine.volumes.mountpoint(v.Name),
        "Links": str(len(engine.volumes.users(v.Name))),
        "Size": human.size(engine.volumes.size(v.Name))}) for v in engine.volumes.all()]
    if template and template != "table":
        doc = GoStruct("*formatter.diskUsageContext", {"Images": images,
                                                       "Containers": containers,
                                                       "Volumes": volumes, "BuildCache": []})
        return Document([doc], "df", template)
    parts = ["Images space usage:\n", Table("df", images, DF_IMAGES).text(),
             "\nContainers space usage:\n", Table("df", containers, DF_CONTAINERS).text(),
             "\nLocal Volumes space usage:\n", Table("df", volumes, DF_VOLUMES).text(),
             "\nBuild cache usage: 0B\n", Table("df", [], DF_CACHE).text()]
    return Lines(parts, kind="df-verbose")


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
        from ...gotemplate import GoStruct

        return Document([GoStruct("system.dockerInfo", info)], "info", args.format)
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
        f" Cgroup Driver: {info['CgroupDriver']}",
        *([f" Cgroup Version: {info['CgroupVersion']}"] if info["CgroupVersion"] else []),
        f" Kernel Version: {info['KernelVersion']}",
        f" Operating System: {info['OperatingSystem']}",
        f" Architecture: {info['Architecture']}",
        f" CPUs: {info['NCPU']}",
        f" Docker Root Dir: {info['DockerRootDir']}",
        *_api_lines(info.get("APIServices") or []),
        *_limit_warnings(info),
    ]
    return Lines(lines, kind="info")


def _limit_warnings(info: dict[str, Any]) -> list[str]:
    """Docker's closing ``info`` warnings for limits this host (or mode) cannot apply."""
    if info["LimitsUnsupported"]:
        return ["", f"WARNING: No resource limits: {info['LimitsUnsupported']}; --memory, "
                    "--cpus, --cpu-shares, --cpuset-cpus and --pids-limit are discarded"]
    words = {"MemoryLimit": "memory limit", "SwapLimit": "swap limit",
             "CpuCfsQuota": "cpu cfs quota", "CPUShares": "cpu shares",
             "CPUSet": "cpuset", "PidsLimit": "pids limit"}
    missing = [f"WARNING: No {w} support" for k, w in words.items() if not info[k]]
    return ["", *missing] if missing else []


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
    data = version_info()
    if args.format:
        from ...gotemplate import GoStruct

        typed = GoStruct("system.versionInfo", {
            "Client": GoStruct("system.clientVersion", data["Client"]),
            "Server": GoStruct("*system.serverVersion", data["Server"])})
        return Document([typed], "version", args.format)
    client, server = data["Client"], data["Server"]
    return Lines([
        "Client:", f" Version:           {client['Version']}",
        f" Python version:    {client['GoVersion'].removeprefix('python')}",
        f" OS/Arch:           {client['Os']}/{client['Arch']}", "",
        "Server: LayerLab Engine", f" Version:          {server['Version']}",
        f" Kernel Version:   {server['KernelVersion']}"])


# -- system prune ------------------------------------------------------------------------------
def cmd_system_prune(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """Docker's ``system prune``: stopped containers, unused custom networks, then dangling
    (``-a``: unused) images and the untagged parents they free. LayerLab's build cache is
    its intermediate images, which go with them; with ``--volumes``, unused anonymous
    volumes (Docker 23+: named ones only by ``volume prune -a``)."""
    from ...services import filters
    from .common import confirm

    containers = filters.prune_filter(args.filter, "container")
    images = filters.prune_filter(args.filter, "image")
    warnings = ["all stopped containers", "all networks not used by at least one container"]
    if args.volumes:
        warnings.append("all anonymous volumes not used by at least one container")
    warnings.append("all images without at least one container associated to them"
                    if args.all else "all dangling images")
    shown = [f"{k}={v}" for k, v in sorted(args.filter) if k in ("label", "label!", "until")]
    text = "WARNING! This will remove:\n" + "".join(f"  - {w}\n" for w in warnings)
    if shown:
        text += "\n  Items to be pruned will be filtered with:\n" + "".join(
            f"  - {f}\n" for f in shown)
    if not args.force and not confirm(io, text.rstrip("\n") + "\n"):
        return Lines(["Total reclaimed space: 0B"])
    out: list[str] = []
    removed, size = engine.containers.prune(containers)
    if removed:
        out += ["Deleted Containers:", *removed, ""]
    networks = engine.networks.prune(containers)  # label/until, as for containers
    if networks:
        out += ["Deleted Networks:", *(n.Name for n in networks), ""]
    volume_bytes = 0
    if args.volumes:
        gone, volume_bytes = engine.volumes.prune(select=filters.prune_filter(
            [(k, v) for k, v in args.filter if k in ("label", "label!")], "volume"))
        if gone:
            out += ["Deleted Volumes:", *gone, ""]
    r = engine.images.prune(all=args.all or images.all_images, select=images)
    if r.lines:
        out += ["Deleted Images:", *(f"{what}: {ident}" for what, ident in r.lines), ""]
    total = size + r.reclaimed + volume_bytes
    return Lines([*out, f"Total reclaimed space: {human.size(total)}"])


# -- events ------------------------------------------------------------------------------------
_MESSAGE_TAGS = {"Status": "status,omitempty", "ID": "id,omitempty", "From": "from,omitempty",
                 "Scope": "scope,omitempty", "Time": "time,omitempty",
                 "TimeNano": "timeNano,omitempty"}


def _message(ev: Event | None) -> GoStruct:
    """The docker CLI's ``events.Message`` (with the fields of API < 1.52) for templates."""
    from ...gotemplate import GoStruct

    rec = ev.legacy_record() if ev else {}
    actor = rec.get("Actor") or {"ID": "", "Attributes": {}}
    return GoStruct("*events.Message", {
        "Status": rec.get("status", ""), "ID": rec.get("id", ""), "From": rec.get("from", ""),
        "Type": rec.get("Type", ""), "Action": rec.get("Action", ""),
        "Actor": GoStruct("events.Actor", {"ID": actor["ID"],
                                           "Attributes": actor["Attributes"]}),
        "Scope": rec.get("scope", ""), "Time": rec.get("time", 0),
        "TimeNano": rec.get("timeNano", 0)}, _MESSAGE_TAGS)


def _pretty(ev: Event) -> str:
    """The docker CLI's prettyPrintEvent."""
    from ...timestamps import format_nanos

    line = f"{format_nanos(ev.timeNano)} {ev.Type} {ev.Action} {ev.ID}"
    if ev.Attributes:
        line += " (" + ", ".join(f"{k}={v}" for k, v in sorted(ev.Attributes.items())) + ")"
    return line


def cmd_events(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """``docker events``: the logged events since ``--since`` (none without it), then new
    ones as they happen, until ``--until`` (if that is past: only the logged ones)."""
    from ... import gotemplate
    from ...services.events import EventFilter
    from ..results import FormatError

    tmpl = None
    if args.format:
        try:
            tmpl = gotemplate.parse("{{json .}}" if args.format == "json" else args.format)
            tmpl.render(_message(None))  # Docker checks a bad field on an empty message
        except gotemplate.TemplateError as e:
            raise FormatError(f"Error parsing format: {e}", 64) from None
    start = time.time_ns()
    since = _event_time(args.since, start)
    until = _event_time(args.until, start)
    if until and until < since:
        raise InvalidArgument(f"`since` time ({_as_query(since)}) cannot be after `until` time "
                              f"({_as_query(until)})")
    wanted = EventFilter(args.filter)

    def show(ev: Event) -> None:
        if not wanted(ev):
            return
        if tmpl is None:
            text = _pretty(ev)
        else:
            try:
                text = tmpl.render(_message(ev))
            except gotemplate.TemplateError as e:
                raise FormatError(str(e)) from None
        io.stdout.write(text.encode("utf-8", "surrogateescape") + b"\n")
        io.stdout.flush()

    for ev in engine.events.replay_and_follow(start, since, until):
        show(ev)
    return Streamed()


def _event_time(value: str, now_ns: int) -> int:
    if not value:
        return 0
    from ...timestamps import to_nanos

    try:
        return to_nanos(value, now_ns / 1e9)
    except ValueError as e:
        raise ClientError(str(e)) from None


def _as_query(nanos: int) -> str:
    return f"{nanos // 1_000_000_000}.{nanos % 1_000_000_000:09d}"
