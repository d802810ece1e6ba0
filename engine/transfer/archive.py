"""Image archives (S19, S20, S22): ``save`` and ``load``.

``save`` writes one tar that is at once a docker-archive (``manifest.json``) and an OCI image
layout (``index.json``), as Docker 25+ does, so Docker, Podman, skopeo and containerd can all
read it. ``load`` reads that, older docker-archives (``<id>/layer.tar``, Podman's
``docker-archive``) and pure OCI layouts (``oci-archive``).

Loading is all-or-nothing: every blob is ingested and checked against its digest and diffID
first; then, under the store lock, the layers (each tar checked for unsafe paths), images and
tags are recorded, and any failure takes back everything the load added, so a bad archive
never leaves a half-loaded image behind. ``Staging`` holds that logic and is shared with
``registry.pull``.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import tarfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InvalidArgument
from ..oci import reference as refs
from ..oci.compression import seekable_plain
from ..oci.digest import HEX64, digest, strip_algo
from ..oci.imageconfig import compact
from ..oci.imageconfig import parse as parse_config
from ..oci.layertar import TarStream, member_path, open_member, open_tar
from ..oci.manifest import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    INDEX_TYPES,
    LAYER_TYPES,
    MANIFEST_TYPES,
    MAX_JSON,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    OCI_LAYOUT,
    descriptor_digest,
    platform_matches,
)
from ..oci.manifest import image_manifest as oci_image_manifest
from ..services.engine import Engine
from ..services.events import image_event
from ..store.ids import hex_of, is_digest
from .staging import NewImage, Staging, is_parent, loaded_lines

MAX_LINKS = 16


# -- save ----------------------------------------------------------------------------------
@dataclass
class _OutBlob:
    size: int
    mtime: int
    data: bytes = b""
    path: Path | None = None  # streamed from the content store instead of held in memory


def _select(engine: Engine, names: list[str]) -> dict[str, list[str]]:
    """Image ID → tags to record, in argument order; a bare repository name means all of
    its tags, as in Docker; an ID records no tag."""
    table = engine.images.refs()
    selected: dict[str, list[str]] = {}
    for name in names:
        tags: list[str] = []
        if refs.looks_like_reference(name):
            ref = refs.parse(name)
            name_only = "@" not in name and ":" not in name.rpartition("/")[2]
            if name_only:
                tags = [t for t in table if refs.parse(t).repo == ref.repo]
            elif str(ref) in table and not HEX64.match(strip_algo(name)):
                tags = [str(ref)]
        if not tags:
            selected.setdefault(engine.images.resolve(name), [])
        for tag in tags:
            image_tags = selected.setdefault(table[tag], [])
            if tag not in image_tags:
                image_tags.append(tag)
    return selected


def _timestamp(created: str) -> int:
    try:
        return int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    except (ValueError, AttributeError):
        return 0


def image_manifest(engine: Engine, image_id: str) -> tuple[bytes, list[tuple[str, Path, int]]]:
    """The OCI manifest of a local image, and its layers as (diffID, blob path, size).

    Layers go out uncompressed, exactly as stored, so their digests are their diffIDs and
    nothing has to be recompressed (or kept compressed) to save or push.
    """
    raw = engine.store.images.raw_config(image_id)
    layers = []
    for layer in engine.images.layers(engine.images.get(image_id)):
        path = engine.store.content.path(layer.diff_id)
        layers.append((layer.diff_id, path, path.stat().st_size))
    manifest = oci_image_manifest(image_id, len(raw), [(d, n) for d, _, n in layers])
    return manifest, layers


def save(engine: Engine, names: list[str], out: BinaryIO) -> None:
    """Write ``names`` as one docker-archive + OCI layout tar (S19), streaming the layers.

    ``out`` need not be seekable (stdout works). Shared layers are written once.
    """
    if not names:
        raise InvalidArgument("save needs at least one image")
    blobs: dict[str, _OutBlob] = {}
    manifest_items: list[dict[str, Any]] = []
    descriptors: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    selected = _select(engine, names)
    for image_id, tags in selected.items():
        img = engine.images.get(image_id)
        raw = engine.store.images.raw_config(image_id)
        mtime = _timestamp(img.config.get("created", ""))
        manifest, layers = image_manifest(engine, image_id)
        for diff_id, path, size in layers:
            blobs.setdefault(strip_algo(diff_id), _OutBlob(size, mtime, path=path))
        blobs.setdefault(strip_algo(image_id), _OutBlob(len(raw), mtime, raw))
        platform = {k: img.config[k] for k in ("architecture", "os", "variant")
                    if img.config.get(k)}
        manifest_digest = digest(manifest)
        blobs.setdefault(strip_algo(manifest_digest), _OutBlob(len(manifest), 0, manifest))
        desc = {"mediaType": MT_OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest)}
        for tag in tags:
            ref = refs.parse(tag)
            annotations = {ANNOTATION_IMAGE_NAME: refs.containerd_name(tag),
                           ANNOTATION_REF_NAME: ref.tag}
            descriptors.append({**desc, "annotations": annotations, "platform": platform})
            if img.diff_ids:
                repositories.setdefault(ref.repo, {})[ref.tag] = strip_algo(img.diff_ids[-1])
        if not tags:
            descriptors.append({**desc, "platform": platform})
        item: dict[str, Any] = {
            "Config": f"blobs/sha256/{strip_algo(image_id)}",
            "RepoTags": tags or None,
            "Layers": [f"blobs/sha256/{strip_algo(d)}" for d in img.diff_ids],
        }
        if img.parent in selected and is_parent(engine.store.images, img.parent, image_id):
            item["Parent"] = img.parent
        manifest_items.append(item)
    index = compact({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": descriptors})
    files = {"index.json": index, "manifest.json": compact(manifest_items) + b"\n",
             "oci-layout": OCI_LAYOUT}
    if repositories:
        files["repositories"] = json.dumps(repositories, separators=(",", ":"),
                                           sort_keys=True).encode() + b"\n"
    tar = TarStream(out)
    for d in ("blobs", "blobs/sha256"):
        ti = tarfile.TarInfo(d)
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        tar.add(ti)
    for hexd, blob in sorted(blobs.items()):
        ti = tarfile.TarInfo(f"blobs/sha256/{hexd}")
        ti.size, ti.mode, ti.mtime = blob.size, 0o644, blob.mtime
        if blob.path is None:
            tar.add(ti, blob.data)
        else:
            with blob.path.open("rb", buffering=0) as f:
                tar.add_fd(ti, f.fileno())
    for name, data in sorted(files.items()):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode = len(data), 0o644
        tar.add(ti, data)
    tar.close()
    for image_id in selected:
        image_event(engine, image_id, image_id, "save")


# -- load ----------------------------------------------------------------------------------
class _Archive:
    """Random access to the members of an image archive, without extracting it."""

    def __init__(self, tf: tarfile.TarFile) -> None:
        self.tf = tf
        self.members: dict[str, tarfile.TarInfo] = {}
        try:
            for m in tf:
                rel = member_path(m.name)
                if rel:
                    self.members[rel] = m
        except tarfile.TarError as e:
            raise InvalidArgument(f"invalid archive: not a tar file ({e})") from None

    def has(self, name: str) -> bool:
        return name in self.members

    def member(self, name: str, named_by: str) -> tarfile.TarInfo:
        """The regular file ``name`` means, following links that stay inside the archive."""
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"invalid archive: {named_by} {name!r}, not a path")
        rel = member_path(name)
        for _ in range(MAX_LINKS):
            m = self.members.get(rel)
            if m is None:
                raise InvalidArgument(
                    f"invalid archive: {named_by} {name} which is not in the archive")
            if m.isreg():
                return m
            if m.issym() and not m.linkname.startswith("/"):
                rel = member_path(posixpath.join(posixpath.dirname(rel), m.linkname))
            elif m.islnk():
                rel = member_path(m.linkname)
            else:
                raise InvalidArgument(f"invalid archive: {named_by} {name}, not a regular file")
        raise InvalidArgument(f"invalid archive: {named_by} {name}: too many levels of links")

    def open(self, m: tarfile.TarInfo) -> io.BufferedReader:
        return open_member(self.tf, m)  # member() only returns regular files

    def read(self, name: str, named_by: str) -> bytes:
        m = self.member(name, named_by)
        if m.size > MAX_JSON:
            raise InvalidArgument(f"invalid archive: {name} is too large ({m.size} bytes)")
        with self.open(m) as f:
            return f.read()

    def json(self, name: str, named_by: str) -> Any:
        try:
            return json.loads(self.read(name, named_by))
        except ValueError as e:
            raise InvalidArgument(f"invalid archive: {name} is not valid JSON: {e}") from None

    def blob(self, desc: Any, named_by: str) -> bytes:
        """An OCI blob by descriptor, checked against the descriptor's digest and size."""
        dgst = descriptor_digest(desc, f"invalid archive: {named_by} a descriptor that")
        data = self.read(f"blobs/sha256/{dgst[7:]}", named_by)
        if digest(data) != dgst or desc.get("size", len(data)) != len(data):
            raise InvalidArgument(f"invalid archive: blob {dgst} does not match its digest "
                                  "or size")
        return data


@dataclass
class _LayerSource:
    path: str  # member holding the (possibly gzip) layer tar
    named_by: str
    digest: str = ""  # the blob's own digest, when the archive states it
    size: int | None = None


@dataclass
class _Plan:
    image: NewImage
    diff_ids: list[str]
    layers: list[_LayerSource]


def _tags(names: Any, where: str) -> list[str]:
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidArgument(f"invalid archive: {where} is not a list of names")
    return [str(refs.parse(n)) for n in names]


def _plan(raw: bytes, config_name: str, layers: list[_LayerSource], tags: list[str],
          parent: str = "") -> _Plan:
    config = parse_config(raw, f"invalid archive: config {config_name}")
    diff_ids = config["rootfs"]["diff_ids"]
    if len(diff_ids) != len(layers):
        raise InvalidArgument(f"invalid archive: config {config_name} lists {len(diff_ids)} "
                              f"layers but the manifest names {len(layers)}")
    return _Plan(NewImage(raw, tags, parent), diff_ids, layers)


_BLOB_PATH = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
_CONFIG_PATH = re.compile(r"^(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?$")


def _docker_plans(ar: _Archive) -> list[_Plan]:
    """``manifest.json``: Docker 25+ (blob paths), older Docker (``<id>/layer.tar``), Podman."""
    items = ar.json("manifest.json", "manifest.json")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise InvalidArgument("invalid archive: manifest.json is not a list of images")
    plans = []
    for item in items:
        config_name = item.get("Config")
        raw = ar.read(config_name, "manifest.json names config")
        m = _CONFIG_PATH.match(config_name)
        if m and digest(raw) != f"sha256:{m[1]}":
            raise InvalidArgument(f"invalid archive: config {config_name} does not match its "
                                  "digest")
        paths = item.get("Layers")
        if not isinstance(paths, list):
            raise InvalidArgument("invalid archive: manifest.json has an image without Layers")
        layers = []
        for p in paths:
            ar.member(p, "manifest.json names layer")
            b = _BLOB_PATH.match(p)
            layers.append(_LayerSource(p, "manifest.json names layer",
                                       f"sha256:{b[1]}" if b else ""))
        plans.append(_plan(raw, config_name, layers, _tags(item.get("RepoTags"),
                                                           "manifest.json RepoTags"),
                           _parent(item.get("Parent"))))
    return plans


def _parent(value: Any) -> str:
    """``manifest.json``'s ``Parent``: an image ID or nothing. It names an object in the
    store, so anything else (``sha256:../../some/dir``) is refused, never joined to a path."""
    if value in (None, ""):
        return ""
    if not is_digest(value):
        raise InvalidArgument(f"invalid archive: manifest.json Parent {value!r} is not an "
                              "image ID (sha256:<64 hex digits>)")
    return "sha256:" + hex_of(value, "image ID")


def _oci_name(annotations: Any) -> list[str]:
    """The image's tag from containerd's full name, else from an OCI ``ref.name`` that is a
    whole reference (Podman, skopeo); a bare tag like ``latest`` names no repository."""
    if not isinstance(annotations, dict):
        return []
    name = annotations.get(ANNOTATION_IMAGE_NAME) or ""
    ref_name = annotations.get(ANNOTATION_REF_NAME) or ""
    if not name and ("/" in ref_name or ":" in ref_name):
        name = ref_name
    return _tags([name], f"index.json annotation {name!r}") if name else []


def _oci_manifest(ar: _Archive, desc: dict[str, Any], depth: int = 0) -> dict[str, Any] | None:
    """Follow (nested) indexes to the manifest for this platform whose blobs are here."""
    media_type = desc.get("mediaType")
    if media_type in MANIFEST_TYPES:
        return json.loads(ar.blob(desc, "index.json names manifest"))
    if media_type not in INDEX_TYPES or depth > MAX_LINKS:
        raise InvalidArgument(f"invalid archive: index.json names unsupported {media_type!r}")
    index = json.loads(ar.blob(desc, "index.json names index"))
    for child in index.get("manifests") or []:
        if (isinstance(child, dict) and platform_matches(child)
                and ar.has(f"blobs/sha256/{strip_algo(str(child.get('digest')))}")):
            found = _oci_manifest(ar, child, depth + 1)
            if found:
                return found
    return None


def _oci_plans(ar: _Archive) -> list[_Plan]:
    """``index.json``: an OCI image layout (``oci-archive``, skopeo, containerd)."""
    index = ar.json("index.json", "index.json")
    descs = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(descs, list) or not descs:
        raise InvalidArgument("invalid archive: index.json lists no manifests")
    plans: list[_Plan] = []
    by_config: dict[bytes, _Plan] = {}
    for desc in descs:
        try:
            manifest = _oci_manifest(ar, desc) if isinstance(desc, dict) else None
        except (ValueError, AttributeError) as e:
            raise InvalidArgument(f"invalid archive: malformed index or manifest: {e}") from None
        if manifest is None:
            continue
        if not isinstance(manifest, dict) or not isinstance(manifest.get("layers", []), list):
            raise InvalidArgument("invalid archive: malformed image manifest")
        raw = ar.blob(manifest.get("config"), "manifest names config")
        tags = _oci_name(desc.get("annotations"))
        if raw in by_config:  # one image under several names
            by_config[raw].image.tags += [t for t in tags if t not in by_config[raw].image.tags]
            continue
        layers = []
        for layer in manifest.get("layers") or []:
            if not isinstance(layer, dict) or layer.get("mediaType") not in LAYER_TYPES:
                raise InvalidArgument(f"invalid archive: unsupported layer type "
                                      f"{layer.get('mediaType')!r}")
            dgst = descriptor_digest(layer, "invalid archive: a manifest layer")
            path = f"blobs/sha256/{dgst[7:]}"
            ar.member(path, "manifest names layer")
            layers.append(_LayerSource(path, "manifest names layer", dgst, layer.get("size")))
        by_config[raw] = _plan(raw, f"blobs/sha256/{digest(raw)[7:]}", layers, tags)
        plans.append(by_config[raw])
    if not plans:
        raise InvalidArgument("invalid archive: index.json has no image for this platform")
    return plans


def load(engine: Engine, src: BinaryIO) -> list[str]:
    """Load every image of a docker-archive or OCI layout tar; returns ``docker load``'s lines.

    Nothing becomes visible unless the whole archive checks out (see ``Staging``).
    """
    with (seekable_plain(src, "invalid archive", engine.root) as plain,
          open_tar(plain) as tf):
        ar = _Archive(tf)
        if ar.has("manifest.json"):
            plans = _docker_plans(ar)
        elif ar.has("index.json"):
            plans = _oci_plans(ar)
        else:
            raise InvalidArgument("invalid archive: no manifest.json or index.json (not a "
                                  "docker-archive or OCI image layout)")
        with Staging(engine, "invalid archive") as staging:
            done: dict[str, str] = {}  # member → diffID, for layers shared between images
            for plan in plans:
                for i, (layer, expected) in enumerate(zip(plan.layers, plan.diff_ids,
                                                          strict=True)):
                    if layer.path not in done and not staging.has_layer(plan.diff_ids, i):
                        member = ar.member(layer.path, layer.named_by)
                        with ar.open(member) as f:
                            done[layer.path] = staging.ingest_layer(
                                f, f"layer {layer.path}", layer.digest,
                                layer.size if layer.digest else None)
                    got = done.get(layer.path, expected)
                    if got != expected:
                        raise InvalidArgument(
                            f"invalid archive: layer {layer.path} has diffID {got} but the "
                            f"image config expects {expected}")
            committed = staging.commit([plan.image for plan in plans])
    for c in committed:
        image_event(engine, c.image_id, c.image_id, "load")
    return loaded_lines(committed)
