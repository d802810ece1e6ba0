"""System-wide views: ``info``, ``version``, disk usage and the layer graph (S1, S2, S9)."""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..fs.atomic import read_json, write_json
from ..oci.digest import chain_ids
from ..store.images import Image
from ..version import VERSION, version_info

if TYPE_CHECKING:
    from .engine import Engine


@dataclass
class LayerGraph:
    """Layers bottom-up with the images and containers on them: how they share layers.

    ``layers``: {id (chainID), diff_id, parent, size}; ``images``: {id, tags, top (chainID
    of the top layer), parent, intermediate, created_by}; ``containers``: {id, name, top,
    state, image, rw_size}.
    """

    layers: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    containers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Usage:
    """One row of ``system df``: how many, how many in use, bytes, bytes reclaimable."""

    kind: str
    total: int
    active: int
    size: int
    reclaimable: int


@dataclass
class ImageUsage:
    """One image of ``system df -v``: its bytes, those it shares with other images, and how
    many containers use it."""

    image: Image
    size: int
    shared: int
    containers: int


class System:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    def info(self) -> dict[str, Any]:
        iso = self.engine.isolation()
        cs = self.store.containers.all()
        return {
            "Containers": len(cs),
            "ContainersRunning": sum(1 for c in cs if c.State.Running and not c.State.Paused),
            "ContainersPaused": sum(1 for c in cs if c.State.Paused),
            "ContainersStopped": sum(1 for c in cs if not c.State.Running),
            "Images": len(self.engine.images.listing(all=True)),
            "Driver": self.engine.driver_name,
            "Isolation": iso.mode,
            "IsolationReason": iso.reason,
            "IsolationProbes": [{"Mode": f.mode, "Works": f.ok, "Found": f.detail}
                                for f in iso.findings],
            "IsolationLimits": iso.limits(),
            "DriverReason": iso.driver_reason,
            "Pause": iso.pause_method or "unavailable",
            "CgroupFreezer": iso.cgroup or "",
            "KernelVersion": platform.release(),
            "OperatingSystem": _os_name(),
            "Architecture": platform.machine(),
            "NCPU": os.cpu_count(),
            "DockerRootDir": str(self.store.root),
            "ServerVersion": VERSION,
            "APIServices": self.services(),
            **self.engine.limits.support(),
        }

    @contextlib.contextmanager
    def serving(self, uri: str) -> Iterator[None]:
        """Record, for as long as it lasts, that this process serves the Docker API for
        this engine at ``uri`` (``info`` says where)."""
        path = self.store.root / "services" / f"{os.getpid()}.json"
        write_json(path, {"uri": uri, "pid": os.getpid()})
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def services(self) -> list[str]:
        """The URIs of the live Docker API services of this engine; records left by a
        service that died are removed."""
        uris = []
        for path in sorted((self.store.root / "services").glob("*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                record = read_json(path)
                try:
                    os.kill(int(record["pid"]), 0)
                except ProcessLookupError:
                    path.unlink()
                    continue
                uris.append(str(record["uri"]))
        return uris

    def version(self) -> dict[str, Any]:
        return version_info()

    def disk_usage(self) -> list[Usage]:
        """``system df``: layers of images (shared ones once), RW layers of containers."""
        images = self.store.images.all()
        containers = self.store.containers.all()
        used_images = {c.Image for c in containers}
        layer_sizes = {lay.chain_id: lay.size for lay in self.store.layers.all()}
        used_layers: set[str] = set()
        for img in images:
            if img.id in used_images:
                used_layers.update(chain_ids(img.diff_ids))
        rw = {c.ID: (self.engine.containers.rw_size(c), c.State.Running) for c in containers}
        return [
            Usage("Images", len(images), len([i for i in images if i.id in used_images]),
                  sum(layer_sizes.values()),
                  sum(s for cid, s in layer_sizes.items() if cid not in used_layers)),
            Usage("Containers", len(containers), len([c for c in containers if c.State.Running]),
                  sum(size for size, _ in rw.values()),
                  sum(size for size, running in rw.values() if not running)),
            self._volume_usage(),
            Usage("Build Cache", 0, 0, 0, 0),
        ]

    def _volume_usage(self) -> Usage:
        """Volumes: the used ones are those some container (in any state) mounts."""
        sizes = {v.Name: self.engine.volumes.size(v.Name) for v in self.engine.volumes.all()}
        used = {n for n in sizes if self.engine.volumes.users(n)}
        return Usage("Local Volumes", len(sizes), len(used), sum(sizes.values()),
                     sum(size for n, size in sizes.items() if n not in used))

    def image_usage(self) -> list[ImageUsage]:
        """Every image, newest first, with Docker's shared/unique split of its layers."""
        images = sorted(self.store.images.all(), key=lambda i: i.config.get("created", ""),
                        reverse=True)
        users: dict[str, int] = {}
        for c in self.store.containers.all():
            users[c.Image] = users.get(c.Image, 0) + 1
        chains = {img.id: chain_ids(img.diff_ids) for img in images}
        refs: dict[str, int] = {}
        for ids in chains.values():
            for cid in ids:
                refs[cid] = refs.get(cid, 0) + 1
        sizes = {lay.chain_id: lay.size for lay in self.store.layers.all()}
        return [ImageUsage(img, sum(sizes.get(c, 0) for c in chains[img.id]),
                           sum(sizes.get(c, 0) for c in chains[img.id] if refs[c] > 1),
                           users.get(img.id, 0)) for img in images]

    def layer_graph(self) -> LayerGraph:
        """Layers, images and containers with how they share layers (S1, S2, S9)."""
        images = self.store.images.all()
        parents = {i.parent for i in images if i.parent}
        layers = [{"id": lay.chain_id, "diff_id": lay.diff_id, "parent": lay.parent,
                   "size": lay.size} for lay in self.store.layers.all()]
        image_nodes = [{"id": i.id, "tags": i.tags, "top": (chain_ids(i.diff_ids) or [""])[-1],
                        "parent": i.parent, "intermediate": not i.tags and i.id in parents,
                        "created_by": (i.history[-1].get("created_by", "") if i.history
                                       else "")}
                       for i in images]
        containers = [{"id": c.ID, "name": c.Name, "top": (c.Layers or [""])[-1],
                       "state": c.State.Status, "image": c.Image,
                       "rw_size": self.engine.containers.rw_size(c)}
                      for c in self.store.containers.all()]
        return LayerGraph(layers, image_nodes, containers)


def _os_name() -> str:
    with contextlib.suppress(OSError), open("/etc/os-release") as f:
        for line in f:
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return "Linux"
