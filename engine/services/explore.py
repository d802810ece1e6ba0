"""The layer explorer (``docker image explore``): what each layer of an image did to its
files, and how many of the image's bytes nobody can see.

For each layer, bottom first, its files are read from the layer tar and compared with the
union of the layers below: **A**dded (the path was not there), **M**odified (it was, and
this layer wrote it again, or changed a directory's owner or mode), **D**eleted — by a
whiteout (``.wh.NAME``: that path and everything below it) or by an opaque directory
(``.wh..wh..opq``: everything the layers below had in it, one entry per child). As the OCI
spec says, a layer's whiteouts hide only what the layers *below* it hold.

**Wasted bytes**, per path: the bytes the image's layers store for it, minus the bytes of
the version the finished image shows (none if it was deleted). A file written in one layer
and deleted in the next wastes all of its bytes; one written twice wastes the older copy.
(dive counts the bytes of a deleted directory both at its files and again at the
whiteout, and so reports more than the image holds.) **Efficiency** is the visible share
of the stored bytes: 100 % when no layer stores anything the image cannot see.
"""

from __future__ import annotations

import posixpath
import tarfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..oci.layertar import WH_OPAQUE, WH_PREFIX, member_path, open_tar

if TYPE_CHECKING:
    from .engine import Engine
    from .images import HistoryRow

TOP_WASTEFUL = 10


@dataclass
class Entry:
    """A path as the layers so far show it."""

    type: str  # "file", "dir", "symlink", "hardlink", "other"
    size: int  # bytes of content (regular files; 0 otherwise)
    mode: int
    owner: tuple[int, int]
    layer: int  # the layer (1-based, bottom first) that last wrote it


@dataclass
class PathChange:
    """One path a layer added (A), modified (M) or deleted (D)."""

    kind: str
    path: str
    type: str
    size: int  # A/M: the bytes written; D: the bytes it hid (its whole subtree)
    via: str = ""  # D: "whiteout" or "opaque"


@dataclass
class LayerReport:
    index: int  # 1 = the bottom layer
    diff_id: str
    chain_id: str
    size: int
    created_by: str
    changes: list[PathChange]
    files: dict[str, Entry] = field(repr=False)  # the union up to and with this layer

    def counts(self) -> dict[str, int]:
        out = {"A": 0, "M": 0, "D": 0}
        for c in self.changes:
            out[c.kind] += 1
        return out


@dataclass
class Wasteful:
    path: str
    wasted: int
    written_by: list[int]  # the layers that stored bytes for it
    deleted_by: int | None  # the layer whose whiteout hid it, if the image does not show it


@dataclass
class Exploration:
    image_id: str
    tags: list[str]
    layers: list[LayerReport]
    stored: int  # bytes of file content over all layers
    visible: int  # bytes of the files the finished image shows
    wasteful: list[Wasteful]  # the top paths by wasted bytes

    @property
    def wasted(self) -> int:
        return self.stored - self.visible

    @property
    def efficiency(self) -> float:
        return self.visible / self.stored if self.stored else 1.0

    def to_json(self) -> dict[str, Any]:
        """The JSON export: the summary and every layer's changes (not the unions)."""
        return {
            "Id": self.image_id, "RepoTags": self.tags, "StoredBytes": self.stored,
            "VisibleBytes": self.visible, "WastedBytes": self.wasted,
            "Efficiency": round(self.efficiency, 4),
            "Layers": [{"Index": r.index, "DiffID": r.diff_id, "ChainID": r.chain_id,
                        "Size": r.size, "CreatedBy": r.created_by,
                        "Changes": [{"Kind": c.kind, "Path": c.path, "Type": c.type,
                                     "Size": c.size, **({"Via": c.via} if c.via else {})}
                                    for c in r.changes]} for r in self.layers],
            "Wasteful": [{"Path": w.path, "WastedBytes": w.wasted, "WrittenBy": w.written_by,
                          **({"DeletedBy": w.deleted_by} if w.deleted_by else {})}
                         for w in self.wasteful],
        }


def _type(m: tarfile.TarInfo) -> str:
    if m.isreg():
        return "file"
    if m.isdir():
        return "dir"
    if m.issym():
        return "symlink"
    return "hardlink" if m.islnk() else "other"


def _subtree(files: dict[str, Entry], path: str) -> list[str]:
    below = path + "/"
    return [p for p in files if p == path or p.startswith(below)]


class _Layer:
    """One layer tar applied to the union of the layers below it."""

    def __init__(self, index: int, lower: dict[str, Entry]) -> None:
        self.index = index
        self.lower = lower
        self.files = dict(lower)
        self.changes: dict[str, PathChange] = {}
        self.deleted: dict[str, int] = {}  # path → this layer (for the waste report)

    def delete(self, path: str, via: str) -> None:
        gone = _subtree(self.lower, path)
        if not gone:
            return
        size = sum(self.lower[p].size for p in gone)
        self.changes[path] = PathChange("D", "/" + path, self.lower[path].type
                                        if path in self.lower else "dir", size, via)
        for p in gone:
            self.files.pop(p, None)
            if self.lower[p].type == "file":
                self.deleted[p] = self.index

    def opaque(self, directory: str) -> None:
        prefix = directory + "/" if directory else ""
        children = {p for p in self.lower if p.startswith(prefix) and p != directory
                    and "/" not in p[len(prefix):]}
        for child in sorted(children):
            self.delete(child, "opaque")

    def write(self, rel: str, m: tarfile.TarInfo) -> None:
        for parent in _parents(rel):
            if parent not in self.files:
                self.files[parent] = Entry("dir", 0, 0o755, (0, 0), self.index)
                self.changes.setdefault(parent, PathChange("A", "/" + parent, "dir", 0))
        kind = _type(m)
        entry = Entry(kind, m.size if m.isreg() else 0, m.mode, (m.uid, m.gid), self.index)
        old = self.lower.get(rel)
        self.files[rel] = entry
        self.deleted.pop(rel, None)
        if old is None:
            self.changes[rel] = PathChange("A", "/" + rel, kind, entry.size)
        elif kind != "dir" or old.type != "dir" or (old.mode, old.owner) != (entry.mode,
                                                                              entry.owner):
            self.changes[rel] = PathChange("M", "/" + rel, kind, entry.size)
        else:
            self.files[rel] = old  # a directory listed again, unchanged: not this layer's


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def explore(engine: Engine, ref: str) -> Exploration:
    """Read every layer of the image ``ref`` (its tars, so any driver) and report."""
    img = engine.images.get(ref)
    layers = engine.images.layers(img)
    history: list[HistoryRow] = engine.images.history(ref)
    made_by = [row.created_by for row in reversed(history) if not row.empty_layer]
    files: dict[str, Entry] = {}
    reports: list[LayerReport] = []
    written: dict[str, list[tuple[int, int]]] = {}  # path → (layer, bytes) it stored
    deleted_by: dict[str, int] = {}
    for i, layer in enumerate(layers, start=1):
        step = _Layer(i, files)
        with engine.store.layers.open_tar(layer) as f:
            members = [(member_path(m.name), m) for m in open_tar(f)]
        for rel, _ in members:  # whiteouts hide only what the layers below hold
            parent, name = posixpath.split(rel)
            if name == WH_OPAQUE:
                step.opaque(parent)
            elif name.startswith(WH_PREFIX):
                step.delete(posixpath.join(parent, name[len(WH_PREFIX):]), "whiteout")
        for rel, m in members:
            name = posixpath.basename(rel)
            if rel and not name.startswith(WH_PREFIX):
                step.write(rel, m)
                if m.isreg():
                    written.setdefault(rel, []).append((i, m.size))
        deleted_by.update(step.deleted)
        for path in step.files:
            deleted_by.pop(path, None)
        files = step.files
        reports.append(LayerReport(i, layer.diff_id, layer.chain_id, layer.size,
                                   made_by[i - 1] if i <= len(made_by) else "",
                                   sorted(step.changes.values(), key=lambda c: c.path),
                                   files))
    stored = sum(size for versions in written.values() for _, size in versions)
    visible = sum(e.size for e in files.values() if e.type == "file")
    waste = []
    for path, versions in written.items():
        shown = files[path].size if path in files and files[path].type == "file" else 0
        lost = sum(size for _, size in versions) - shown
        if lost > 0:
            waste.append(Wasteful("/" + path, lost, [layer for layer, _ in versions],
                                  deleted_by.get(path) if path not in files else None))
    waste.sort(key=lambda w: (-w.wasted, w.path))
    return Exploration(img.id, list(img.tags), reports, stored, visible, waste[:TOP_WASTEFUL])


__all__ = ["Entry", "Exploration", "LayerReport", "PathChange", "Wasteful", "explore"]
