"""Volumes: data that lives beside the layers, not in them (``docker volume``, ``-v``).

A volume is a directory under the store (``volumes/<name>/_data``, the ``local``
driver) that the container's init bind-mounts at the mount point, in the container's
mount namespace: what a container writes there goes to the volume, not to its read-write
layer, so ``commit``, ``export`` and ``diff`` never see it, and it outlives the container.
A volume first mounted empty is filled from the image's files at that path (Docker's
copy-up), read by descriptor inside the container's root (``layertar``).

This service also turns a container's recorded mount points into the runtime's mounts
at start (``mounts_for``), and answers which containers use a volume.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidArgument, NotFound, Unsupported
from ..fs import securejoin, tree
from ..runtime.spec import Mount
from ..store.containers import Container, now
from ..store.names import new_id
from ..store.volumes import ANONYMOUS_LABEL, Volume
from .mounts import MountPoint, check_unique, parse_tmpfs, parse_volumes_from

if TYPE_CHECKING:
    from .engine import Engine
    from .filters import Filters

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")  # the local driver's
LS_FILTERS = frozenset({"dangling", "name", "label", "label!", "driver"})


def check_name(name: str) -> None:
    """The local driver's rule for names, in its words."""
    if len(name) == 1:
        raise InvalidArgument(f"create {name}: volume name is too short, names should be at "
                              "least two alphanumeric characters")
    if not NAME_RE.match(name):
        raise InvalidArgument(f'create {name}: "{name}" includes invalid characters for a '
                              'local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are '
                              "allowed. If you intended to pass a host directory, use "
                              "absolute path")


def copy_up(rootfs: str, destination: str, data: str) -> bool:
    """Fill the empty volume directory ``data`` with what the image has at
    ``destination`` (resolved within ``rootfs``, opened without following a symlink),
    owners and modes kept, and give the volume's root the mode and owner of that
    directory, as Docker does; False if there was nothing to copy."""
    from ..oci import layertar, ownership  # tarfile: only a volume's first mount copies

    if os.listdir(data):
        return False
    rel = securejoin.resolve(rootfs, destination).lstrip("/")
    with tree.opened_dir(rootfs) as root_fd:
        chain = tree.DirChain(root_fd)
        try:
            try:
                src = chain.open(rel, create=False)
            except OSError:
                return False  # missing, or not a directory: nothing to copy
            st = os.fstat(src)
            with tempfile.TemporaryFile(dir=os.path.dirname(data)) as spool:
                layertar.write_tree(spool, src)
                spool.seek(0)
                layertar.extract(spool, Path(data), "plain")
        finally:
            chain.close()
    if ownership.chown_allowed():
        os.chown(data, st.st_uid, st.st_gid)
    os.chmod(data, stat.S_IMODE(st.st_mode))
    return True


def _usage(path: str) -> int:
    """Bytes of file content below ``path`` (``system df``, ``volume ls`` sizes)."""
    total = 0
    with contextlib.suppress(OSError), tree.opened_dir(path) as fd:
        for entry in tree.walk(fd, sort=False):
            if stat.S_ISREG(entry.st.st_mode):
                total += entry.st.st_size
    return total


class Volumes:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    # -- records -------------------------------------------------------------------------
    def create(self, name: str = "", labels: dict[str, str] | None = None,
               driver: str = "local", options: dict[str, str] | None = None) -> Volume:
        """``volume create``: a named volume (an existing one is returned as it is, as
        Docker does), or an anonymous one (a random 64-hex name) when ``name`` is ""."""
        if driver != "local":
            raise NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not '
                           "found")
        if options:
            raise InvalidArgument(f"create {name}: the local driver here takes no options "
                                  f"(given: {', '.join(sorted(options))})")
        with self.store.lock():
            return self._create(name, dict(labels or {}))

    def _create(self, name: str, labels: dict[str, str]) -> Volume:
        if not name:
            name, labels = new_id(), {**labels, ANONYMOUS_LABEL: ""}
        check_name(name)
        if self.store.volumes.exists(name):
            return self.store.volumes.get(name)
        v = Volume(name, now(), Labels=labels)
        self.store.volumes.add(v)
        self.engine.events.log("volume", "create", name, {"driver": "local"})
        return v

    def get(self, name: str) -> Volume:
        return self.store.volumes.get(name)

    def all(self) -> list[Volume]:
        return self.store.volumes.all()

    def mountpoint(self, name: str) -> str:
        return str(self.store.volumes.data(name))

    def inspect(self, name: str) -> dict[str, Any]:
        """Docker's volume JSON."""
        v = self.get(name)
        return {"CreatedAt": v.CreatedAt, "Driver": v.Driver, "Labels": v.Labels or None,
                "Mountpoint": self.mountpoint(v.Name), "Name": v.Name,
                "Options": v.Options or None, "Scope": v.Scope}

    def size(self, name: str) -> int:
        return self.engine.in_store(_usage, self.mountpoint(name))

    def users(self, name: str) -> list[str]:
        """IDs of the containers (in any state) that mount the volume."""
        return [c.ID for c in self.engine.containers.all()
                if any(m.get("Type") == "volume" and m.get("Name") == name for m in c.Mounts)]

    def matching(self, filters: Filters) -> list[Volume]:
        """``volume ls --filter``: dangling (used by no container), name (a substring, as
        Docker matches it), label / label!, driver."""
        filters.validate(LS_FILTERS)
        dangling = filters.get("dangling")
        for value in dangling:
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid filter 'dangling={value}'")
        used = {m["Name"] for c in self.engine.containers.all() for m in c.Mounts
                if m.get("Type") == "volume"}
        out = []
        for v in self.all():
            if dangling and not any((value.lower() in ("true", "1")) == (v.Name not in used)
                                    for value in dangling):
                continue
            names = filters.get("name")
            if names and not any(n in v.Name for n in names):
                continue
            if not filters.match_kv("label", v.Labels):
                continue
            if filters.contains("label!") and any(
                    _has_label(v.Labels, value) for value in filters.get("label!")):
                continue
            if not filters.exact("driver", v.Driver):
                continue
            out.append(v)
        return out

    def remove(self, name: str, force: bool = False) -> None:
        """``volume rm``: refused while a container uses it (``-f`` does not change that,
        as in Docker; it only ignores a volume that does not exist)."""
        with self.store.lock():
            if not self.store.volumes.exists(name):
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            self._remove(name)

    def _remove(self, name: str) -> None:
        """Remove an existing volume unless a container uses it (store lock held)."""
        users = self.users(name)
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.engine.in_store(self.store.volumes.delete, name)
        self.engine.events.log("volume", "destroy", name, {"driver": "local"})

    def prune(self, all: bool = False,
              select: Callable[[str, dict[str, str]], bool] | None = None,
              ) -> tuple[list[str], int]:
        """Unused volumes: anonymous ones, or every one with ``all`` (Docker 23+'s
        ``volume prune -a``), that ``select(created, labels)`` lets go; (names, bytes)."""
        removed, size = [], 0
        for v in self.all():
            if not (all or v.anonymous) or self.users(v.Name):
                continue
            if select is not None and not select(v.CreatedAt, v.Labels):
                continue
            used = self.size(v.Name)
            with contextlib.suppress(NotFound, Conflict), self.store.lock():
                self._remove(v.Name)
                removed.append(v.Name)
                size += used
        self.engine.events.log("volume", "prune", "", {"reclaimed": str(size)})
        return removed, size

    # -- a container's mounts ------------------------------------------------------------
    def plan(self, points: list[MountPoint], image_volumes: dict[str, Any],
             volumes_from: list[str]) -> list[MountPoint]:
        """The container's mount points at create: ``--volumes-from`` first, then the
        flags (which win on the same destination), then an anonymous volume for each
        ``VOLUME`` of the image left uncovered; volumes are made here (store lock held).
        Returns them with every volume named."""
        inherited: list[MountPoint] = []
        for raw in volumes_from:
            name, mode = parse_volumes_from(raw)
            source = self.engine.containers.get(name)
            for record in source.Mounts:
                p = MountPoint.load(record)
                if p.Type not in ("bind", "volume"):
                    continue  # Docker shares volumes and binds, not a tmpfs
                if mode:
                    p.RW = mode == "rw"
                inherited.append(p)
        check_unique(points)
        given = {p.Destination for p in points}
        out = [p for p in inherited if p.Destination not in given] + list(points)
        taken = {p.Destination for p in out}
        for dest in sorted(image_volumes or {}):
            clean = os.path.normpath(dest)
            if clean not in taken:
                out.append(MountPoint("volume", clean))
                taken.add(clean)
        for p in out:
            if p.Type == "volume" and p.Name:
                check_name(p.Name)  # all of them before any is made
        for p in out:
            if p.Type == "volume":
                p.Name = self._create(p.Name, p.Labels).Name
                p.Labels = {}
        return out

    def remove_anonymous(self, c: Container, locked: bool = False) -> None:
        """``rm -v`` (and ``--rm``): the container's anonymous volumes that no other
        container uses; named ones stay, as in Docker. ``locked``: the caller holds the
        store lock."""
        with contextlib.nullcontext() if locked else self.store.lock():
            for record in c.Mounts:
                name = record.get("Name")
                if record.get("Type") != "volume" or not name:
                    continue
                with contextlib.suppress(NotFound, Conflict):
                    if self.get(name).anonymous:
                        self._remove(name)

    def shown(self, c: Container) -> list[dict[str, Any]]:
        """The ``Mounts`` of ``docker inspect``, as Docker shows them."""
        out = []
        for record in c.Mounts:
            p = MountPoint.load(record)
            if p.Type == "volume":
                out.append({"Type": "volume", "Name": p.Name,
                            "Source": self.mountpoint(p.Name), "Destination": p.Destination,
                            "Driver": "local", "Mode": p.Mode, "RW": p.RW,
                            "Propagation": ""})
            else:
                out.append({"Type": p.Type, "Source": p.Source, "Destination": p.Destination,
                            "Mode": p.Mode, "RW": p.RW, "Propagation": p.Propagation})
        return out

    def mounts_for(self, c: Container, rootfs: str, mode: str) -> list[Mount]:
        """The runtime mounts of ``c`` at start: a ``-v`` bind's missing host directory is
        made, a bind's missing source is refused, an empty volume gets its copy-up. PRoot
        can only bind (``proot -b``), read-write: the rest is refused there."""
        points = [MountPoint.load(r) for r in c.Mounts]
        for target, opts in (c.HostConfig.get("Tmpfs") or {}).items():
            points.append(parse_tmpfs(f"{target}:{opts}" if opts else target))
        if mode == "proot":
            _check_proot(points, bool(c.HostConfig.get("ReadonlyRootfs")))
        out = []
        for p in points:
            if p.Type == "tmpfs":
                out.append(Mount(p.Destination, kind="tmpfs", readonly=not p.RW,
                                 flags=p.TmpfsFlags, data=p.TmpfsOptions))
                continue
            if p.Type == "bind":
                if not os.path.exists(p.Source):
                    if not p.CreateSource:
                        raise InvalidArgument(f'invalid mount config for type "bind": bind '
                                              f"source path does not exist: {p.Source}")
                    os.makedirs(p.Source, 0o755, exist_ok=True)
                out.append(Mount(p.Destination, p.Source, readonly=not p.RW))
                continue
            data = self.mountpoint(p.Name)
            if not self.store.volumes.exists(p.Name):
                raise NotFound(f"get {p.Name}: no such volume")
            if p.CopyData:
                self.engine.in_store(copy_up, rootfs, p.Destination, data)
            out.append(Mount(p.Destination, data, readonly=not p.RW))
        return out

    def announce(self, c: Container, action: str) -> None:
        """moby's ``volume mount`` (at start) and ``volume unmount`` (at exit) events, one
        per volume of the container."""
        for record in c.Mounts:
            if record.get("Type") != "volume":
                continue
            attrs = {"container": c.ID, "driver": "local"}
            if action == "mount":
                attrs.update({"destination": record["Destination"], "propagation": "",
                              "read/write": str(bool(record.get("RW", True))).lower()})
            self.engine.events.log("volume", action, record["Name"], attrs)

    def binds(self, c: Container) -> list[tuple[str, str]]:
        """(host source, container path) of every bind and volume: PRoot's ``-b``s, and
        what ``cp`` lays over a stopped container's view."""
        out = []
        for record in c.Mounts:
            p = MountPoint.load(record)
            if p.Type == "bind":
                out.append((p.Source, p.Destination))
            elif p.Type == "volume":
                out.append((self.mountpoint(p.Name), p.Destination))
        return out


def _check_proot(points: list[MountPoint], readonly_rootfs: bool) -> None:
    why = ""
    if readonly_rootfs:
        why = "--read-only"
    elif any(p.Type == "tmpfs" for p in points):
        why = "a tmpfs mount"
    elif any(not p.RW for p in points):
        why = "a read-only mount (:ro)"
    if why:
        raise Unsupported(f"PRoot mode cannot make {why}: it binds paths (proot -b), read-"
                          "write, and mounts nothing (use a rootless or root store)")


def _has_label(labels: dict[str, str], value: str) -> bool:
    k, eq, v = value.partition("=")
    return k in labels and (not eq or labels[k] == v)
