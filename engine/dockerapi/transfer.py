"""Moving images: pull and import (``POST /images/create``), push, save (``get``), load.

Pull and push report progress as the registry client's lines (``"<id>: <status>"``);
here each line becomes one of Docker's JSON messages, flushed as it comes, so the CLI
prints the same lines ``layerlab pull`` prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import InvalidArgument
from ..oci import reference as refs
from .images import repo_tag
from .responses import Progress, Response, Stream
from .routing import Request, RouteTable
from .streams import Produced, body_file, written

routes = RouteTable()
_LAYER_LINE = re.compile(r"^([0-9a-f]{12}): (.*)$")
_PULLING_FROM = re.compile(r"^(\S+): (Pulling from .*)$")


def message(line: str) -> dict[str, Any]:
    """A progress line as Docker's JSON message: a layer's lines carry its short ID."""
    m = _LAYER_LINE.match(line) or _PULLING_FROM.match(line)
    if m:
        return {"status": m.group(2), "progressDetail": {}, "id": m.group(1)}
    return {"status": line}


def _lines(call: Callable[[Callable[[str], None]], Any]) -> Iterator[dict[str, Any]]:
    for line in Produced(call):
        yield message(line)


@routes.route("POST", "/images/create", streamed_body=True)
def create(req: Request) -> Response:
    """``fromImage`` pulls; ``fromSrc=-`` imports the request body as a flat tar."""
    q = req.query
    if q.get("fromSrc"):
        return _import(req)
    name = q.get("fromImage")
    if not name:
        raise InvalidArgument("fromImage or fromSrc is required")
    tag = q.get("tag")
    ref = name if not tag else f"{name}@{tag}" if tag.startswith("sha256:") else f"{name}:{tag}"
    refs.parse(ref)
    platform = q.get("platform")
    if platform and platform != f"linux/{_arch()}":
        raise InvalidArgument(f"LayerLab pulls for this host's platform, linux/{_arch()}, "
                              f"not {platform}")
    from ..transfer import registry

    return Progress(_lines(lambda emit: registry.pull(req.engine, ref, emit)))


def _arch() -> str:
    from ..oci.imageconfig import host_arch

    return host_arch()


def _import(req: Request) -> Response:
    q = req.query
    if q.get("fromSrc") != "-":
        raise InvalidArgument("LayerLab imports from the request body only (fromSrc=-): a URL "
                              "needs a network")
    ref = repo_tag(q.get("repo"), q.get("tag"))
    src = body_file(req.stream)
    image_id = req.engine.images.import_tar(src, ref, q.get("message"), q.all("changes"),
                                            "-")
    return Progress(iter([{"status": image_id}]))


@routes.route("POST", "/images/{name:path}/push")
def push(req: Request) -> Response:
    tag = req.query.get("tag")
    ref = f"{req.id}:{tag}" if tag else req.id
    from ..transfer import registry

    return Progress(_lines(lambda emit: registry.push(req.engine, ref, emit)))


def _save(req: Request, names: list[str]) -> Response:
    from ..transfer import archive

    for name in names:
        req.engine.images.resolve(name)
    return Stream(written(lambda out: archive.save(req.engine, names, out)),
                  content_type="application/x-tar")


@routes.route("GET", "/images/{name:path}/get")
def save_one(req: Request) -> Response:
    return _save(req, [req.id])


@routes.route("GET", "/images/get")
def save_many(req: Request) -> Response:
    names = req.query.all("names")
    if not names:
        raise InvalidArgument("save needs at least one image (names=…)")
    return _save(req, names)


@routes.route("POST", "/images/load", streamed_body=True)
def load(req: Request) -> Response:
    from ..transfer import archive

    lines = archive.load(req.engine, body_file(req.stream))
    # As Docker's daemon does, ``quiet`` (the CLI sets it when its output is no terminal)
    # drops progress bars only: the ``Loaded image`` lines are always sent.
    return Progress(iter([{"stream": line + "\n"} for line in lines]))
