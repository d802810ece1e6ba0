"""Image endpoints: list, inspect, history, tag, remove, prune, and ``commit``.

The list has Docker's full shape — ``ParentId``, ``SharedSize``, ``VirtualSize``,
``Labels``, ``Containers``, ``RepoDigests`` — because strict clients read every field
(Podman 4.3 leaves some out). Sizes that Docker computes only on request (``SharedSize``,
``Containers``) are -1 unless asked for, as in Docker.
"""

from __future__ import annotations

from typing import Any

from ..commands import human
from ..errors import InvalidArgument
from ..oci import reference as refs
from ..oci.digest import chain_ids
from ..services.images import Removed
from ..store.images import Image
from .responses import JSON, Raw, Response
from .routing import Request, RouteTable

routes = RouteTable()


def repo_tag(repo: str, tag: str) -> str:
    """``repo``+``tag`` query arguments as one reference (``import`` sends the whole
    reference in ``repo``); "" when neither is given."""
    if not repo:
        return ""
    ref = f"{repo}:{tag}" if tag else repo
    refs.parse(ref)
    return ref


def _unix(stamp: str) -> int:
    return int(human.parse_time(stamp).timestamp()) if stamp else 0


def list_item(req: Request, img: Image, tags: list[str], shared: dict[str, int] | None,
              users: dict[str, int] | None) -> dict[str, Any]:
    size = req.engine.images.size(img)
    return {
        "Id": img.id,
        "ParentId": img.parent,
        "RepoTags": tags,
        "RepoDigests": [],
        "Created": _unix(img.config.get("created", "")),
        "Size": size,
        "SharedSize": -1 if shared is None else shared.get(img.id, 0),
        "VirtualSize": size,
        "Labels": img.run_config.get("Labels") or {},
        "Containers": -1 if users is None else users.get(img.id, 0),
    }


def shared_sizes(req: Request, images: list[Image]) -> dict[str, int]:
    """Bytes of each image's layers that another image also uses."""
    owners: dict[str, set[str]] = {}
    for img in req.engine.images.all():
        for cid in chain_ids(img.diff_ids):
            owners.setdefault(cid, set()).add(img.id)
    out = {}
    for img in images:
        layers = req.engine.images.layers(img)
        out[img.id] = sum(layer.size for layer in layers if len(owners[layer.chain_id]) > 1)
    return out


@routes.route("GET", "/images/json")
def list_images(req: Request) -> Response:
    q = req.query
    filters = q.filters()
    if q.get("filter"):  # the pre-1.25 form of a reference filter
        filters.setdefault("reference", []).append(q.get("filter"))
    listed = req.engine.images.listed(all=q.flag("all"), filters=filters)
    images = [img for img, _ in listed]
    shared = shared_sizes(req, images) if q.flag("shared-size") else None
    users: dict[str, int] | None = None
    if q.flag("shared-size"):
        users = {}
        for c in req.engine.containers.all():
            users[c.Image] = users.get(c.Image, 0) + 1
    return JSON([list_item(req, img, tags, shared, users) for img, tags in listed])


@routes.route("GET", "/images/{name:path}/json")
def inspect(req: Request) -> Response:
    doc = req.engine.images.inspect(req.id)
    doc.setdefault("VirtualSize", doc["Size"])
    doc.setdefault("DockerVersion", "")
    return JSON(doc)


@routes.route("GET", "/images/{name:path}/history")
def history(req: Request) -> Response:
    image_id = req.engine.images.resolve(req.id)
    tags = {img.id: img.tags for img in req.engine.images.all()}
    return JSON([{"Id": row.id, "Created": _unix(row.created), "CreatedBy": row.created_by,
                  "Tags": tags.get(row.id) or None, "Size": row.size, "Comment": row.comment}
                 for row in req.engine.images.history(image_id)])


@routes.route("POST", "/images/{name:path}/tag")
def tag(req: Request) -> Response:
    target = repo_tag(req.query.get("repo"), req.query.get("tag"))
    if not target:
        raise InvalidArgument("repository name must have at least one component")
    req.engine.images.tag(req.id, target)
    return Raw(b"", 201)


def removed_items(removed: Removed) -> list[dict[str, str]]:
    return [{what.capitalize(): ident} for what, ident in removed.lines]


@routes.route("DELETE", "/images/{name:path}")
def remove(req: Request) -> Response:
    if req.query.flag("noprune"):
        raise InvalidArgument("rmi --no-prune is not supported by LayerLab yet")
    return JSON(removed_items(req.engine.images.remove(req.id, req.query.flag("force"))))


@routes.route("POST", "/images/prune")
def prune(req: Request) -> Response:
    """Dangling images, or with ``dangling=false`` every unused one (``prune -a``)."""
    filters = req.query.filters()
    dangling = [v.lower() for v in filters.pop("dangling", [])]
    if any(filters.values()):
        raise InvalidArgument("image prune filters other than dangling are not supported by "
                              "LayerLab yet")
    removed = req.engine.images.prune(all=dangling in (["false"], ["0"]))
    return JSON({"ImagesDeleted": removed_items(removed) or None,
                 "SpaceReclaimed": removed.reclaimed})


@routes.route("POST", "/commit")
def commit(req: Request) -> Response:
    """``docker commit`` (its body is empty; docker-py sends ``{}``): the container's
    read-write layer becomes a new image."""
    q = req.query
    body = req.json()
    if body is not None and not (isinstance(body, dict) and not any(body.values())):
        raise InvalidArgument("a commit config body is not supported by LayerLab yet: pass "
                              "the changes as Dockerfile instructions (--change)")
    ref = repo_tag(q.get("repo"), q.get("tag"))
    image_id = req.engine.containers.commit(q.get("container"), ref, q.get("comment"),
                                            q.get("author"), q.all("changes"),
                                            pause=q.flag("pause", default=True))
    return JSON({"Id": image_id}, 201)
