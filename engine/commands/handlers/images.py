"""Image commands: images, history, tag, rmi, image prune, import (S9, S14, S20, S21)."""

from __future__ import annotations

import argparse
from typing import Any

from ...errors import EngineError
from ...oci.digest import strip_algo
from ...services.engine import Engine
from ...services.images import Removed
from ...store.images import Image
from .. import IO, error_message, human
from ..results import Graph, History, Lines, Result, Table
from .common import confirm, ellipsis, filter_values, go_time, open_input

IMAGES_COLUMNS = [("Repository", "REPOSITORY"), ("Tag", "TAG"), ("ID", "IMAGE ID"),
                  ("CreatedSince", "CREATED"), ("Size", "SIZE")]
HISTORY_COLUMNS = [("ID", "IMAGE"), ("CreatedSince", "CREATED"), ("CreatedBy", "CREATED BY"),
                   ("Size", "SIZE"), ("Comment", "COMMENT")]


def _image_rows(engine: Engine, img: Image, tags: list[str], trunc: bool,
                ) -> list[dict[str, Any]]:
    size = human.size(engine.images.size(img))
    created = img.config.get("created", "")
    base = {"ID": strip_algo(img.id)[:12] if trunc else img.id,
            "CreatedSince": human.ago(created), "CreatedAt": go_time(created), "Size": size,
            "Digest": "<none>", "Containers": "N/A", "SharedSize": "N/A",
            "UniqueSize": "N/A", "VirtualSize": size}
    if not tags:
        return [{"Repository": "<none>", "Tag": "<none>", **base}]
    rows = []
    for t in tags:
        repo, _, tag = t.rpartition(":")
        rows.append({"Repository": repo, "Tag": tag, **base})
    return rows


def cmd_images(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    """S9: top-level images; ``-a`` adds intermediates; ``--tree`` shows shared layers."""
    if args.tree:
        return Graph.of(engine.system.layer_graph())
    filters = filter_values(args.filter)
    if args.reference:
        filters.setdefault("reference", []).append(args.reference)
    listed = engine.images.listed(all=args.all, filters=filters)
    rows = [r for img, tags in listed for r in _image_rows(engine, img, tags, not args.no_trunc)]
    if args.quiet:
        seen: list[str] = []
        for r in rows:
            if r["ID"] not in seen:
                seen.append(r["ID"])
        return Table("images", [{"ID": i} for i in seen], IMAGES_COLUMNS, "{{.ID}}")
    return Table("images", rows, IMAGES_COLUMNS, args.format)


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
            lines += _removed_lines(engine.images.remove(name, args.force))
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
    r = engine.images.prune(all=args.all)
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
