"""Containers: the read-write layer over an image and the record around it (S2, S4, S5,
S13, S15, S18, S20). Processes are the tasks service's."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import Conflict, InvalidArgument, NotFound
from ..fs.atomic import atomic_write
from ..oci import reference as refs
from ..oci.digest import digest
from ..runtime.limits import Resources
from ..runtime.spec import merged_env
from ..snapshot import copyout
from ..store.containers import Container, now
from ..store.images import Image
from ..store.layers import Layer, check_depth
from ..store.names import NAME_RE, new_id, random_name
from .network_request import NetworkRequest

if TYPE_CHECKING:
    from ..oci.changes import Change
    from ..runtime.logs import LogEntry
    from ..runtime.ulimits import Ulimit
    from ..store.journal import Intent
    from .engine import Engine
    from .mounts import MountPoint
    from .networks import Planned


@dataclass
class CreateOptions:
    """``docker create``/``run`` flags that shape the container."""

    resources: Resources = field(default_factory=Resources)  # as ``limits.check`` left them
    ulimits: list[Ulimit] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    name: str = ""
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    user: str | None = None
    hostname: str = ""
    entrypoint: str | list[str] | None = None  # "" or [] clears the image's ENTRYPOINT
    interactive: bool = False
    tty: bool = False  # -t: a pseudo-terminal (runtime/tty.py)
    auto_remove: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    security_opt: list[str] = field(default_factory=list)
    network: NetworkRequest = field(default_factory=NetworkRequest)  # default: bridge
    mounts: list[MountPoint] = field(default_factory=list)  # -v, --mount (parsed)
    binds: list[str] = field(default_factory=list)  # -v as written (HostConfig.Binds)
    mount_flags: list[str] = field(default_factory=list)  # --mount as written
    tmpfs: dict[str, str] = field(default_factory=dict)  # --tmpfs path → options
    read_only: bool = False  # --read-only
    volumes_from: list[str] = field(default_factory=list)
    restart: str = "no"  # --restart: no|on-failure[:N]|always|unless-stopped
    init: bool = False  # --init: a reaper as PID 1 (runtime/reaper.py)
    console_size: tuple[int, int] = (0, 0)  # the API's ConsoleSize: a -t pty's first size

    def host_config(self) -> dict[str, Any]:
        """Docker's ``HostConfig`` for these options; the confinement is checked here, so a
        bad ``--cap-add`` or seccomp profile fails ``create``, not ``start``. A seccomp
        profile file is read now and kept by content, as the Docker CLI sends it."""
        from ..runtime.confine import Confinement

        conf = Confinement.from_options(self.cap_add, self.cap_drop, self.privileged,
                                        self.security_opt)
        opts = [o for o in self.security_opt if not o.startswith(("seccomp=", "seccomp:"))]
        if conf.seccomp_profile:
            opts.append(f"seccomp={conf.seccomp_profile}")
        from ..runtime import restart

        policy = restart.parse(self.restart)
        if policy.restarts and self.auto_remove:
            raise restart.FormatError("conflicting options: cannot specify both --restart "
                                      "and --rm")
        return {"AutoRemove": self.auto_remove, "CapAdd": self.cap_add or None,
                "CapDrop": self.cap_drop or None, "Privileged": self.privileged,
                "SecurityOpt": opts or None, "Binds": self.binds or None,
                "Mounts": self.mount_flags or None, "Tmpfs": self.tmpfs or None,
                "ReadonlyRootfs": self.read_only, "VolumesFrom": self.volumes_from or None,
                "RestartPolicy": policy.as_dict(), "Init": True if self.init else None,
                "ConsoleSize": list(self.console_size)}


class Containers:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    # -- lookups -----------------------------------------------------------------------
    def get(self, name: str) -> Container:
        """By full ID, exact name, then unique ID prefix, as Docker looks containers up."""
        return self.store.containers.get(self.store.containers.resolve(name))

    def all(self) -> list[Container]:
        """Every container, newest first."""
        return self.store.containers.all()

    def chain(self, c: Container) -> list[Layer]:
        """The image layers under the container's read-write layer, bottom first."""
        return [self.store.layers.get(cid) for cid in c.Layers]

    def matching(self, cs: list[Container], filters: dict[str, list[str]]) -> list[Container]:
        """Those of ``cs`` that pass ``ps --filter`` as Docker's daemon applies it
        (``services.filters``: the values of one key OR'ed, the keys AND'ed)."""
        from . import filters as docker_filters

        pairs = [(k, v) for k, values in filters.items() for v in values]
        passing = {c.ID for c in docker_filters.containers(
            self.engine, docker_filters.Filters(pairs), all=True)}
        return [c for c in cs if c.ID in passing]

    def image_of(self, c: Container) -> Image | None:
        """The container's image, unless it was removed (``rmi -f``)."""
        return self.store.images.get(c.Image) if self.store.images.exists(c.Image) else None

    def state_dir(self, c: Container) -> Path:
        return self.store.containers.dir(c.ID)

    # -- create ------------------------------------------------------------------------
    def create(self, image_ref: str, opts: CreateOptions) -> Container:
        """S5: a new read-write layer over the image; state *created*, nothing runs."""
        with self.store.lock():
            return self._create(self.engine.images.get(image_ref), image_ref, opts)

    def create_step(self, image_id: str, opts: CreateOptions) -> Container:
        """A build step's container: over ``image_id``, or over no layer at all for a step
        of a ``FROM scratch`` stage, which has no image yet to start from."""
        opts = dataclasses.replace(opts, network=NetworkRequest(networks=["none"]))  # offline
        with self.store.lock():
            img = self.store.images.get(image_id) if image_id else Image("", {"rootfs": {}})
            return self._create(img, image_id, opts, step=True)

    def _create(self, img: Image, image_ref: str, opts: CreateOptions,
                step: bool = False) -> Container:
        containers = self.store.containers
        name = opts.name.lstrip("/")
        if name:
            if not NAME_RE.match(name):
                raise InvalidArgument(f'Invalid container name ({name}), only '
                                      '[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')
            containers.check_name_free(name)
        else:
            name = random_name(containers.names())
        cid = new_id()
        ic = img.run_config
        entrypoint = ic.get("Entrypoint") or []
        cmd = ic.get("Cmd") or []
        if opts.entrypoint is not None:
            given = opts.entrypoint
            entrypoint = ([given] if given else []) if isinstance(given, str) else list(given)
            cmd = []
        if opts.cmd:
            cmd = opts.cmd
        if not entrypoint and not cmd:
            raise InvalidArgument("no command specified")
        if opts.workdir and not opts.workdir.startswith("/"):
            raise InvalidArgument(f"the working directory '{opts.workdir}' is invalid, it needs "
                                  "to be an absolute path")
        net = self.engine.networks.plan(opts.network, ic.get("ExposedPorts") or {},
                                        opts.hostname)
        hostname = opts.hostname or (os.uname().nodename if net.mode.is_host else cid[:12])
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
            "Tty": opts.tty,
        }
        if net.exposed:
            config["ExposedPorts"] = net.exposed
        chain = self.engine.images.layers(img)
        driver = self.engine.driver()
        host_config = {**opts.host_config(), **opts.resources.host_config(),
                       "Ulimits": [u.record() for u in opts.ulimits] or None,
                       **net.host_config}
        points = self.engine.volumes.plan(opts.mounts, ic.get("Volumes") or {},
                                          opts.volumes_from)
        c = Container(cid, name, now(), img.id, image_ref, driver.name, config,
                      [layer.chain_id for layer in chain], host_config,
                      Mounts=[p.record() for p in points])
        try:
            with self.store.journal.intent("create", cid=cid):
                self._make(c, driver, chain, hostname, net, disposable=step or opts.auto_remove)
        except BaseException:
            with contextlib.suppress(Exception):  # the anonymous volumes made for it
                self.engine.volumes.remove_anonymous(c, locked=True)
            raise
        self.engine.events.container(c, "create")
        return c

    def _make(self, c: Container, driver: Any, chain: list[Layer], hostname: str,
              net: Planned, disposable: bool) -> None:
        """``disposable``: ``--rm`` or a build step, whose layer goes after use."""
        containers, cid = self.store.containers, c.ID
        try:
            driver.prepare(cid, chain, disposable)
            d = containers.dir(cid)
            atomic_write(d / "hostname", f"{hostname}\n".encode())
            self.engine.networks.record(c, net)
            containers.add(c)
        except BaseException:
            driver.remove(cid)
            containers.delete(cid)
            raise

    # -- remove ------------------------------------------------------------------------
    def remove(self, name: str, force: bool = False, volumes: bool = False) -> Container:
        """S13: remove the container and its RW layer; a running one only with ``force``;
        with ``volumes`` (``rm -v``), its anonymous volumes too."""
        c = self.get(name)
        try:
            return self._remove(c, force)
        finally:
            if volumes and not self.store.containers.dir(c.ID).exists():
                self.engine.volumes.remove_anonymous(c)

    def _remove(self, c: Container, force: bool) -> Container:
        if force:
            from .restarts import no_more

            c = no_more(self.engine.tasks, c)
        if c.State.Running or c.State.Restarting:
            if not force:
                raise Conflict(
                    f'cannot remove container "/{c.Name}": container is {c.State.Status}: '
                    "stop the container before removing or force remove")
            from .tasks import KILL_WAIT

            self.engine.events.container(c, "kill", signal="9")
            self.engine.tasks.kill_all(c)
            if not self.engine.tasks.wait_exit(c, KILL_WAIT):
                self.engine.tasks.abandon(c)  # never hang on a PID 1 that will not go
            if c.HostConfig.get("AutoRemove"):
                with contextlib.suppress(NotFound):  # its monitor removed it as it exited
                    self.remove_stopped(c.ID)
                return c
        self.remove_stopped(c.ID)
        return c

    def remove_stopped(self, cid: str) -> None:
        """Remove a stopped container: announced first, so a kill half-way is finished by
        the next command; its image's layers go too if ``rmi -f`` left them to it."""
        with self.store.lock():
            c = self.store.containers.get(cid)
            with self.store.journal.intent("rm", cid=cid) as intent:
                self.engine.networks.forget(cid)
                self.engine.driver(c.Driver).remove(cid)
                self.store.containers.delete(cid)
                if c.HostConfig.get("AutoRemove"):  # --rm takes its anonymous volumes
                    self.engine.volumes.remove_anonymous(c, locked=True)
                if c.Image and not self.store.images.exists(c.Image):
                    from .images import Removed

                    self.engine.images.gc_layers(Removed(), intent)
        self.engine.events.container(c, "destroy")

    def prune(self, select: Callable[[str, dict[str, str]], bool] | None = None,
              ) -> tuple[list[str], int]:
        """Remove every stopped container (that ``select(created, labels)`` lets go, the
        ``--filter``); (their IDs, bytes of RW layers reclaimed)."""
        removed, size = [], 0
        for c in self.all():
            if not c.State.Running and (select is None or select(
                    c.Created, c.Config.get("Labels") or {})):
                size += self.rw_size(c)
                with contextlib.suppress(NotFound):
                    self.remove_stopped(c.ID)
                    removed.append(c.ID)
        self.engine.events.log("container", "prune", "", {"reclaimed": str(size)})
        return removed, size

    def rename(self, name: str, new_name: str) -> Container:
        """``docker rename``: a new name, running or not, with moby's checks and messages."""
        old, new = name.strip(), new_name.strip().lstrip("/")
        if not old.lstrip("/") or not new:
            raise InvalidArgument("Neither old nor new names may be empty")
        with self.store.lock():
            c = self.get(old)
            if c.Name == new:
                raise InvalidArgument("Renaming a container with the same name as its current "
                                      "name")
            if not NAME_RE.match(new):
                raise InvalidArgument(f"Invalid container name (/{new}), only "
                                      "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            try:
                self.store.containers.check_name_free(new)
            except Conflict as e:
                raise Conflict(f"Error when allocating new name: {e}") from None
            self.store.containers.set_name(c.ID, new)
            renamed = self.store.containers.get(c.ID)
        self.engine.events.container(renamed, "rename", oldName="/" + c.Name)
        return renamed

    # -- the read-write layer ----------------------------------------------------------
    def diff(self, name: str) -> list[Change]:
        """S4: A/C/D changes in the container's RW layer."""
        c = self.get(name)
        return copyout.diff(self.engine.driver(c.Driver), c.ID, self.chain(c))[0]

    def rw_size(self, c: Container) -> int:
        """Bytes of file content in the RW layer (``ps -s``, ``system df``), as Docker counts."""
        return self.engine.driver(c.Driver).usage(c.ID, self.chain(c))

    @contextlib.contextmanager
    def rootfs(self, c: Container) -> Iterator[str]:
        """The container's unified view, mounted for as long as the caller needs it."""
        with self.engine.driver(c.Driver).view(c.ID, self.chain(c)) as root:
            yield str(root)

    def commit_step(self, c: Container, intent: Intent | None = None) -> Layer | None:
        """A stopped build step's RW layer as a new read-only layer, or None when the step
        changed nothing: the classic builder then records an ``empty_layer`` history entry
        instead of a layer (caller holds the store lock; a new blob is announced in the
        build's ``intent``)."""
        return self._commit_changes(c, pause=False, keep_empty=False, intent=intent)

    def _commit_changes(self, c: Container, pause: bool, keep_empty: bool,
                        intent: Intent | None = None) -> Layer | None:
        """The RW layer as a layer tar in the content store. A running container is frozen
        meanwhile (``pause``), so the layer is one consistent instant."""
        chain = self.chain(c)
        check_depth(len(chain) + 1)  # before the copy: nothing to take back
        with self.engine.tasks.frozen(c, pause):
            driver = self.engine.driver(c.Driver)
            with self.store.content.writer() as w:
                if not self.engine.stream_from_store(  # in a rootless store's keeper
                        lambda out: copyout.layer(driver, c.ID, chain, out, keep_empty), w):
                    return None
                dgst = "sha256:" + w.hash.hexdigest()
                if intent is not None and not self.store.content.has(dgst):
                    intent.append("new_blobs", dgst)
                diff_id = w.commit()
        return self.store.layers.register(diff_id, chain[-1].chain_id if chain else "")

    def commit(self, name: str, ref: str = "", message: str = "", author: str = "",
               changes: list[str] | None = None, pause: bool = True) -> str:
        """S15: the RW layer becomes a read-only layer of a new image; container untouched."""
        from ..oci import imageconfig, instructions

        if ref:
            refs.parse(ref)
        with self.store.lock():
            c = self.get(name)
            img = self.image_of(c)
            base = img.config if img else None
            run_config = dict((base or {}).get("config") or {})
            for k in ("Cmd", "Entrypoint", "Env", "WorkingDir", "User"):
                if k in c.Config and c.Config[k] is not None:
                    run_config[k] = c.Config[k]
            run_config["Env"] = [e for e in run_config.get("Env", [])
                                 if not e.startswith("HOSTNAME=")]
            for line in changes or []:
                instructions.apply(run_config, line)
            tags = [str(refs.parse(ref))] if ref else []
            with self.store.journal.intent("commit", tags=tags,
                                           tags_before={t: self.store.images.refs().get(t, "")
                                                        for t in tags}) as intent:
                layer = self._commit_changes(c, pause, keep_empty=True, intent=intent)
                assert layer is not None
                config = imageconfig.append_layer(
                    base, created=now(), created_by=" ".join(c.command),
                    diff_id=layer.diff_id, run_config=run_config, author=author,
                    comment=message, container=c.ID)
                image_id = digest(imageconfig.encode(config))
                intent.note(new_images=[image_id])
                self.engine.images.put(config, parent=c.Image if img else "", tag=ref,
                                       event="create")
                intent.note(done=True)
        self.engine.events.container(c, "commit", comment=message, imageID=image_id,
                                     imageRef=tags[0] if tags else "")
        return image_id

    def export(self, name: str, out: BinaryIO) -> None:
        """S20: the container's unified view as one flat tar, no metadata."""
        c = self.get(name)
        self.engine.events.container(c, "export")
        driver, chain = self.engine.driver(c.Driver), self.chain(c)
        self.engine.stream_from_store(lambda pipe: copyout.export(driver, c.ID, chain, pipe), out)

    def never_ran(self, c: Container) -> bool:
        """Created and never started: its read-write layer holds only what was copied in."""
        return c.State.Status == "created" and c.State.StartedAt[:4] in ("", "0001")

    # -- metadata and logs -------------------------------------------------------------
    def inspect(self, name: str, size: bool = False) -> dict[str, Any]:
        """Docker's container JSON; with ``size``, ``SizeRw`` (the RW layer) and
        ``SizeRootFs`` (it and every image layer below), as ``inspect -s`` adds them."""
        c = self.get(name)
        d = self.state_dir(c)
        s = c.State
        cmd = c.command
        sizes = {}
        if size:
            rw = self.rw_size(c)
            sizes = {"SizeRw": rw, "SizeRootFs": rw + sum(lay.size for lay in self.chain(c))}
        return {
            "Id": c.ID,
            "Created": c.Created,
            "Path": cmd[0] if cmd else "",
            "Args": cmd[1:],
            "State": {"Status": s.Status, "Running": s.Running, "Paused": s.Paused,
                      "Restarting": s.Restarting, "OOMKilled": s.OOMKilled, "Dead": False,
                      "Pid": s.Pid,
                      "ExitCode": s.ExitCode, "Error": s.Error, "StartedAt": s.StartedAt,
                      "FinishedAt": s.FinishedAt},
            "Image": c.Image,
            "ResolvConfPath": str(d / "resolv.conf"),
            "HostnamePath": str(d / "hostname"),
            "HostsPath": str(d / "hosts"),
            "LogPath": str(d / "container.log"),
            "Name": "/" + c.Name,
            "RestartCount": s.RestartCount,
            "Driver": c.Driver,
            "Platform": "linux",
            "HostConfig": {**Resources().host_config(), "Ulimits": None, **c.HostConfig,
                           "AutoRemove": bool(c.HostConfig.get("AutoRemove")),
                           "NetworkMode": c.HostConfig.get("NetworkMode") or "none",
                           "PortBindings": c.HostConfig.get("PortBindings") or {},
                           "LogConfig": {"Type": "json-file", "Config": {}}},
            "GraphDriver": {"Name": c.Driver,
                            "Data": self.engine.driver(c.Driver).metadata(c.ID, self.chain(c))},
            **sizes,
            "Mounts": self.engine.volumes.shown(c),
            "Config": c.Config,
            "NetworkSettings": self.engine.networks.settings(c),
            "Isolation": self._isolation(c),
        }

    def _isolation(self, c: Container) -> dict[str, Any]:
        """LayerLab's own: the mode the container runs (or would run) in, and what that
        mode cannot show, so a reader never takes a different result for Docker's."""
        iso = self.engine.isolation()
        runtime = self.engine.tasks.runtime(c)
        notes = iso.limits() if runtime["mode"] == iso.mode else []
        return {"Mode": runtime["mode"], "Pause": runtime["pause"], "Notes": notes}

    def logs(self, name: str, follow: bool = False, tail: int | None = None,
             cancelled: Callable[[], bool] = lambda: False, since_ns: int = 0,
             until_ns: int = 0) -> Iterator[LogEntry]:
        """Log entries (the last ``tail`` only, read from the end); with ``follow``, keep
        reading until the container stops, until ``cancelled()`` says the reader has gone,
        or until the time ``until_ns`` passes. ``since_ns``/``until_ns`` bound the entries
        by their time (``logs --since/--until``, ``GET /containers/{id}/logs``)."""
        from ..timestamps import rfc3339_nanos

        for entry in self._log_entries(name, follow, tail, cancelled, until_ns):
            stamp = rfc3339_nanos(entry.time)
            if stamp < since_ns:
                continue
            if until_ns and stamp > until_ns:
                return
            yield entry

    def _log_entries(self, name: str, follow: bool, tail: int | None,
                     cancelled: Callable[[], bool], until_ns: int) -> Iterator[LogEntry]:
        from ..runtime import logs

        c = self.get(name)
        path = str(self.state_dir(c) / "container.log")
        start = 0
        if tail is not None:
            last, start = logs.tail(path, tail)
            yield from last
        elif not follow:
            yield from logs.read(path)
            return
        if not follow:
            return
        with open(path, "ab+") as f:
            f.seek(start)
            pending = b""
            while not cancelled():
                alive = self.store.containers.monitor_alive(c.ID)
                chunk = f.read()
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    entry = logs.parse(line)
                    if entry:
                        yield entry
                if not chunk and (not alive or (until_ns and time.time_ns() > until_ns)):
                    return
                if not chunk:
                    select.select([], [], [], 0.05)
