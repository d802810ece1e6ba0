"""``layerlab system check [--repair]``: does the store agree with itself?

Like ``fsck`` for the state root: every record is read and cross-checked (tags → images →
layers → blobs; containers → layers, RW layers, views, cgroups), and whatever is there
without a record pointing at it (an orphan blob, a layer directory without its
``layer.json``, an unpacked layer without a layer, a view mounted for no running
container, temp files of dead processes, trash) is reported; ``--repair`` fixes each one
the safe way (removing what nothing uses, dropping links to what is gone). The recovery
pass (``services.recovery``) has already run by then, as for every command that takes the
store lock; this is the full scan it avoids doing every time.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..oci.digest import chain_ids
from ..store.ids import is_digest
from .recovery import TEMP_PATTERN, pid_alive, temp_dirs

if TYPE_CHECKING:
    from .engine import Engine


@dataclass
class Finding:
    kind: str  # "image", "tag", "layer", "blob", "container", "mount", "cgroup", "temp"
    object: str
    problem: str
    repaired: bool = False


class Checker:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.found: list[Finding] = []

    def report(self, kind: str, obj: str, problem: str, fix: object = None) -> None:
        f = Finding(kind, obj, problem)
        self.found.append(f)
        if fix is not None and self.repair:
            with contextlib.suppress(Exception):
                fix()  # type: ignore[operator]
                f.repaired = True

    def run(self, repair: bool = False) -> list[Finding]:
        self.repair = repair
        with self.store.lock():
            self._layers()
            self._images()
            self._containers()
            self._leftovers()
        return self.found

    def _layers(self) -> None:
        layers = self.store.layers
        self.layer_ids = set()
        for d in sorted(layers.root.iterdir()):
            if not is_digest(d.name):
                continue
            try:
                layer = layers.find(d.name)
            except (ValueError, TypeError, OSError):
                layer = None
            if layer is None:
                self.report("layer", d.name, "directory without a readable layer.json",
                            lambda d=d: self.store.journal.discard(d))
                continue
            self.layer_ids.add(layer.chain_id)
            if not self.store.content.has(layer.diff_id):
                self.report("layer", layer.chain_id, f"its tar {layer.diff_id} is missing")
        for layer in layers.all():
            if layer.parent and layer.parent not in self.layer_ids:
                self.report("layer", layer.chain_id, f"its parent {layer.parent} is missing")

    def _images(self) -> None:
        images = self.store.images
        self.needed: set[str] = set()
        good: set[str] = set()
        for image_id in images.ids():
            try:
                img = images.get(image_id)
                diff_ids = img.diff_ids
                chain = chain_ids(diff_ids)
            except (ValueError, TypeError, AttributeError, KeyError):
                self.report("image", image_id, "config is not a valid image config",
                            lambda i=image_id: images.delete(i))
                continue
            good.add(image_id)
            missing = [c for c in chain if c not in self.layer_ids]
            self.needed.update(chain)
            if missing:
                self.report("image", image_id, f"{len(missing)} of its layers are missing",
                            lambda i=image_id: images.delete(i))
            if img.parent and not images.exists(img.parent):
                self.report("image", image_id, f"its parent {img.parent} is missing",
                            lambda i=image_id: images.unlink_parent(i))
        for d in sorted(images.root.iterdir()):
            if is_digest(d.name) and not (d / "config.json").exists():
                self.report("image", d.name, "directory without a config.json",
                            lambda d=d: self.store.journal.discard(d))
        for tag, image_id in images.refs().items():
            if image_id not in good:
                self.report("tag", tag, f"points at missing image {image_id}",
                            lambda t=tag: images.untag(t))

    def _containers(self) -> None:
        cs = self.store.containers
        self.cids = set()
        for d in sorted(cs.root.iterdir()):
            if not (d / "config.json").exists():
                if d.is_dir():
                    self.report("container", d.name, "directory without a config.json",
                                lambda d=d: self.store.journal.discard(d))
                continue
            try:
                c = cs.get(d.name)
            except (ValueError, TypeError, KeyError, OSError):
                self.report("container", d.name, "unreadable record")
                continue
            self.cids.add(c.ID)
            self.needed.update(c.Layers)
            missing = [lay for lay in c.Layers if lay not in self.layer_ids]
            if missing:
                self.report("container", c.ID, f"{len(missing)} of its layers are missing")
            if not self.engine.driver(c.Driver).dir(c.ID).is_dir():
                self.report("container", c.ID, "its read-write layer is missing")
        for name in ("overlay", "vfs"):
            driver = self.engine.driver(name)
            for d in sorted(driver.root.iterdir()):
                if len(d.name) == 64 and d.name not in self.cids:
                    self.report("container", d.name, f"{name} directory without a container",
                                lambda drv=driver, n=d.name: drv.remove(n))
        lower = self.engine.driver("overlay").root / "lower"
        with contextlib.suppress(FileNotFoundError):
            for d in sorted(lower.iterdir()):
                if is_digest(d.name) and "sha256:" + d.name not in self.layer_ids:
                    self.report("layer", d.name, "unpacked layer without a layer",
                                lambda d=d: self.store.journal.discard(d))

    def _leftovers(self) -> None:
        used = {layer.diff_id for layer in self.store.layers.all()}
        for blob in sorted(self.store.content.root.iterdir()):
            if is_digest(blob.name) and "sha256:" + blob.name not in used:
                self.report("blob", blob.name, "blob no layer uses",
                            lambda b=blob: b.unlink())
        for layer_id in sorted(self.layer_ids - self.needed - self.store.journal.protected()):
            self.report("layer", layer_id, "layer no image or container uses",
                        lambda i=layer_id: self._delete_layer(i))
        for d in temp_dirs(self.store.root):
            for name in sorted(os.listdir(d)):
                m = TEMP_PATTERN.match(name)
                if m and not pid_alive(int(m[1])):
                    self.report("temp", str(d / name), "temporary file of a dead process",
                                lambda p=d / name: self.store.journal.discard(p))
        running = {c.ID for c in self.store.containers.all() if c.State.Running}
        root = str(self.store.root) + "/"
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        for point in mounts:
            if point.startswith(root) and point.endswith("/merged"):
                cid = Path(point).parent.name
                if cid not in running and not self._viewed(cid):
                    self.report("mount", point, "view mounted for no running container",
                                lambda c=cid: self.engine.driver("overlay").unmount(c))
        trash = self.store.journal.trash_dir
        if trash.is_dir() and os.listdir(trash):
            self.report("temp", str(trash), "trash left by a crash",
                        self.store.journal.empty_trash)
        self._cgroups(running)

    def _viewed(self, cid: str) -> bool:
        return self.engine.driver("overlay")._readers(cid)

    def _delete_layer(self, chain_id: str) -> None:
        from .images import Removed

        self.engine.images.gc_layers(Removed())

    def _cgroups(self, running: set[str]) -> None:
        from ..runtime import cgroups

        with contextlib.suppress(OSError):
            for v in (1, 2):
                mount = cgroups._hierarchy(v)
                if mount is None:
                    continue
                parent = mount / cgroups._relative("x").parent
                for d in sorted(parent.iterdir()) if parent.is_dir() else []:
                    if d.is_dir() and len(d.name) == 64 and d.name not in running:
                        group = cgroups.Cgroup(d, v)
                        self.report("cgroup", str(d), "cgroup of no running container",
                                    group.remove)

