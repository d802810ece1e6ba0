"""Volume endpoints (``/volumes``…) and a container's archive (``/containers/{id}/archive``:
what ``docker cp`` calls), over the volumes and cp services the CLI uses too.

The archive's path stat travels in ``X-Docker-Container-Path-Stat`` (base64 of a JSON
object), which the docker CLI reads to decide where a copy lands, as for Docker's daemon.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..errors import InvalidArgument
from ..services import filters
from ..services.cp import PathStat, spool
from .responses import JSON, Raw, Response, Stream
from .routing import Request, RouteTable
from .streams import body_file, written

routes = RouteTable()
STAT_HEADER = "X-Docker-Container-Path-Stat"


def _filters(req: Request) -> filters.Filters:
    return filters.Filters((k, v) for k, values in req.query.filters().items() for v in values)


@routes.route("GET", "/volumes")
def list_volumes(req: Request) -> Response:
    vols = req.engine.volumes.matching(_filters(req))
    return JSON({"Volumes": [req.engine.volumes.inspect(v.Name) for v in vols],
                 "Warnings": None})


@routes.route("POST", "/volumes/create")
def create(req: Request) -> Response:
    body = req.json() or {}
    if not isinstance(body, dict):
        raise InvalidArgument("volume create: the body must be a JSON object")
    labels = body.get("Labels") or {}
    opts = body.get("DriverOpts") or {}
    if not isinstance(labels, dict) or not isinstance(opts, dict):
        raise InvalidArgument("volume create: Labels and DriverOpts must be objects")
    v = req.engine.volumes.create(str(body.get("Name") or ""), labels,
                                  str(body.get("Driver") or "local"), opts)
    return JSON(req.engine.volumes.inspect(v.Name), 201)


@routes.route("POST", "/volumes/prune")
def prune(req: Request) -> Response:
    f = _filters(req)
    everything = f.bool_or_default("all", False)
    select = filters.prune_filter(((k, v) for k, values in f.fields.items() for v in values
                                   if k != "all"), "volume")
    removed, size = req.engine.volumes.prune(all=everything, select=select)
    return JSON({"VolumesDeleted": removed or None, "SpaceReclaimed": size})


@routes.route("GET", "/volumes/{name}")
def inspect(req: Request) -> Response:
    return JSON(req.engine.volumes.inspect(req.params["name"]))


@routes.route("DELETE", "/volumes/{name}")
def remove(req: Request) -> Response:
    req.engine.volumes.remove(req.params["name"], force=req.query.flag("force"))
    return Raw(b"", 204)


# -- a container's archive (docker cp) --------------------------------------------------
def _stat_header(found: PathStat) -> tuple[str, str]:
    doc: dict[str, Any] = {"name": found.name, "size": found.size, "mode": _go_mode(found.mode),
                           "mtime": _rfc3339(found.mtime), "linkTarget": found.link_target}
    return STAT_HEADER, base64.b64encode(json.dumps(doc).encode()).decode()


def _go_mode(mode: int) -> int:
    """A ``stat`` mode as Go's ``os.FileMode``: the permission bits, with the type as
    Go's high bits (what the CLI tests with ``IsDir`` and ``ModeSymlink``)."""
    import stat

    bits = mode & 0o777
    if stat.S_ISDIR(mode):
        bits |= 1 << 31
    elif stat.S_ISLNK(mode):
        bits |= 1 << 27
    return bits


def _rfc3339(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _path(req: Request) -> str:
    path = req.query.get("path")
    if not path:
        raise InvalidArgument("path cannot be empty")
    return path


@routes.route("HEAD", "/containers/{id}/archive")
def archive_stat(req: Request) -> Response:
    found = req.engine.cp.stat(req.id, _path(req))
    return Raw(b"", 200, headers=[_stat_header(found)])


@routes.route("GET", "/containers/{id}/archive")
def archive_get(req: Request) -> Response:
    path = _path(req)
    found = req.engine.cp.stat(req.id, path)
    return Stream(written(lambda out: req.engine.cp.archive(req.id, path, out)),
                  content_type="application/x-tar", headers=[_stat_header(found)])


@routes.route("PUT", "/containers/{id}/archive", streamed_body=True)
def archive_put(req: Request) -> Response:
    path = _path(req)
    if not req.engine.cp.stat(req.id, path, follow=True).is_dir:
        raise InvalidArgument(f"extraction point is not a directory: {path}")
    body = body_file(req.stream)
    whole = spool()  # read to the end first: the CLI waits for the answer after sending
    while chunk := body.read(1 << 20):
        whole.write(chunk)
    whole.seek(0)
    req.engine.cp.extract(req.id, path, whole, copy_uid_gid=req.query.flag("copyUIDGID"))
    return Raw(b"", 200)
