"""Container endpoints: create, start, stop, kill, restart, pause, unpause, wait, attach,
logs, top, changes, export, inspect, list, prune, resize, remove, stats, update.

Each is a thin translation between Docker's wire shapes and the containers and tasks
services, which the CLI calls too; starts go through ``Lifecycle`` so that clients attached
before the start get the output and ``wait`` gets the exit code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..commands import human
from ..errors import InvalidArgument, NotFound, RuntimeFailure
from ..oci.digest import short
from ..runtime.logs import LogEntry
from ..services.tasks import start_failure
from ..store.containers import Container
from . import usage
from .createopts import create_options
from .hijack import MULTIPLEXED, RAW, StreamType, frame
from .lifecycle import Subscriber
from .responses import JSON, Raw, Response, Stream
from .routing import Request, RouteTable
from .streams import written

routes = RouteTable()
NO_CONTENT = Raw(b"", 204)
NOT_MODIFIED = Raw(b"", 304)
CHANGE_KINDS = {"C": 0, "A": 1, "D": 2}
WAIT_CONDITIONS = ("not-running", "next-exit", "removed")


def _unix(stamp: str) -> int:
    return int(human.parse_time(stamp).timestamp()) if stamp else 0


# -- create and start ------------------------------------------------------------------
@routes.route("POST", "/containers/create")
def create(req: Request) -> Response:
    image, opts = create_options(req.json(), req.query.get("name"))
    for network in opts.network.networks:
        if network.startswith("container:") or network in ("host", "none", "bridge"):
            continue
        try:
            req.engine.networks.get(network)
        except NotFound as e:  # 400: a 404 would make the CLI pull the image and retry
            raise InvalidArgument(str(e)) from None
    opts.resources, warnings = req.engine.limits.check(opts.resources, opts.ulimits)
    c = req.engine.containers.create(image, opts)
    return JSON({"Id": c.ID, "Warnings": warnings}, 201)


def start_container(req: Request, c: Container) -> bool:
    """Start through the lifecycle (attached clients, exit code); False if it ran."""
    try:
        started = req.daemon.lifecycle.start(c.ID, bool(c.Config.get("OpenStdin")))
    except RuntimeFailure as e:
        raise start_failure(c.ID, e) from None
    return started is not None


@routes.route("POST", "/containers/{id}/start")
def start(req: Request) -> Response:
    c = req.engine.containers.get(req.id)
    if c.State.Running and not c.State.Paused:
        return NOT_MODIFIED
    return NO_CONTENT if start_container(req, c) else NOT_MODIFIED


# -- signals and freezing -----------------------------------------------------------------
def _timeout(req: Request) -> float | None:
    return float(req.query.number("t")) if req.query.get("t") else None


@routes.route("POST", "/containers/{id}/stop")
def stop(req: Request) -> Response:
    c = req.engine.containers.get(req.id)
    if not c.State.Running:
        return NOT_MODIFIED
    req.engine.tasks.stop(c.ID, _timeout(req), req.query.get("signal"))
    return NO_CONTENT


@routes.route("POST", "/containers/{id}/restart")
def restart(req: Request) -> Response:
    """Docker's restart: stop (if running), then start, as one call."""
    c = req.engine.containers.get(req.id)
    if c.State.Running:
        c = req.engine.tasks.stop(c.ID, _timeout(req), req.query.get("signal"))
    start_container(req, c)
    return NO_CONTENT


@routes.route("POST", "/containers/{id}/kill")
def kill(req: Request) -> Response:
    req.engine.tasks.kill(req.id, req.query.get("signal") or "SIGKILL")
    return NO_CONTENT


@routes.route("POST", "/containers/{id}/pause")
def pause(req: Request) -> Response:
    req.engine.tasks.pause(req.id)
    return NO_CONTENT


@routes.route("POST", "/containers/{id}/unpause")
def unpause(req: Request) -> Response:
    req.engine.tasks.unpause(req.id)
    return NO_CONTENT


@routes.route("POST", "/containers/{id}/resize")
def resize(req: Request) -> Response:
    """The window size of a ``-t`` container's pty (``h`` rows, ``w`` columns), through
    its monitor; for a container without one there is nothing to resize."""
    from ..runtime import attach

    c = req.engine.tasks.running(req.id)
    try:
        rows, cols = int(req.query.get("h") or 0), int(req.query.get("w") or 0)
    except ValueError:
        raise InvalidArgument("resize: h and w must be numbers") from None
    if c.Config.get("Tty"):
        attach.resize(str(req.engine.containers.state_dir(c)), rows, cols)
    return Raw(b"", 200)


@routes.route("GET", "/containers/{id}/stats")
def stats(req: Request) -> Response:
    req.engine.containers.get(req.id)
    return Stream(usage.stats_stream(req.engine, req.id, req.query.flag("stream", True),
                                     req.query.flag("one-shot")), "application/json")


@routes.route("POST", "/containers/{id}/update")
def update(req: Request) -> Response:
    return JSON(usage.update(req.engine, req.id, req.json()))


# -- waiting, attaching, logs -------------------------------------------------------------
@routes.route("POST", "/containers/{id}/wait")
def wait(req: Request) -> Response:
    """The headers go out at once (the CLI starts the container only once it has them),
    the ``{"StatusCode": N}`` body when ``condition`` holds."""
    condition = req.query.get("condition") or "not-running"
    if condition not in WAIT_CONDITIONS:
        raise InvalidArgument(f"invalid condition: {condition!r} (one of "
                              f"{', '.join(WAIT_CONDITIONS)})")
    c = req.engine.containers.get(req.id)

    def body() -> Iterator[bytes]:
        code, error = req.daemon.lifecycle.wait(c.ID, condition, req.gone)
        if code >= 0:
            doc: dict[str, Any] = {"StatusCode": code}
            if error:
                doc["Error"] = {"Message": error}
            from .responses import encode_json

            yield encode_json(doc)

    return Stream(body(), content_type="application/json", eager_headers=True)


def _stream_of(entry: LogEntry) -> StreamType:
    return StreamType.STDERR if entry.stream == "stderr" else StreamType.STDOUT


@routes.route("POST", "/containers/{id}/attach")
def attach(req: Request) -> Response:
    """Hijack the connection. A client attached before the start is registered now,
    before the ``101``, so a start that follows it at once cannot miss it; its stdin is
    read only once the container runs (whatever the client sent early stays buffered)."""
    c = req.engine.containers.get(req.id)
    q = req.query
    lifecycle = req.daemon.lifecycle
    sub = Subscriber(None, q.flag("stdin") and bool(c.Config.get("OpenStdin")),
                     q.flag("stdout"), q.flag("stderr"))
    early = q.flag("stream") and not c.State.Running
    if early:
        lifecycle.attach_before_start(c.ID, sub)

    def session(conn: Any) -> None:
        sub.connect(conn)
        if q.flag("logs"):
            for entry in req.engine.containers.logs(c.ID):
                sub.send(_stream_of(entry), entry.text)
        if q.flag("stream") and not early:
            relay = lifecycle.relay(c.ID)
            if relay is None or not relay.subscribe(sub):
                # Started by someone else: its output is the log's, from now on.
                for entry in req.engine.containers.logs(c.ID, follow=True, tail=0,
                                                        cancelled=sub.done.is_set):
                    sub.send(_stream_of(entry), entry.text)
                sub.done.set()
        if q.flag("stream"):
            sub.done.wait()
        conn.close()

    return _hijack(session, c)


def _hijack(session: Any, c: Container) -> Response:
    from .responses import Hijack

    return Hijack(session, multiplexed=not c.Config.get("Tty"))


@routes.route("GET", "/containers/{id}/logs")
def logs(req: Request) -> Response:
    q = req.query
    want = {"stdout": q.flag("stdout"), "stderr": q.flag("stderr")}
    if not any(want.values()):
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    tail_text = q.get("tail", "all") or "all"
    if tail_text != "all" and not tail_text.isdigit():
        raise InvalidArgument(f"invalid value for tail: {tail_text!r} (a number or all)")
    c = req.engine.containers.get(req.id)
    multiplexed = not c.Config.get("Tty")
    entries = req.engine.containers.logs(
        c.ID, follow=q.flag("follow"), tail=None if tail_text == "all" else int(tail_text),
        cancelled=req.gone.is_set, since_ns=q.nanos("since"), until_ns=q.nanos("until"))
    stamps = q.flag("timestamps")

    def chunks() -> Iterator[bytes]:
        for entry in entries:
            if want[entry.stream]:
                data = (entry.time + " ").encode() + entry.text if stamps else entry.text
                yield frame(_stream_of(entry), data) if multiplexed else data

    content_type = MULTIPLEXED if multiplexed and req.api_at_least("1.42") else RAW
    return Stream(chunks(), content_type=content_type, eager_headers=True)


# -- processes and the read-write layer ----------------------------------------------------
@routes.route("GET", "/containers/{id}/top")
def top(req: Request) -> Response:
    processes = req.engine.tasks.top(req.id)
    return JSON({"Titles": ["UID", "PID", "PPID", "CMD"],
                 "Processes": [[p.uid, str(p.pid), str(p.ppid), p.cmd] for p in processes]})


@routes.route("GET", "/containers/{id}/changes")
def changes(req: Request) -> Response:
    return JSON([{"Path": ch.path, "Kind": CHANGE_KINDS[ch.kind]}
                 for ch in req.engine.containers.diff(req.id)])


@routes.route("GET", "/containers/{id}/export")
def export(req: Request) -> Response:
    c = req.engine.containers.get(req.id)
    return Stream(written(lambda out: req.engine.containers.export(c.ID, out)),
                  content_type="application/x-tar")


# -- records ---------------------------------------------------------------------------------
@routes.route("GET", "/containers/{id}/json")
def inspect(req: Request) -> Response:
    doc = req.engine.containers.inspect(req.id)
    if req.query.flag("size"):
        c = req.engine.containers.get(doc["Id"])
        doc["SizeRw"] = req.engine.containers.rw_size(c)
        doc["SizeRootFs"] = doc["SizeRw"] + sum(layer.size
                                                for layer in req.engine.containers.chain(c))
    return JSON(doc)


def list_item(req: Request, c: Container, size: bool) -> dict[str, Any]:
    """One entry of Docker's container list (API 1.43 shape)."""
    engine = req.engine
    item: dict[str, Any] = {
        "Id": c.ID,
        "Names": ["/" + c.Name],
        "Image": c.ImageRef if engine.images.exists(c.Image) else short(c.Image),
        "ImageID": c.Image,
        "Command": " ".join(c.command),
        "Created": _unix(c.Created),
        "Ports": [],
        "Labels": c.Config.get("Labels") or {},
        "State": c.State.Status,
        "Status": human.status(c.State),
        "HostConfig": {"NetworkMode": "none"},
        "NetworkSettings": {"Networks": {}},
        "Mounts": [],
    }
    if size:
        item["SizeRw"] = engine.containers.rw_size(c)
        item["SizeRootFs"] = item["SizeRw"] + sum(lay.size for lay in engine.containers.chain(c))
    return item


@routes.route("GET", "/containers/json")
def list_containers(req: Request) -> Response:
    """``ps``: running ones, or ``all``; ``limit`` newest (``-n``, ``-l``); ``filters``."""
    q = req.query
    cs = req.engine.containers.all()
    limit = q.number("limit", -1) if q.get("limit") else -1
    if not q.flag("all") and limit <= 0:
        cs = [c for c in cs if c.State.Running]
    cs = req.engine.containers.matching(cs, q.filters())
    if limit > 0:
        cs = cs[:limit]
    return JSON([list_item(req, c, q.flag("size")) for c in cs])


@routes.route("POST", "/containers/{id}/rename")
def rename(req: Request) -> Response:
    req.engine.containers.rename(req.id, req.query.get("name"))
    return NO_CONTENT


@routes.route("POST", "/containers/prune")
def prune(req: Request) -> Response:
    if any(req.query.filters().values()):
        raise InvalidArgument("container prune filters are not supported by LayerLab yet")
    removed, size = req.engine.containers.prune()
    for cid in removed:
        req.daemon.lifecycle.forget(cid)
    return JSON({"ContainersDeleted": removed or None, "SpaceReclaimed": size})


@routes.route("DELETE", "/containers/{id}")
def remove(req: Request) -> Response:
    if req.query.flag("link"):
        raise InvalidArgument("links are not supported by LayerLab")
    c = req.engine.containers.remove(req.id, req.query.flag("force"),
                                     volumes=req.query.flag("v"))
    req.daemon.lifecycle.forget(c.ID)
    return NO_CONTENT
