"""Staging: the all-or-nothing ingest shared by ``load`` and ``pull``.

Every blob is ingested and checked against its digest and diffID first; then, under the
store lock, the layers (each tar checked for unsafe paths), images and tags are recorded,
and any failure takes back everything the operation added, so a bad archive or an
interrupted pull never leaves a half-made image behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ..errors import InvalidArgument
from ..oci.compression import Readable, decompressed, sniffed
from ..oci.digest import chain_ids, digest
from ..services.engine import Engine
from ..store.content import CHUNK
from ..store.images import ImageStore
from ..store.journal import Intent
from ..store.layers import check_depth


class _DigestReader(io.RawIOBase):
    """Passes a compressed blob through to its decompressor while hashing it, so the blob
    is verified as it streams by."""

    def __init__(self, src: io.BufferedReader) -> None:
        self.src = src
        self.hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self.src.readinto(b)
        self.hash.update(b[:n])
        self.size += n
        return n

    def finish(self) -> tuple[str, int]:
        """Read what the decompressor left (e.g. padding after the end of the compressed
        stream); the blob's digest and size."""
        buffer = memoryview(bytearray(CHUNK))
        while self.readinto(buffer):
            pass
        return "sha256:" + self.hash.hexdigest(), self.size


def _check_blob(got: tuple[str, int], expected: str, size: int | None, what: str) -> None:
    """The blob's digest and size against what its source (manifest, descriptor) states."""
    if expected and got[0] != expected:
        raise InvalidArgument(f"{what} has digest {got[0]}, expected {expected}")
    if size is not None and size != got[1]:
        raise InvalidArgument(f"{what} has {got[1]} bytes, expected {size}")


@dataclass
class Committed:
    """One image a load or pull made visible, with the tags it took from other images."""

    image_id: str
    tags: list[str]
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (tag, previous image ID)


@dataclass
class NewImage:
    raw_config: bytes  # kept byte for byte: its sha256 is the image ID
    tags: list[str] = field(default_factory=list)
    parent: str = ""


class Staging:
    """The blobs one load or pull ingests, and the all-or-nothing commit of its images.

    Used as a context manager: if the block fails, blobs it added that no layer uses are
    deleted again.
    """

    def __init__(self, engine: Engine, error_prefix: str, op: str = "load") -> None:
        self.engine = engine
        self.error_prefix = error_prefix
        self.new_blobs: set[str] = set()
        self.op = op
        self._intent: contextlib.AbstractContextManager[Intent] | None = None
        self.intent: Intent | None = None

    def __enter__(self) -> Staging:
        # announced before the first blob: if the process is killed, the next command
        # takes back every blob, layer, image and tag this made (``services.recovery``)
        self._intent = self.engine.store.journal.intent(self.op)
        self.intent = self._intent.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is not None and self.new_blobs:
                with self.engine.store.lock():
                    used = {layer.diff_id for layer in self.engine.store.layers.all()}
                    for blob in self.new_blobs - used:
                        self.engine.store.content.delete(blob)
                self.new_blobs.clear()
        finally:
            assert self._intent is not None
            self._intent.__exit__(exc_type, exc, tb)

    def error(self, message: str) -> InvalidArgument:
        return InvalidArgument(f"{self.error_prefix}: {message}")

    def has_layer(self, diff_ids: list[str], i: int) -> bool:
        """Layer ``i`` of this chain is already in the store: nothing to read for it."""
        return self.engine.store.layers.find(chain_ids(diff_ids[: i + 1])[-1]) is not None

    def ingest_layer(self, stream: Readable, what: str, blob_digest: str = "",
                     blob_size: int | None = None) -> str:
        """Store a plain or compressed layer tar, checked against the digest and size its
        source states for the blob (if it does); returns its diffID.

        A plain tar's digest is its diffID, so its bytes are hashed once, as they are
        written; only a compressed blob is hashed on its own as well. A blob that does
        not match is refused before it lands in the store.
        """
        content = self.engine.store.content
        prefix = f"{self.error_prefix}: {what}"
        buffered, kind = sniffed(stream)
        reader = None if kind is None else _DigestReader(buffered)
        with content.writer() as w:
            w.fill(buffered if reader is None else decompressed(reader, prefix))
            dgst = w.digest_so_far()
            _check_blob((dgst, w.size) if reader is None else reader.finish(),
                        blob_digest, blob_size, prefix)
            if not content.has(dgst):
                self.new_blobs.add(dgst)
                if self.intent is not None:
                    self.intent.append("new_blobs", dgst)
            return w.commit()

    def _register(self, diff_ids: list[str]) -> None:
        """Register a chain of layers; a layer that is not a safe tar is refused here."""
        check_depth(len(diff_ids))
        parent = ""
        for diff_id in diff_ids:
            try:
                parent = self.engine.store.layers.register(diff_id, parent).chain_id
            except InvalidArgument as e:
                reason = str(e).removeprefix("invalid archive: ")
                raise self.error(f"layer {diff_id}: {reason}") from None

    def commit(self, images: list[NewImage]) -> list[Committed]:
        """Make layers, images and tags visible together, under the store lock; on any
        failure take back every record this commit wrote."""
        layers, store = self.engine.store.layers, self.engine.store.images
        with self.engine.store.lock():
            layers_before = {layer.chain_id for layer in layers.all()}
            images_before = set(store.ids())
            refs_before = store.refs()
            out: list[Committed] = []
            if self.intent is not None:
                tags = sorted({t for img in images for t in img.tags})
                self.intent.note(tags=tags, tags_before={t: refs_before.get(t, "") for t in tags},
                                 new_images=sorted({digest(img.raw_config) for img in images}
                                                   - images_before))
            try:
                for img in images:  # every layer first: they are what can still be refused
                    self._register(json.loads(img.raw_config)["rootfs"]["diff_ids"])
                for img in images:
                    image_id = store.put(img.raw_config)
                    done = Committed(image_id, img.tags)
                    for tag in img.tags:
                        previous = store.refs().get(tag)
                        if previous and previous != image_id:
                            done.renamed.append((tag, previous))
                        store.tag(image_id, tag)
                    out.append(done)
                for img, done in zip(images, out, strict=True):  # parents may come later
                    if img.parent and is_parent(store, img.parent, done.image_id):
                        store.put(img.raw_config, img.parent)
                if self.intent is not None:
                    self.intent.note(done=True)
            except BaseException:
                refs_now = store.refs()
                for tag in {t for img in images for t in img.tags}:
                    if refs_now.get(tag) == refs_before.get(tag):
                        continue
                    if tag in refs_before:
                        store.tag(refs_before[tag], tag)
                    else:
                        store.untag(tag)
                for image_id in set(store.ids()) - images_before:
                    store.delete(image_id)
                layers.delete_unused(layers_before)
                raise
        self.new_blobs.clear()
        return out


def is_parent(store: ImageStore, parent_id: str, image_id: str) -> bool:
    """Docker's rule for a parent link: the parent exists and its layers start the child's."""
    if not store.exists(parent_id):
        return False
    above = store.get(parent_id).diff_ids
    return store.get(image_id).diff_ids[: len(above)] == above


def loaded_lines(done: Iterable[Committed]) -> list[str]:
    """What ``docker load`` prints."""
    lines = []
    for c in done:
        lines += [f"The image {tag} already exists, renaming the old one with ID {old} to "
                  "empty string" for tag, old in c.renamed]
        lines += [f"Loaded image: {tag}" for tag in c.tags] or [f"Loaded image ID: {c.image_id}"]
    return lines
