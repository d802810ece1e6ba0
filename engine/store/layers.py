"""Layer store: read-only layers named by chainID, content kept as the exact tar (diffID).

Keeping the original uncompressed tar means ``save`` reproduces every diffID byte for byte;
the unpacked directory the overlay driver mounts is a cache made from it on demand.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InvalidArgument, NotFound
from ..fs.atomic import private_dir, read_json, remove_tree, write_json
from ..oci.digest import chain_id, chain_ids
from .content import ContentStore
from .ids import hex_of, is_digest
from .journal import discard

# moby's maxLayerDepth: Docker refuses to make a layer deeper than this (commit, build,
# load, pull), and the overlay driver mounts up to this many lowerdirs.
MAX_DEPTH = 125


def check_depth(depth: int) -> None:
    """Refuse an image of more than ``MAX_DEPTH`` layers, with Docker's words first."""
    if depth > MAX_DEPTH:
        raise InvalidArgument(
            f"max depth exceeded: an image has at most {MAX_DEPTH} layers (Docker's limit), "
            f"this one would have {depth}; squash some (fewer RUN/COPY steps, or "
            "export | import)")


@dataclass(frozen=True)
class Layer:
    chain_id: str
    diff_id: str
    parent: str
    size: int


def tar_content_size(fileobj: BinaryIO) -> int:
    """Check every member by the rules extraction applies (``layertar.check``: no escape by
    path, hardlink or symlink-then-write), so a layer the store takes is one every driver
    can unpack, and return the bytes of file content (Docker's layer SIZE)."""
    import tarfile  # the tar modules only where a layer is taken in: listings read JSON

    from ..oci import layertar

    tf = layertar.open_tar(fileobj)
    try:
        members = layertar.check(tf)
    except tarfile.TarError as e:
        raise InvalidArgument(f"invalid archive: {e}") from None
    return sum(m.info.size for m in members if m.info.isreg())


class LayerStore:
    def __init__(self, root: Path, content: ContentStore) -> None:
        self.root = private_dir(root / "layers")
        self.content = content

    def _dir(self, chain_id: str) -> Path:
        return self.root / hex_of(chain_id, "layer chainID")

    def ingest(self, stream: BinaryIO, what: str = "layer") -> str:
        """Store a (possibly compressed) layer tar; returns its diffID."""
        from ..oci.compression import decompressed

        with self.content.writer() as w:
            w.fill(decompressed(stream, what))
            return w.commit()

    def ingest_new(self, stream: BinaryIO, what: str,
                   announce: Callable[[str], None]) -> tuple[str, bool]:
        """``ingest``, and whether the blob is new to the store; a new blob's digest goes
        to ``announce`` before the blob lands (an intent records it: a kill right after
        must still find it to take it back)."""
        from ..oci.compression import decompressed

        with self.content.writer() as w:
            w.fill(decompressed(stream, what))
            dgst = w.digest_so_far()
            new = not self.content.has(dgst)
            if new:
                announce(dgst)
            return w.commit(), new

    def register(self, diff_id: str, parent_chain: str = "") -> Layer:
        """Make the layer on top of ``parent_chain`` from a stored tar; idempotent."""
        chain = chain_id(parent_chain, diff_id)
        existing = self.find(chain)
        if existing:
            return existing
        with self.content.open(diff_id) as f:
            size = tar_content_size(f)
        layer = Layer(chain, diff_id, parent_chain, size)
        # made aside and renamed into place: a layer directory is whole or absent
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".tmp-{os.getpid()}-"))
        try:
            write_json(tmp / "layer.json", layer.__dict__)
            os.chmod(tmp, 0o700)
            os.rename(tmp, self._dir(chain))
        except OSError:
            remove_tree(tmp)
            if self.find(chain) is None:
                raise
        return layer

    def register_chain(self, diff_ids: list[str]) -> list[Layer]:
        layers: list[Layer] = []
        for d in diff_ids:
            layers.append(self.register(d, layers[-1].chain_id if layers else ""))
        return layers

    def find(self, chain_id: str) -> Layer | None:
        if not is_digest(chain_id):
            return None
        try:
            return Layer(**read_json(self._dir(chain_id) / "layer.json"))
        except FileNotFoundError:
            return None

    def get(self, chain_id: str) -> Layer:
        layer = self.find(chain_id)
        if layer is None:
            raise NotFound(f"layer {chain_id} does not exist")
        return layer

    def chain(self, diff_ids: list[str], known: dict[str, Layer] | None = None) -> list[Layer]:
        """The layers of an image, bottom first. ``known`` (chainID → layer) is a memo a
        caller walking many images passes to each call, so that layers images share (a
        base, a deep chain's prefix) are read once per listing, not once per image."""
        if known is None:
            return [self.get(c) for c in chain_ids(diff_ids)]
        out = []
        for c in chain_ids(diff_ids):
            if c not in known:
                known[c] = self.get(c)
            out.append(known[c])
        return out

    def open_tar(self, layer: Layer) -> BinaryIO:
        return self.content.open(layer.diff_id)

    def all(self) -> list[Layer]:
        out = []
        for d in self.root.iterdir():
            layer = self.find(d.name)
            if layer:
                out.append(layer)
        return out

    def delete_unused(self, keep: Iterable[str], listed: list[Layer] | None = None,
                      ) -> list[Layer]:
        """Delete every layer whose chainID is not in ``keep``; blobs go when no layer uses
        them. ``listed``: the caller's ``all()``, made under the same store lock."""
        keep_set = set(keep)
        layers = self.all() if listed is None else listed
        removed = [lay for lay in layers if lay.chain_id not in keep_set]
        for layer in removed:
            discard(self.root.parent, self._dir(layer.chain_id))
        still_used = {lay.diff_id for lay in layers if lay.chain_id in keep_set}
        for layer in removed:
            if layer.diff_id not in still_used:
                self.content.delete(layer.diff_id)
        return removed
