"""Image commands: images, history, tag, rmi, image prune, import (S9, S14, S20, S21)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ...errors import EngineError
from ...oci.digest import strip_algo
from .. import IO, error_message, human
from ..results import Graph, History, Lines, Result, Table
from .common import confirm, ellipsis, go_time, open_input

if TYPE_CHECKING:
    from ...services import filters
    from ...services.engine import Engine
    from ...services.images import Removed
    from ...store.layers import Layer

IMAGES_COLUMNS = [("Repository", "REPOSITORY"), ("Tag", "TAG"), ("ID", "IMAGE ID"),
                  ("CreatedSince", "CREATED"), ("Size", "SIZE")]
HISTORY_COLUMNS = [("ID", "IMAGE"), ("CreatedSince", "CREATED"), ("CreatedBy", "CREATED BY"),
                   ("Size", "SIZE"), ("Comment", "COMMENT")]


def _image_rows(engine: Engine, summary: filters.ImageSummary, trunc: bool,
                digests: bool, known: dict[str, Layer]) -> list[dict[str, Any]]:
    """Docker's imageContext rows of one image: a row per repository tag (per digest of
    its repository too, when digests are shown), then digest-only repositories, else one
    ``<none>`` row (the docker CLI's imageFormatTaggedAndDigest)."""
    img = summary.image
    size = human.size(engine.images.size(img, known))
    created = img.config.get("created", "")
    base = {"ID": strip_algo(img.id)[:12] if trunc else img.id,
            "CreatedSince": human.ago(created), "CreatedAt": go_time(created), "Size": size,
            "Containers": "N/A", "SharedSize": "N/A", "UniqueSize": "N/A",
            "VirtualSize": size}
    if not summary.tags and not summary.digests:
        return [{"Repository": "<none>", "Tag": "<none>", "Digest": "<none>", **base}]
    tags: dict[str, list[str]] = {}
    by_repo: dict[str, list[str]] = {}
    for t in summary.tags:
        repo, _, tag = t.rpartition(":")
        tags.setdefault(repo, []).append(tag)
    for d in summary.digests:
        repo, _, dgst = d.partition("@")
        by_repo.setdefault(repo, []).append(dgst)
    rows = []
    for repo, names in tags.items():
        shown = by_repo.pop(repo, []) if digests else []
        for tag in names:
            for dgst in shown or ["<none>"]:
                rows.append({"Repository": repo, "Tag": tag, "Digest": dgst, **base})
    for repo, dgsts in by_repo.items():
        for dgst in dgsts if digests else [""]:
            rows.append({"Repository": repo, "Tag": "<none>", "Digest": dgst, **base})
    return rows


def cmd_images(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S9: top-level images; ``-a`` adds intermediates; ``--tree`` shows shared layers;
    ``--filter`` and a ``REPOSITORY[:TAG]`` (a ``reference`` glob) as Docker's daemon."""
    if args.tree:
        return Graph.of(engine.system.layer_graph())
    from ...services import filters  # the listing's own: ``history``/``rmi`` never load it

    pairs = list(args.filter) + ([("reference", args.reference)] if args.reference else [])
    summaries = filters.images(engine, filters.Filters(pairs), all=args.all)
    digests = args.digests or "{{.Digest}}" in args.format.replace(" ", "")
    known: dict[str, Layer] = {}  # layers read once for the whole listing
    rows = [r for s in summaries
            for r in _image_rows(engine, s, not args.no_trunc, digests, known)]
    if args.quiet:
        seen: list[str] = []
        for r in rows:
            if r["ID"] not in seen:
                seen.append(r["ID"])
        return Table("images", [{"ID": i} for i in seen], IMAGES_COLUMNS, "{{.ID}}")
    columns = IMAGES_COLUMNS
    template = args.format
    if args.digests:
        columns = [*IMAGES_COLUMNS[:2], ("Digest", "DIGEST"), *IMAGES_COLUMNS[2:]]
        if template.startswith("table") and "{{.Digest}}" not in template:
            template += "\t{{.Digest}}"
    return Table("images", rows, columns, template)


def cmd_history(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S21: every layer-making step, newest first."""
    humane = args.human == "true"
    image_id = engine.images.resolve(args.image)
    rows = []
    for h in engine.images.history(image_id):
        created_by = h.created_by.replace("\t", " ")
        rows.append({
            "ID": h.id if args.no_trunc or h.id == "<missing>" else strip_algo(h.id)[:12],
            "CreatedSince": human.ago(h.created) if humane else h.created,
            "CreatedAt": h.created,
            "CreatedBy": created_by if args.no_trunc else ellipsis(created_by, 45),
            "Size": human.size(h.size) if humane else str(h.size),
            "Comment": h.comment,
        })
    template = "{{.ID}}" if args.quiet else args.format
    return History("history", rows, HISTORY_COLUMNS, template, image_id=image_id)


def cmd_tag(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    engine.images.tag(args.source, args.target)
    return Lines([])


def _removed_lines(r: Removed) -> list[str]:
    return [f"{what}: {ident}" for what, ident in r.lines]


def cmd_rmi(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    lines: list[str] = []
    failed = False
    for name in args.images:
        try:
            lines += _removed_lines(engine.images.remove(name, args.force,
                                                         prune=not args.no_prune))
        except EngineError as e:
            io.stdout.write("".join(x + "\n" for x in lines).encode())
            lines = []
            io.say(error_message(e))
            failed = True
    return Lines(lines, exit_code=1 if failed else 0)


def cmd_image_prune(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    what = ("all images without at least one container associated to them" if args.all
            else "all dangling images")
    if not args.force and not confirm(io, f"WARNING! This will remove {what}."):
        return Lines(["Total reclaimed space: 0B"])
    from ...services import filters

    selector = filters.prune_filter(args.filter, "image")
    r = engine.images.prune(all=args.all or selector.all_images, select=selector)
    body = _removed_lines(r)
    head = ["Deleted Images:", *body, ""] if body else []
    return Lines([*head, f"Total reclaimed space: {human.size(r.reclaimed)}"])


def cmd_import(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S20: a flat tar becomes a one-layer image."""
    with open_input(args.file, io) as src:
        # "-" for a file too: Docker's CLI sends a file as the request body, so Docker's
        # daemon records "Imported from -" either way.
        image_id = engine.images.import_tar(src, args.reference, args.message, args.change,
                                            "-")
    return Lines([image_id], kind="id")
