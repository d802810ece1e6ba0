"""The Engine API: every operation the command layer (CLI, kernel) can ask for.

Metadata changes happen under one store lock; a container's state changes under its own
lock, because its monitor updates it while other commands run.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import Conflict, EngineError, InvalidArgument, NotFound, Unsupported
from ..fs.atomic import atomic_write, locked
from ..oci import instructions, layertar
from ..oci import reference as refs
from ..oci.digest import chain_ids, short
from ..runtime import isolation
from ..runtime.cgroups import Cgroup
from ..runtime.spec import Attach, ContainerSpec, ProcessSpec, merged_env
from ..snapshot import SnapshotDriver, make_driver
from ..store.containers import ZERO_TIME, Container, ContainerStore, State, now
from ..store.content import ContentStore
from ..store.images import Image, ImageStore, encode_config
from ..store.layers import Layer, LayerStore
from ..store.names import new_id, random_name

VERSION = "0.1.0"


@dataclass
class CreateOptions:
    """``docker create``/``run`` flags that shape the container."""

    cmd: list[str] = field(default_factory=list)
    name: str = ""
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    user: str | None = None
    hostname: str = ""
    entrypoint: str | None = None  # "" clears the image's ENTRYPOINT
    interactive: bool = False
    auto_remove: bool = False
    labels: dict[str, str] = field(default_factory=dict)


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


class Engine:
    def __init__(self, root: Path, driver: str | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.content = ContentStore(root)
        self.layers = LayerStore(root, self.content)
        self.images = ImageStore(root)
        self.containers = ContainerStore(root)
        self.driver_name = driver or isolation.default_driver()
        self._drivers: dict[str, SnapshotDriver] = {}

    # -- plumbing ------------------------------------------------------------
    def lock(self) -> contextlib.AbstractContextManager[None]:
        return locked(self.root / "lock")

    def driver(self, name: str | None = None) -> SnapshotDriver:
        name = name or self.driver_name
        if name not in self._drivers:
            self._drivers[name] = make_driver(name, self.root, self.layers)
        return self._drivers[name]

    def isolation(self) -> isolation.Isolation:
        return isolation.probe()

    def image(self, ref: str) -> Image:
        return self.images.get(self.images.resolve(ref))

    def container(self, name: str) -> Container:
        return self.containers.get(self.containers.resolve(name))

    def chain(self, c: Container) -> list[Layer]:
        return [self.layers.get(cid) for cid in c.Layers]

    def image_layers(self, img: Image) -> list[Layer]:
        return self.layers.chain(img.diff_ids)

    def image_size(self, img: Image) -> int:
        return sum(layer.size for layer in self.image_layers(img))

    # -- images ----------------------------------------------------------------
    def list_images(self, all: bool = False) -> list[Image]:
        """Top-level images (tagged, or untagged leaves); with ``all``, intermediates too (S9)."""
        images = self.images.all()
        parents = {img.parent for img in images if img.parent}
        if not all:
            images = [img for img in images if img.tags or img.id not in parents]
        return sorted(images, key=lambda i: i.config.get("created", ""), reverse=True)

    def new_image(self, config: dict[str, Any], parent: str = "", tag: str = "",
                  build_key: str = "") -> str:
        image_id = self.images.put(encode_config(config), parent, build_key)
        if tag:
            self.images.tag(image_id, tag)
        return image_id

    def tag(self, source: str, target: str) -> None:
        with self.lock():
            self.images.tag(self.images.resolve(source), target)

    def history(self, ref: str) -> list[HistoryRow]:
        """Every layer-making step, newest first; ``<missing>`` where Docker shows it (S21)."""
        img = self.image(ref)
        entries = img.history
        ids = ["<missing>"] * len(entries)
        walk: Image | None = img
        while walk is not None:
            n = len(walk.history)
            if 0 < n <= len(ids):
                ids[n - 1] = walk.id
            walk = self.images.get(walk.parent) if walk.parent and self.images.exists(
                walk.parent) else None
        sizes = iter(layer.size for layer in self.image_layers(img))
        rows = []
        for i, h in enumerate(entries):
            empty = bool(h.get("empty_layer"))
            rows.append(HistoryRow(ids[i], h.get("created", ""), h.get("created_by", ""),
                                   0 if empty else next(sizes, 0), h.get("comment", ""), empty))
        return rows[::-1]

    def history_changes(self, ref: str) -> list[list[layertar.Change] | None]:
        """What each ``history`` step's layer added, changed and deleted (whiteouts) relative
        to the layers below it, aligned with ``history()`` rows; None for steps without a
        layer. Read from the layer tars, so it works on any driver (history drill-down)."""
        layers = iter(self.image_layers(self.image(ref)))
        present: set[str] = set()
        out: list[list[layertar.Change] | None] = []
        for row in reversed(self.history(ref)):
            layer = None if row.empty_layer else next(layers, None)
            if layer is None:
                out.append(None)
                continue
            with self.layers.open_tar(layer) as f:
                out.append(layertar.tar_changes(f, present))
        return out[::-1]

    def inspect_image(self, ref: str) -> dict[str, Any]:
        img = self.image(ref)
        cfg = img.config
        layers = self.image_layers(img)
        graph: dict[str, Any] = {}
        if layers and self.driver_name == "overlay":
            dirs = [str(self.layers.unpacked(layer)) for layer in reversed(layers)]
            graph = {"UpperDir": dirs[0], "LowerDir": ":".join(dirs[1:])} if len(dirs) > 1 \
                else {"UpperDir": dirs[0]}
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
            "Size": self.image_size(img),
            "GraphDriver": {"Name": self.driver_name, "Data": graph},
            "RootFS": {"Type": "layers", "Layers": img.diff_ids},
            "Metadata": {"LastTagTime": ZERO_TIME},
        }

    def users_of(self, image_id: str) -> list[Container]:
        return [c for c in self.containers.all() if c.Image == image_id]

    def remove_image(self, ref: str, force: bool = False) -> Removed:
        """``rmi``: untag, then delete the image and layers nothing else needs (S14)."""
        with self.lock():
            out = Removed()
            image_id = self.images.resolve(ref)
            img = self.images.get(image_id)
            tag = _tag_named(ref, img.tags)
            users = self.users_of(image_id)
            running = [c for c in users if c.State.Running]
            if tag and len(img.tags) > 1:
                self.images.untag(tag)
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
            children = self.images.children(image_id)
            if children and not force:
                raise Conflict(f"conflict: unable to delete {short(image_id)} (must be forced) "
                               "- image has dependent child images")
            for t in img.tags:
                self.images.untag(t)
                out.lines.append(("Untagged", t))
            self._delete_image(img, out)
            for child in children:  # forced: the children keep their layers, lose the link
                self.images.put(self.images.raw_config(child.id), "")
                atomic_write(self.images.root / child.id[7:] / "meta.json", b'{"parent": ""}')
            self._gc_layers(out)
            return out

    def _delete_image(self, img: Image, out: Removed) -> None:
        """Delete ``img`` and then its untagged, childless, unused intermediate parents."""
        current: Image | None = img
        while current is not None:
            self.images.delete(current.id)
            out.lines.append(("Deleted", current.id))
            parent = current.parent
            current = None
            if parent and self.images.exists(parent):
                p = self.images.get(parent)
                if not p.tags and not self.images.children(p.id) and not self.users_of(p.id):
                    current = p

    def _gc_layers(self, out: Removed) -> None:
        keep: set[str] = set()
        for img in self.images.all():
            keep.update(chain_ids(img.diff_ids))
        for c in self.containers.all():
            keep.update(c.Layers)
        for layer in self.layers.delete_unused(keep):
            out.lines.append(("Deleted", layer.chain_id))
            out.reclaimed += layer.size

    def prune_images(self, all: bool = False) -> Removed:
        """Remove dangling images (untagged leaves), or with ``all`` every unused image;
        leaves first, so the untagged parents they free go too."""
        out = Removed()
        with self.lock():
            used = {c.Image for c in self.containers.all()}
            while True:
                images = self.images.all()
                parents = {i.parent for i in images if i.parent}
                victims = [i for i in images if i.id not in used and i.id not in parents
                           and (all or not i.tags)]
                if not victims:
                    break
                for img in victims:
                    for t in img.tags:
                        self.images.untag(t)
                        out.lines.append(("untagged", t))
                    self.images.delete(img.id)
                    out.lines.append(("deleted", img.id))
            self._gc_layers(out)
        return out

    # -- containers ------------------------------------------------------------
    def create(self, image_ref: str, opts: CreateOptions) -> Container:
        """S5: a new read-write layer over the image; state *created*, nothing runs."""
        with self.lock():
            return self._create(self.image(image_ref), image_ref, opts)

    def create_step(self, image_id: str, opts: CreateOptions) -> Container:
        """A build step's container: over ``image_id``, or over no layer at all for a step
        of a ``FROM scratch`` stage, which has no image yet to start from."""
        with self.lock():
            img = self.images.get(image_id) if image_id else Image("", {"rootfs": {}})
            return self._create(img, image_id, opts)

    def _create(self, img: Image, image_ref: str, opts: CreateOptions) -> Container:
        name = opts.name.lstrip("/")
        if name:
            from ..store.names import NAME_RE

            if not NAME_RE.match(name):
                raise InvalidArgument(f'Invalid container name ({name}), only '
                                      '[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')
            self.containers.check_name_free(name)
        else:
            name = random_name(self.containers.names())
        cid = new_id()
        ic = img.run_config
        entrypoint = ic.get("Entrypoint") or []
        cmd = ic.get("Cmd") or []
        if opts.entrypoint is not None:
            entrypoint = [opts.entrypoint] if opts.entrypoint else []
            cmd = []
        if opts.cmd:
            cmd = opts.cmd
        if not entrypoint and not cmd:
            raise InvalidArgument("no command specified", )
        hostname = opts.hostname or cid[:12]
        config = {
            "Hostname": hostname,
            "User": ic.get("User", "") if opts.user is None else opts.user,
            "Env": merged_env(ic.get("Env") or [], opts.env, hostname),
            "Cmd": cmd,
            "Entrypoint": entrypoint or None,
            "WorkingDir": opts.workdir or ic.get("WorkingDir") or "",
            "Image": image_ref,
            "Labels": {**(ic.get("Labels") or {}), **opts.labels},
            "StopSignal": ic.get("StopSignal") or "SIGTERM",
            "OpenStdin": opts.interactive,
            "AttachStdin": opts.interactive,
        }
        chain = self.image_layers(img)
        c = Container(cid, name, now(), img.id, image_ref, self.driver_name, config,
                      [layer.chain_id for layer in chain],
                      {"AutoRemove": opts.auto_remove})
        driver = self.driver()
        try:
            driver.prepare(cid, chain)
            d = self.containers.dir(cid)
            atomic_write(d / "hostname", f"{hostname}\n".encode())
            atomic_write(d / "hosts", (
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                f"127.0.1.1\t{hostname}\n").encode())
            resolv = Path("/etc/resolv.conf")
            atomic_write(d / "resolv.conf", resolv.read_bytes() if resolv.exists() else b"")
            self.containers.add(c)
        except BaseException:
            driver.remove(cid)
            self.containers.delete(cid)
            raise
        return c

    def start(self, name: str, attach: Attach | None = None) -> Any:
        """S6: create the isolated process space and run the command in it.

        Returns the runtime's ``Started`` handle, or None when the container was already
        running (a container has exactly one process space).
        """
        iso = self.isolation()
        with self.lock():
            c = self.container(name)
            if c.State.Paused:
                raise Conflict(f"cannot start a paused container {c.Name}, try unpause instead")
            if c.State.Running:
                return None
            try:
                return self._spawn(c, iso, attach)
            except EngineError as e:
                if not c.HostConfig.get("AutoRemove"):
                    raise
                error = e
        with contextlib.suppress(NotFound):  # --rm, once we no longer hold the store lock
            self._remove_stopped(c.ID)
        raise error

    def run_step(self, name: str, output: Callable[[bytes], None]) -> int:
        """Start a created container, hand its output to ``output`` as it comes (stdout and
        stderr merged, as the classic builder streams a RUN step) and return its exit code
        once it has exited and its monitor has recorded it."""
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                started = self.start(name, Attach(w, w))
            finally:
                os.close(w)
            while chunk := os.read(r, 65536):
                output(chunk)
        finally:
            os.close(r)
        return started.wait() if started is not None else self.wait(name)

    def _spawn(self, c: Container, iso: isolation.Isolation, attach: Attach | None) -> Any:
        from ..runtime import monitor

        if not iso.can_run:
            raise Unsupported(f"cannot start containers here: {iso.reason}")
        driver = self.driver(c.Driver)
        rootfs = driver.mount(c.ID, self.chain(c))
        d = self.containers.dir(c.ID)
        spec = ContainerSpec(
            id=c.ID,
            rootfs=str(rootfs),
            hostname=c.Config["Hostname"],
            process=ProcessSpec(c.command, c.Config["Env"], c.Config["WorkingDir"] or "/",
                                c.Config["User"]),
            state_dir=str(d),
            cgroup=iso.cgroup is not None,
            etc_files={f"/etc/{n}": str(d / n) for n in ("hostname", "hosts", "resolv.conf")},
        )
        hooks = monitor.Hooks(
            started=lambda pid: self._on_started(c.ID, pid),
            exited=lambda code: self._on_exited(c.ID, code),
            failed=lambda code, msg: self._on_failed(c.ID, code, msg),
        )
        try:
            return monitor.spawn(spec, attach, hooks)
        except EngineError:
            with contextlib.suppress(OSError):
                driver.unmount(c.ID)
            raise

    def _on_started(self, cid: str, pid: int) -> None:
        self.containers.update_state(cid, Status="running", Running=True, Paused=False, Pid=pid,
                                     ExitCode=0, Error="", StartedAt=now(),
                                     FinishedAt=ZERO_TIME, MonitorPid=os.getpid())

    def _on_exited(self, cid: str, code: int) -> None:
        c = self.containers.get(cid)
        with contextlib.suppress(OSError):
            self.driver(c.Driver).unmount(cid)
        self.containers.update_state(cid, Status="exited", Running=False, Paused=False, Pid=0,
                                     ExitCode=code, FinishedAt=now(), MonitorPid=0)
        if c.HostConfig.get("AutoRemove"):
            with contextlib.suppress(NotFound):
                self._remove_stopped(cid)

    def _on_failed(self, cid: str, code: int, message: str) -> None:
        """Record why the command could not start (``_spawn`` unmounts the view)."""
        self.containers.update_state(cid, ExitCode=code, Error=message)

    def _remove_stopped(self, cid: str) -> None:
        with self.lock():
            c = self.containers.get(cid)
            self.driver(c.Driver).remove(cid)
            self.containers.delete(cid)

    def running(self, name: str) -> Container:
        c = self.container(name)
        if not c.State.Running:
            raise Conflict(f"container {c.ID} is not running")
        return c

    def wait_exit(self, c: Container, timeout: float | None) -> bool:
        """Wait (without polling) until the container's init has exited and the monitor has
        recorded it; False if ``timeout`` passed first."""
        try:
            pidfd = os.pidfd_open(c.State.Pid)
        except ProcessLookupError:
            pidfd = None
        if pidfd is not None:
            try:
                ready, _, _ = select.select([pidfd], [], [], timeout)
            finally:
                os.close(pidfd)
            if not ready:
                return False
        self.containers.wait_monitor(c.ID)
        return True

    def stop(self, name: str, timeout: float | None = None, sig: str = "") -> Container:
        """S10: the stop signal to the main process, a grace period, then SIGKILL to all."""
        c = self.container(name)
        if not c.State.Running:
            return c
        grace = 10.0 if timeout is None else timeout
        if c.State.Paused:
            self._kill_all(c)
        else:
            signum = signal.Signals[_signal_name(sig or c.Config.get("StopSignal") or "SIGTERM")]
            with contextlib.suppress(ProcessLookupError):
                os.kill(c.State.Pid, signum)
            if not self.wait_exit(c, grace):
                self._kill_all(c)
        self.wait_exit(c, None)
        return self.containers.get(c.ID)

    def _kill_all(self, c: Container) -> None:
        cg = Cgroup.open(c.ID)
        if cg:
            cg.kill_all(signal.SIGKILL)
            if cg.frozen():
                cg.thaw()
        with contextlib.suppress(ProcessLookupError):
            os.kill(c.State.Pid, signal.SIGKILL)  # PID 1 gone = every process of the ns gone

    def kill(self, name: str, sig: str = "SIGKILL") -> Container:
        """S11: SIGKILL, or the given signal, to the container's main process."""
        c = self.running(name)
        signum = signal.Signals[_signal_name(sig)]
        if signum == signal.SIGKILL:
            self._kill_all(c)
            self.wait_exit(c, None)
        else:
            os.kill(c.State.Pid, signum)
        return c

    def pause(self, name: str) -> Container:
        """S12: freeze every process with the cgroup freezer; no signal is sent."""
        c = self.running(name)
        if c.State.Paused:
            raise Conflict(f"container {c.ID} is already paused")
        cg = Cgroup.open(c.ID)
        if cg is None:
            raise Unsupported("pause needs a cgroup freezer, and this host has none writable")
        cg.freeze()
        self.containers.update_state(c.ID, Status="paused", Paused=True)
        return c

    def unpause(self, name: str) -> Container:
        c = self.container(name)
        if not c.State.Paused:
            raise Conflict(f"container {c.ID} is not paused")
        cg = Cgroup.open(c.ID)
        if cg:
            cg.thaw()
        self.containers.update_state(c.ID, Status="running", Paused=False)
        return c

    def remove_container(self, name: str, force: bool = False) -> Container:
        """S13: remove the container and its RW layer; a running one only with ``force``."""
        c = self.container(name)
        if c.State.Running:
            if not force:
                raise Conflict(
                    f'cannot remove container "/{c.Name}": container is {c.State.Status}: '
                    "stop the container before removing or force remove")
            self._kill_all(c)
            self.wait_exit(c, None)
        self._remove_stopped(c.ID)
        return c

    def prune_containers(self) -> tuple[list[str], int]:
        removed, size = [], 0
        for c in self.containers.all():
            if not c.State.Running:
                size += self.rw_size(c)
                with contextlib.suppress(NotFound):
                    self._remove_stopped(c.ID)
                    removed.append(c.ID)
        return removed, size

    def wait(self, name: str) -> int:
        c = self.container(name)
        self.containers.wait_monitor(c.ID)
        return self.containers.get(c.ID).State.ExitCode

    def exec(self, name: str, cmd: list[str], env: list[str], workdir: str, user: str | None,
             stdin: int, stdout: int, stderr: int, detach: bool = False) -> int:
        """S17: a new process in the running container's namespaces."""
        from ..runtime.exec import exec_in

        c = self.running(name)
        if c.State.Paused:
            raise Conflict(f"container {c.ID} is paused, unpause the container before exec")
        process = ProcessSpec(cmd, merged_env(c.Config["Env"], env, c.Config["Hostname"]),
                              workdir or c.Config["WorkingDir"] or "/",
                              c.Config["User"] if user is None else user)
        return exec_in(c.State.Pid, Cgroup.open(c.ID), process, stdin, stdout, stderr, detach)

    def diff(self, name: str) -> list[layertar.Change]:
        """S4: A/C/D changes in the container's RW layer."""
        c = self.container(name)
        return self.driver(c.Driver).changes(c.ID, self.chain(c))[0]

    def rw_size(self, c: Container) -> int:
        """Bytes of file content in the RW layer (``ps -s``, ``system df``), as Docker counts."""
        driver = self.driver(c.Driver)
        changes, _ = driver.changes(c.ID, self.chain(c))
        src = driver.source(c.ID)
        total = 0
        for ch in changes:
            if ch.kind != "D":
                with contextlib.suppress(OSError):
                    st = os.lstat(os.path.join(src, ch.path.lstrip("/")))
                    total += 0 if stat.S_ISDIR(st.st_mode) else st.st_size
        return total

    def commit_layer(self, c: Container, pause: bool = True) -> Layer:
        """The container's RW layer as a new read-only layer (caller holds the store lock).

        A running container is frozen meanwhile, so the layer is one consistent instant.
        """
        layer = self._commit_changes(c, pause, keep_empty=True)
        assert layer is not None
        return layer

    def commit_step(self, c: Container) -> Layer | None:
        """A stopped build step's RW layer as a new read-only layer, or None when the step
        changed nothing: the classic builder then records an ``empty_layer`` history entry
        instead of a layer (caller holds the store lock)."""
        return self._commit_changes(c, pause=False, keep_empty=False)

    def _commit_changes(self, c: Container, pause: bool, keep_empty: bool) -> Layer | None:
        cg = Cgroup.open(c.ID) if pause and c.State.Running and not c.State.Paused else None
        if cg:
            cg.freeze()
        try:
            driver = self.driver(c.Driver)
            chain = self.chain(c)
            diff, opaque = driver.changes(c.ID, chain)
            if not diff and not keep_empty:
                return None
            with self.content.writer() as w:
                layertar.write_changes(w, driver.source(c.ID), diff, opaque)  # type: ignore[arg-type]
                diff_id = w.commit()
        finally:
            if cg:
                cg.thaw()
        return self.layers.register(diff_id, chain[-1].chain_id if chain else "")

    def commit(self, name: str, ref: str = "", message: str = "", author: str = "",
               changes: list[str] | None = None, pause: bool = True) -> str:
        """S15: the RW layer becomes a read-only layer of a new image; container untouched."""
        with self.lock():
            c = self.container(name)
            img = self.images.get(c.Image) if self.images.exists(c.Image) else None
            layer = self.commit_layer(c, pause)
            base = dict(img.config) if img else {
                "architecture": host_arch(), "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": []}}
            run_config = dict(base.get("config") or {})
            for k in ("Cmd", "Entrypoint", "Env", "WorkingDir", "User"):
                if k in c.Config and c.Config[k] is not None:
                    run_config[k] = c.Config[k]
            run_config["Env"] = [e for e in run_config.get("Env", [])
                                 if not e.startswith("HOSTNAME=")]
            for line in changes or []:
                instructions.apply(run_config, line)
            created = now()
            config = {
                **base,
                "created": created,
                "author": author,
                "config": run_config,
                "container": c.ID,
                "rootfs": {"type": "layers",
                           "diff_ids": [*base["rootfs"]["diff_ids"], layer.diff_id]},
                "history": [*base.get("history", []),
                            {"created": created, "created_by": " ".join(c.command),
                             **({"author": author} if author else {}),
                             **({"comment": message} if message else {})}],
            }
            return self.new_image(config, parent=c.Image if img else "", tag=ref)

    def export(self, name: str, out: BinaryIO) -> None:
        """S20: the container's unified view as one flat tar, no metadata."""
        c = self.container(name)
        with self.driver(c.Driver).view(c.ID, self.chain(c)) as root:
            layertar.write_tree(out, root)

    def import_image(self, src: BinaryIO, ref: str = "", message: str = "",
                     changes: list[str] | None = None, source_name: str = "-") -> str:
        """S20: one flat tar becomes a one-layer image whose history has one entry."""
        diff_id = self.layers.ingest(src)
        with self.lock():
            try:
                self.layers.register(diff_id)
            except InvalidArgument:
                if not any(lay.diff_id == diff_id for lay in self.layers.all()):
                    self.content.delete(diff_id)
                raise
            run_config: dict[str, Any] = {}
            for line in changes or []:
                instructions.apply(run_config, line)
            created = now()
            config = {
                "architecture": host_arch(), "os": "linux", "created": created,
                "config": run_config,
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                "history": [{"created": created, "created_by": "",
                             "comment": message or f"Imported from {source_name}"}],
            }
            return self.new_image(config, tag=ref)

    def inspect_container(self, name: str) -> dict[str, Any]:
        c = self.container(name)
        d = self.containers.dir(c.ID)
        s = c.State
        cmd = c.command
        return {
            "Id": c.ID,
            "Created": c.Created,
            "Path": cmd[0] if cmd else "",
            "Args": cmd[1:],
            "State": {"Status": s.Status, "Running": s.Running, "Paused": s.Paused,
                      "Restarting": False, "OOMKilled": False, "Dead": False, "Pid": s.Pid,
                      "ExitCode": s.ExitCode, "Error": s.Error, "StartedAt": s.StartedAt,
                      "FinishedAt": s.FinishedAt},
            "Image": c.Image,
            "ResolvConfPath": str(d / "resolv.conf"),
            "HostnamePath": str(d / "hostname"),
            "HostsPath": str(d / "hosts"),
            "LogPath": str(d / "container.log"),
            "Name": "/" + c.Name,
            "RestartCount": 0,
            "Driver": c.Driver,
            "Platform": "linux",
            "HostConfig": {"AutoRemove": bool(c.HostConfig.get("AutoRemove")),
                           "NetworkMode": "none"},
            "GraphDriver": {"Name": c.Driver,
                            "Data": self.driver(c.Driver).metadata(c.ID, self.chain(c))},
            "Mounts": [],
            "Config": c.Config,
            "NetworkSettings": {"Networks": {}},
        }

    def logs(self, name: str, follow: bool = False) -> Iterator[Any]:
        """Log entries; with ``follow``, keep reading until the container stops."""
        from ..runtime import logs

        c = self.container(name)
        path = str(self.containers.dir(c.ID) / "container.log")
        if not follow:
            yield from logs.read(path)
            return
        with open(path, "ab+") as f:
            f.seek(0)
            pending = b""
            while True:
                alive = self.containers.monitor_alive(c.ID)
                chunk = f.read()
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    entry = logs.parse(line)
                    if entry:
                        yield entry
                if not chunk and not alive:
                    return
                if not chunk:
                    select.select([], [], [], 0.05)

    def info(self) -> dict[str, Any]:
        import platform

        iso = self.isolation()
        cs = self.containers.all()
        return {
            "Containers": len(cs),
            "ContainersRunning": sum(1 for c in cs if c.State.Running and not c.State.Paused),
            "ContainersPaused": sum(1 for c in cs if c.State.Paused),
            "ContainersStopped": sum(1 for c in cs if not c.State.Running),
            "Images": len(self.list_images(all=True)),
            "Driver": self.driver_name,
            "Isolation": iso.mode,
            "IsolationReason": iso.reason,
            "CgroupFreezer": iso.cgroup or "",
            "KernelVersion": platform.release(),
            "OperatingSystem": _os_name(),
            "Architecture": platform.machine(),
            "NCPU": os.cpu_count(),
            "DockerRootDir": str(self.root),
            "ServerVersion": VERSION,
        }


def _tag_named(ref: str, tags: list[str]) -> str:
    """The tag ``ref`` names, if it names one of ``tags`` (rather than an image ID)."""
    if not refs.looks_like_reference(ref):
        return ""
    tag = str(refs.parse(ref))
    return tag if tag in tags else ""


def _signal_name(sig: str) -> str:
    """Accept ``KILL``, ``SIGKILL`` or ``9``, as ``docker kill -s`` does."""
    s = sig.strip().upper()
    if s.isdigit():
        try:
            return signal.Signals(int(s)).name
        except ValueError:
            raise InvalidArgument(f"invalid signal: {sig}") from None
    name = s if s.startswith("SIG") else "SIG" + s
    if name not in signal.Signals.__members__:
        raise InvalidArgument(f"invalid signal: {sig}")
    return name


def host_arch() -> str:
    """The OCI name of this machine's architecture."""
    import platform

    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def _os_name() -> str:
    with contextlib.suppress(OSError), open("/etc/os-release") as f:
        for line in f:
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


__all__ = ["CreateOptions", "Engine", "HistoryRow", "Removed", "State"]
