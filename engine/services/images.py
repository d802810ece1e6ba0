"""Images: listing, history, inspect, tags, removal and import (S1, S9, S14, S20, S21)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import Conflict, InvalidArgument
from ..oci import imageconfig, instructions
from ..oci import reference as refs
from ..oci.changes import Change
from ..oci.digest import chain_ids, digest, short
from ..oci.layertar import tar_changes
from ..snapshot import DRIVERS
from ..store.containers import ZERO_TIME, Container, now
from ..store.images import Image
from ..store.journal import Intent
from ..store.layers import Layer

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

    def layers(self, img: Image) -> list[Layer]:
        return self.store.layers.chain(img.diff_ids)

    def size(self, img: Image) -> int:
        return sum(layer.size for layer in self.layers(img))

    def listing(self, all: bool = False) -> list[Image]:
        """Top-level images (tagged, or untagged leaves); with ``all``, intermediates too (S9)."""
        images = self.store.images.all()
        parents = {img.parent for img in images if img.parent}
        if not all:
            images = [img for img in images if img.tags or img.id not in parents]
        return sorted(images, key=lambda i: i.config.get("created", ""), reverse=True)

    def listed(self, all: bool = False, filters: dict[str, list[str]] | None = None,
               ) -> list[tuple[Image, list[str]]]:
        """``images``: each listed image with the tags it is shown under. Docker's filters:
        ``dangling=true|false``, ``reference=PATTERN`` (a glob on ``name:tag`` or on the
        name; only matching tags are shown), ``label=KEY[=VALUE]``; the values of one key
        OR'ed, the keys AND'ed."""
        filters = {k: v for k, v in (filters or {}).items() if v}
        for key in filters:
            if key not in ("dangling", "reference", "label"):
                raise InvalidArgument(f"invalid filter '{key}' (supported: dangling, "
                                      "reference, label)")
        out = []
        for img in self.listing(all=all or "dangling" in filters):
            tags = img.tags
            if "reference" in filters:
                tags = [t for t in tags if any(_reference_match(p, t)
                                               for p in filters["reference"])]
                if not tags:
                    continue
            if "dangling" in filters:
                wanted = {v.lower() for v in filters["dangling"]}
                if not wanted <= {"true", "false", "1", "0"}:
                    raise InvalidArgument(f"invalid filter 'dangling={filters['dangling'][0]}'")
                if bool(wanted & {"true", "1"}) != (not img.tags):
                    continue
                if not img.tags and img.id in {i.parent for i in self.all() if i.parent}:
                    continue  # an intermediate image is not dangling
            labels = img.run_config.get("Labels") or {}
            if "label" in filters and not any(
                    k in labels and (not sep or labels[k] == v)
                    for k, sep, v in (f.partition("=") for f in filters["label"])):
                continue
            out.append((img, tags))
        return out

    def users(self, image_id: str) -> list[Container]:
        """The containers made from the image."""
        return [c for c in self.store.containers.all() if c.Image == image_id]

    # -- making images ---------------------------------------------------------------------
    def put(self, config: dict[str, Any], parent: str = "", tag: str = "",
            build_key: str = "") -> str:
        """Store a config assembled by ``imageconfig`` (caller holds the store lock)."""
        image_id = self.store.images.put(imageconfig.encode(config), parent, build_key)
        if tag:
            self.store.images.tag(image_id, tag)
        return image_id

    def tag(self, source: str, target: str) -> None:
        refs.parse(target)
        with self.store.lock():
            self.store.images.tag(self.resolve(source), target)

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
                self.put(config, tag=ref)
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
            walk = self.store.images.get(walk.parent) if walk.parent and self.exists(
                walk.parent) else None
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
            "RepoDigests": [],
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
    def remove(self, ref: str, force: bool = False) -> Removed:
        """``rmi``: untag, then delete the image and layers nothing else needs (S14)."""
        store = self.store.images
        with self.store.lock():
            out = Removed()
            image_id = self.resolve(ref)
            img = store.get(image_id)
            tag = _tag_named(ref, img.tags)
            users = self.users(image_id)
            running = [c for c in users if c.State.Running]
            if tag and len(img.tags) > 1:
                store.untag(tag)
                out.lines.append(("Untagged", tag))
                return out
            if not tag and len(img.tags) > 1 and not force:
                raise Conflict(f"conflict: unable to delete {short(image_id)} (must be forced) "
                               "- image is referenced in multiple repositories")
            if running:
                raise Conflict(
                    f"conflict: unable to delete {short(image_id)} (cannot be forced) - image "
                    f"is being used by running container {short(running[0].ID)}")
            if users and not force:
                raise Conflict(
                    f"conflict: unable to remove repository reference \"{ref}\" (must force) "
                    f"- container {short(users[0].ID)} is using its referenced image "
                    f"{short(image_id)}")
            children = store.children(image_id)
            if children and not force:
                raise Conflict(f"conflict: unable to delete {short(image_id)} (must be forced) "
                               "- image has dependent child images")
            chain = self._chain_to_delete(img)
            with self.store.journal.intent("rmi", images=[i.id for i in chain],
                                           tags=img.tags) as intent:
                for t in img.tags:
                    store.untag(t)
                    out.lines.append(("Untagged", t))
                for victim in chain:
                    store.delete(victim.id)
                    out.lines.append(("Deleted", victim.id))
                for child in children:  # forced: the children keep their layers, lose the link
                    store.unlink_parent(child.id)
                self.gc_layers(out, intent)
            return out

    def _chain_to_delete(self, img: Image) -> list[Image]:
        """``img`` and then its untagged, unused intermediate parents that have no other
        child: what ``rmi`` deletes, decided before anything is (the intent lists it)."""
        store = self.store.images
        chain = [img]
        while chain[-1].parent and store.exists(chain[-1].parent):
            p = store.get(chain[-1].parent)
            if p.tags or self.users(p.id) or [c for c in store.children(p.id)
                                              if c.id != chain[-1].id]:
                break
            chain.append(p)
        return chain

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

    def prune(self, all: bool = False) -> Removed:
        """Remove dangling images (untagged leaves), or with ``all`` every unused image;
        leaves first, so the untagged parents they free go too."""
        out = Removed()
        store = self.store.images
        with self.store.lock(), self.store.journal.intent("prune") as intent:
            used = {c.Image for c in self.store.containers.all()}
            while True:
                images = store.all()
                parents = {i.parent for i in images if i.parent}
                victims = [i for i in images if i.id not in used and i.id not in parents
                           and (all or not i.tags)]
                if not victims:
                    break
                for img in victims:
                    intent.note(images=[*intent.data.get("images", []), img.id],
                                tags=[*intent.data.get("tags", []), *img.tags])
                    for t in img.tags:
                        store.untag(t)
                        out.lines.append(("untagged", t))
                    store.delete(img.id)
                    out.lines.append(("deleted", img.id))
            self.gc_layers(out, intent)
        return out


def _reference_match(pattern: str, tag: str) -> bool:
    """Docker's ``reference.FamiliarMatch``: Go's ``path.Match`` (``*`` stops at ``/``)
    against ``name:tag``, then against the name alone."""
    regex = re.compile("".join(
        "[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch) for ch in pattern))
    return bool(regex.fullmatch(tag) or regex.fullmatch(tag.rpartition(":")[0]))


def _tag_named(ref: str, tags: list[str]) -> str:
    """The tag ``ref`` names, if it names one of ``tags`` (rather than an image ID)."""
    if not refs.looks_like_reference(ref):
        return ""
    tag = str(refs.parse(ref))
    return tag if tag in tags else ""
