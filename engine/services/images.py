"""Images: listing, history, inspect, tags, removal and import (S1, S9, S14, S20, S21)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import Conflict, InvalidArgument
from ..oci import imageconfig, instructions
from ..oci import reference as refs
from ..oci.changes import Change
from ..oci.digest import chain_ids, digest, short
from ..snapshot import DRIVERS
from ..store.containers import ZERO_TIME, Container, now
from ..store.images import Image
from ..store.journal import Intent
from ..store.layers import Layer
from .events import image_event

if TYPE_CHECKING:
    from .engine import Engine
    from .explore import Exploration


@dataclass
class HistoryRow:
    id: str  # image ID, or "<missing>" where no local image corresponds
    created: str
    created_by: str
    size: int
    comment: str
    empty_layer: bool


@dataclass
class Removed:
    """What ``rmi``/``prune`` did, in Docker's ``Untagged:``/``Deleted:`` order."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    reclaimed: int = 0


class Images:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    # -- lookups -----------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """Name or ID → full image ID, with Docker's lookup order and messages."""
        return self.store.images.resolve(ref)

    def get(self, ref: str) -> Image:
        return self.store.images.get(self.resolve(ref))

    def exists(self, image_id: str) -> bool:
        return self.store.images.exists(image_id)

    def all(self) -> list[Image]:
        return self.store.images.all()

    def refs(self) -> dict[str, str]:
        """``repo:tag`` → image ID."""
        return self.store.images.refs()

    def repo_digests(self, image_id: str) -> list[str]:
        """``repo@sha256:…`` references of the image (pulled or pushed manifests)."""
        return self.store.images.repo_digests(image_id)

    def add_repo_digest(self, image_id: str, repo: str, manifest_digest: str) -> None:
        """Record that ``repo`` serves the image under ``manifest_digest`` (caller holds the
        store lock, or none is needed: the record is the image's own)."""
        self.store.images.add_repo_digest(image_id, f"{repo}@{manifest_digest}")

    def layers(self, img: Image, known: dict[str, Layer] | None = None) -> list[Layer]:
        return self.store.layers.chain(img.diff_ids, known)

    def size(self, img: Image, known: dict[str, Layer] | None = None) -> int:
        """Docker's SIZE: the image's layers' bytes. Pass one ``known`` dict to every call
        of a listing (see ``LayerStore.chain``)."""
        return sum(layer.size for layer in self.layers(img, known))

    def listing(self, all: bool = False) -> list[Image]:
        """Top-level images (tagged, or untagged leaves); with ``all``, intermediates too (S9)."""
        images = self.store.images.all()
        parents = {img.parent for img in images if img.parent}
        if not all:
            images = [img for img in images if img.tags or img.id not in parents]
        return sorted(images, key=lambda i: i.config.get("created", ""), reverse=True)

    def listed(self, all: bool = False, filters: dict[str, list[str]] | None = None,
               ) -> list[tuple[Image, list[str]]]:
        """``images``: each listed image with the tags it is shown under, through Docker's
        image filters (``services.filters``: dangling, label, before, since, reference,
        until; unknown keys refused)."""
        from . import filters as docker_filters

        pairs = [(k, v) for k, values in (filters or {}).items() for v in values]
        return [(s.image, s.tags) for s in docker_filters.images(
            self.engine, docker_filters.Filters(pairs), all=all)]

    def users(self, image_id: str) -> list[Container]:
        """The containers made from the image."""
        return [c for c in self.store.containers.all() if c.Image == image_id]

    # -- making images ---------------------------------------------------------------------
    def put(self, config: dict[str, Any], parent: str = "", tag: str = "",
            build_key: str = "", event: str = "") -> str:
        """Store a config assembled by ``imageconfig`` (caller holds the store lock).

        ``event`` is the image event to log (``create`` for a commit, ``import``); a build
        step's image (one with a ``build_key``) logs ``create``, as moby's CommitImage
        does for every step."""
        image_id = self.store.images.put(imageconfig.encode(config), parent, build_key)
        event = event or ("create" if build_key else "")
        if event:
            image_event(self.engine, image_id, image_id, event)
        if tag:
            self.tag(image_id, tag, locked=True)
        return image_id

    def tag(self, source: str, target: str, locked: bool = False) -> None:
        """``docker tag``; ``locked`` when the caller already holds the store lock."""
        name = str(refs.parse(target))
        with contextlib.nullcontext() if locked else self.store.lock():
            image_id = self.resolve(source)
            self.store.images.tag(image_id, name)
        image_event(self.engine, image_id, name, "tag")

    def import_tar(self, src: BinaryIO, ref: str = "", message: str = "",
                   changes: list[str] | None = None, source_name: str = "-") -> str:
        """S20: one flat tar becomes a one-layer image whose history has one entry."""
        if ref:
            refs.parse(ref)
        run_config: dict[str, Any] = {}
        for line in changes or []:
            instructions.apply(run_config, line)
        tags = [str(refs.parse(ref))] if ref else []
        with self.store.journal.intent("import", tags=tags) as intent:
            diff_id, new = self.store.layers.ingest_new(
                src, "import", lambda d: intent.note(new_blobs=[d]))
            with self.store.lock():
                try:
                    self.store.layers.register(diff_id)
                except InvalidArgument:
                    if new:
                        self.store.content.delete(diff_id)
                    raise
                config = imageconfig.append_layer(
                    None, created=now(), created_by="", diff_id=diff_id,
                    run_config=run_config, comment=message or f"Imported from {source_name}")
                raw = imageconfig.encode(config)
                image_id = digest(raw)
                intent.note(new_images=[] if self.exists(image_id) else [image_id],
                            tags_before={t: self.refs().get(t, "") for t in tags})
                self.put(config, tag=ref, event="import")
                intent.note(done=True)
                return image_id

    # -- reading ---------------------------------------------------------------------------
    def history(self, ref: str) -> list[HistoryRow]:
        """Every layer-making step, newest first; ``<missing>`` where Docker shows it (S21)."""
        img = self.get(ref)
        entries = img.history
        ids = ["<missing>"] * len(entries)
        walk: Image | None = img
        while walk is not None:
            n = len(walk.history)
            if 0 < n <= len(ids):
                ids[n - 1] = walk.id
            # ancestors' tags are not shown: not reading the tag table per ancestor keeps a
            # deep image's history linear
            walk = self.store.images.get(walk.parent, tags_of={}) if walk.parent and \
                self.exists(walk.parent) else None
        sizes = iter(layer.size for layer in self.layers(img))
        rows = []
        for i, h in enumerate(entries):
            empty = bool(h.get("empty_layer"))
            rows.append(HistoryRow(ids[i], h.get("created", ""), h.get("created_by", ""),
                                   0 if empty else next(sizes, 0), h.get("comment", ""), empty))
        return rows[::-1]

    def history_changes(self, ref: str) -> list[list[Change] | None]:
        """What each ``history`` step's layer added, changed and deleted (whiteouts) relative
        to the layers below it, aligned with ``history()`` rows; None for steps without a
        layer. Read from the layer tars, so it works on any driver (history drill-down)."""
        from ..oci.layertar import tar_changes  # tarfile: not for the commands that list

        layers = iter(self.layers(self.get(ref)))
        present: set[str] = set()
        out: list[list[Change] | None] = []
        for row in reversed(self.history(ref)):
            layer = None if row.empty_layer else next(layers, None)
            if layer is None:
                out.append(None)
                continue
            with self.store.layers.open_tar(layer) as f:
                out.append(tar_changes(f, present))
        return out[::-1]

    def explore(self, ref: str) -> Exploration:
        """The layer explorer: each layer's A/M/D changes, the union up to it, wasted bytes."""
        from .explore import explore

        return explore(self.engine, ref)

    def inspect(self, ref: str) -> dict[str, Any]:
        img = self.get(ref)
        cfg = img.config
        layers = self.layers(img)
        driver = self.engine.driver()
        return {
            "Id": img.id,
            "RepoTags": img.tags,
            "RepoDigests": self.repo_digests(img.id),
            "Parent": img.parent,
            "Comment": (img.history[-1].get("comment", "") if img.history else ""),
            "Created": cfg.get("created", ""),
            "Author": cfg.get("author", ""),
            "Config": img.run_config,
            "Architecture": cfg.get("architecture", ""),
            "Os": cfg.get("os", ""),
            "Size": self.size(img),
            "GraphDriver": {"Name": driver.name, "Data": driver.image_metadata(layers)},
            "RootFS": {"Type": "layers", "Layers": img.diff_ids},
            "Metadata": {"LastTagTime": ZERO_TIME},
        }

    # -- removing --------------------------------------------------------------------------
    def remove(self, ref: str, force: bool = False, prune: bool = True) -> Removed:
        """``rmi`` (S14), as moby's ImageDelete: a name is untagged first, and the image goes
        only when that was its last tag and nothing needs it, else it stays quietly (as an
        intermediate if it has children); an ID removes the image itself, refused while
        children, containers or other tags need it unless forced (a running container
        cannot be forced). Untagged parents nothing else needs go too, unless not ``prune``."""
        store = self.store.images
        with self.store.lock():
            image_id = self.resolve(ref)
            img = store.get(image_id)
            by_name = not _is_id_prefix(image_id, ref)
            plan = _RmiPlan(self)
            if by_name:
                tag = str(refs.parse(ref))
                users = self.users(image_id)
                if not force and len(img.tags) == 1 and users:
                    raise Conflict(
                        f'conflict: unable to remove repository reference "{ref}" (must force) '
                        f"- container {short(users[0].ID)} is using its referenced image "
                        f"{short(image_id)}")
                plan.untag(image_id, tag)
                repo = tag.rpartition(":")[0]
                if not any(t.rpartition(":")[0] == repo for t in plan.tags(image_id)):
                    for dref in plan.digests(image_id):  # moby: the repo's digests go too
                        if dref.partition("@")[0] == repo:
                            plan.untag(image_id, dref)
                if plan.tags(image_id):
                    return self._apply(plan)
            elif len(img.tags) == 1:
                conflict = self._conflict(plan, image_id, hard=True, soft=not force,
                                          children=not force, tags=False)
                if conflict:
                    raise conflict
                plan.untag(image_id, img.tags[0])
            self._delete(plan, image_id, force, prune, quiet=by_name)
            return self._apply(plan)

    def _conflict(self, plan: _RmiPlan, image_id: str, hard: bool, soft: bool,
                  children: bool, tags: bool = True) -> Conflict | None:
        """moby's checkImageDeleteConflict, in its order, on the state ``plan`` leaves.
        Docker cannot force away child images; LayerLab's contract (S14) lets ``rmi -f ID``
        do it, unlinking the children, so that check is its own switch."""
        sid = short(image_id)
        if children and plan.children(image_id):
            return Conflict(f"conflict: unable to delete {sid} (must be forced) - image has "
                            "dependent child images")
        users = self.users(image_id)
        running = [c for c in users if c.State.Running]
        if hard and running:
            conflict = Conflict(f"conflict: unable to delete {sid} (cannot be forced) - image "
                                f"is being used by running container {short(running[0].ID)}")
            conflict.used = True  # type: ignore[attr-defined]
            return conflict
        if soft and tags and plan.tags(image_id):
            return Conflict(f"conflict: unable to delete {sid} (must be forced) - image is "
                            "referenced in multiple repositories")
        if soft and users:
            conflict = Conflict(f"conflict: unable to delete {sid} (must be forced) - image is "
                                f"being used by stopped container {short(users[0].ID)}")
            conflict.used = True  # type: ignore[attr-defined]
            return conflict
        return None

    def _delete(self, plan: _RmiPlan, image_id: str, force: bool, prune: bool,
                quiet: bool) -> None:
        """moby's imageDeleteHelper, planned: delete the image (and so the layers it alone
        held), then its parent if that is left dangling. ``quiet``: the user named a tag,
        not this image, so a conflict (children, a container) just keeps the image."""
        conflict = self._conflict(plan, image_id, hard=True, soft=not force,
                                  children=quiet or not force)
        if conflict:
            if quiet and (plan.children(image_id) or plan.tags(image_id)
                          or getattr(conflict, "used", False)):
                return
            raise conflict
        for t in plan.tags(image_id) + plan.digests(image_id):
            plan.untag(image_id, t)
        plan.delete(image_id)
        parent = self.store.images.get(image_id).parent
        if prune and parent and self.store.images.exists(parent):
            self._delete(plan, parent, force=False, prune=True, quiet=True)

    def _apply(self, plan: _RmiPlan) -> Removed:
        """Carry the plan out in its order, announced (``rmi`` intent) when it deletes."""
        store, out = self.store.images, Removed()
        tags = [t for op, _, t in plan.ops if op == "untag" and "@" not in t]
        with (self.store.journal.intent("rmi", images=plan.deleted, tags=tags)
              if plan.deleted else contextlib.nullcontext()) as intent:
            for op, image_id, ref in plan.ops:
                if op == "untag":
                    if "@" in ref:
                        store.remove_repo_digest(image_id, ref)
                    else:
                        store.untag(ref)
                        image_event(self.engine, image_id, image_id, "untag")
                    out.lines.append(("Untagged", ref))
                    continue
                children = store.children(image_id)
                store.delete(image_id)
                image_event(self.engine, image_id, image_id, "delete")
                out.lines.append(("Deleted", image_id))
                for child in children:  # forced: the children keep their layers
                    store.unlink_parent(child.id)
                self.gc_layers(out, intent)
        return out

    def gc_layers(self, out: Removed, intent: Intent | None = None) -> None:
        """Delete the layers no image or container needs (caller holds the store lock);
        the blobs that may go are announced in ``intent`` first, so a kill between a
        layer's record and its blob leaves recovery the list."""
        keep: set[str] = set()
        for img in self.store.images.all():
            keep.update(chain_ids(img.diff_ids))
        for c in self.store.containers.all():
            keep.update(c.Layers)
        keep.update(self.store.journal.protected())
        if intent is not None:
            intent.note(blobs=sorted({lay.diff_id for lay in self.store.layers.all()
                                      if lay.chain_id not in keep}))
        deleted = self.store.layers.delete_unused(keep)
        for layer in deleted:
            out.lines.append(("Deleted", layer.chain_id))
            out.reclaimed += layer.size
        for name in DRIVERS:
            self.engine.driver(name).forget(layer.chain_id for layer in deleted)

    def prune(self, all: bool = False,
              select: Callable[[str, dict[str, str]], bool] | None = None) -> Removed:
        """Remove dangling images (untagged leaves), or with ``all`` every unused image
        (that ``select(created, labels)`` lets go, the ``--filter``); leaves first, so the
        untagged parents they free go too."""
        out = Removed()
        store = self.store.images
        with self.store.lock(), self.store.journal.intent("prune") as intent:
            used = {c.Image for c in self.store.containers.all()}
            while True:
                images = store.all()
                parents = {i.parent for i in images if i.parent}
                victims = [i for i in images if i.id not in used and i.id not in parents
                           and (all or not i.tags) and (select is None or select(
                               i.config.get("created", ""), i.run_config.get("Labels") or {}))]
                if not victims:
                    break
                for img in victims:
                    intent.note(images=[*intent.data.get("images", []), img.id],
                                tags=[*intent.data.get("tags", []), *img.tags])
                    for t in img.tags:
                        store.untag(t)
                        image_event(self.engine, img.id, img.id, "untag")
                        out.lines.append(("untagged", t))
                    store.delete(img.id)
                    image_event(self.engine, img.id, img.id, "delete")
                    out.lines.append(("deleted", img.id))
            self.gc_layers(out, intent)
        self.engine.events.log("image", "prune", "", {"reclaimed": str(out.reclaimed)})
        return out


class _RmiPlan:
    """What one ``rmi`` will do, decided before anything changes (so it can be announced):
    untags (tags and ``repo@digest`` references) and deletions in moby's order, and the
    state they leave, which later decisions look at."""

    def __init__(self, images: Images) -> None:
        self.store = images.store.images
        self.images = images
        self.ops: list[tuple[str, str, str]] = []  # ("untag"|"delete", image ID, reference)
        self.gone: set[str] = set()
        self.deleted: list[str] = []

    def tags(self, image_id: str) -> list[str]:
        return [t for t in self.store.get(image_id).tags if t not in self.gone]

    def digests(self, image_id: str) -> list[str]:
        return [r for r in self.images.repo_digests(image_id) if r not in self.gone]

    def children(self, image_id: str) -> list[Image]:
        return [c for c in self.store.children(image_id) if c.id not in self.deleted]

    def untag(self, image_id: str, ref: str) -> None:
        self.gone.add(ref)
        self.ops.append(("untag", image_id, ref))

    def delete(self, image_id: str) -> None:
        self.deleted.append(image_id)
        self.ops.append(("delete", image_id, ""))


def _is_id_prefix(image_id: str, ref: str) -> bool:
    """moby's isImageIDPrefix: ``ref`` is (a prefix of) the ID, with or without ``sha256:``."""
    return image_id.startswith(ref) or image_id.partition(":")[2].startswith(ref)
