"""Recovery: what the next command does, under the store lock, after one was killed.

Each abandoned intent (``store.journal``) is finished or taken back by the handler of its
operation, so the store ends in the old state or the new one:

- deletions roll forward (``rmi``, ``prune``: untag, delete the images, collect the
  layers; ``rm``: stop what is left of the container and remove it);
- creations roll back unless they got to their last step (``commit``, ``import``,
  ``load``, ``pull``: images, tags, layers and blobs they made go again; ``create``: the
  half-made container goes; ``build``: its step containers go, the images its finished
  steps made stay, as Docker keeps them as cache).

Containers whose monitor died (``running/<id>`` markers without a live monitor) are
stopped for good: processes killed, view unmounted, cgroups removed, state recorded.
``CONTAINER_CLEANUP`` is where other parts of the engine add what they leave behind per
container (networking: its netns and veths). Temp files of dead processes and the trash go
last. With nothing to do all this costs a ``listdir`` or two.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EngineError

if TYPE_CHECKING:
    from .engine import Engine

# (engine, container ID): called when a container is cleaned up after a crash or removed
# by force while its monitor is gone. Networking registers its netns/veth/lease cleanup.
CONTAINER_CLEANUP: list[Callable[[Engine, str], None]] = []
TEMP_PATTERN = re.compile(r"^\.(?:ingest|unpack|tmp|spool)-(\d+)-")


class Recovery:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    def needed(self) -> bool:
        return self.store.journal.pending() or bool(self._markers())

    def run(self) -> list[str]:
        """Finish or take back every abandoned operation (caller holds the store lock);
        one line per thing done."""
        done: list[str] = []
        journal = self.store.journal
        intents = journal.abandoned()
        for it in intents:
            handler = getattr(self, f"_{it.op.replace('-', '_')}", None)
            journal.recovering.add(it.path.stem)
            try:
                if handler is not None:
                    handler(it.data)
                done.append(f"recovered an interrupted {it.op or 'operation'}")
            finally:
                journal.recovering.discard(it.path.stem)
                journal.close(it)
        done += self.dead_monitors()
        if intents:
            done += [f"removed {n} temporary file(s) of dead processes"
                     for n in [self.sweep_temps()] if n]
        if journal.empty_trash():
            done.append("emptied the trash")
        return done

    # -- containers -------------------------------------------------------------------
    def _markers(self) -> list[str]:
        with contextlib.suppress(FileNotFoundError):
            return os.listdir(self.store.root / "running")
        return []

    def dead_monitors(self) -> list[str]:
        """Containers recorded running whose monitor is gone: stop them for good."""
        out = []
        for cid in self._markers():
            if self.store.containers.monitor_alive(cid):
                continue
            if stop_leftovers(self.engine, cid):
                with contextlib.suppress(EngineError):
                    self.store.containers.update_state(
                        cid, Status="exited", Running=False, Paused=False, Pid=0,
                        ExitCode=255, MonitorPid=0)
                unmark_running(self.store.root, cid)
                out.append(f"stopped container {cid[:12]} whose monitor had died")
        return out

    def _container(self, cid: str) -> None:
        """Remove what exists of a container, whatever state it was left in."""
        stop_leftovers(self.engine, cid)
        for name in ("overlay", "vfs"):
            driver = self.engine.driver(name)
            if driver.dir(cid).exists():
                driver.remove(cid)
        d = self.store.containers.dir(cid)
        if d.exists():
            self.store.journal.discard(d)
        unmark_running(self.store.root, cid)

    # -- per operation ------------------------------------------------------------------
    def _rm(self, data: dict[str, Any]) -> None:
        self._container(str(data["cid"]))
        self._gc(extra_blobs=data.get("blobs", []))

    def _create(self, data: dict[str, Any]) -> None:
        cid = str(data["cid"])
        if not (self.store.containers.dir(cid) / "config.json").exists():
            self._container(cid)

    def _build(self, data: dict[str, Any]) -> None:
        for cid in data.get("containers", []):
            self._container(str(cid))
        self._gc(extra_blobs=data.get("new_blobs", []))  # a step's layer not yet recorded

    def _rmi(self, data: dict[str, Any]) -> None:
        images = self.store.images
        table = images.refs()
        gone = set(data.get("images", []))
        for tag in data.get("tags", []):
            if table.get(tag) in gone:
                images.untag(tag)
        for image_id in gone:
            if images.exists(image_id):
                images.delete(image_id)
        for img in images.all():
            if img.parent in gone:
                images.unlink_parent(img.id)
        self._gc(extra_blobs=data.get("blobs", []))

    _prune = _rmi

    def _made(self, data: dict[str, Any]) -> None:
        """Take back what a creating operation made, unless its last step is done."""
        images = self.store.images
        table = images.refs()
        if data.get("done"):
            return  # it finished; only the intent was left
        tags: dict[str, str] = data.get("tags_before", {})
        wanted = data.get("tags", [])
        for tag in wanted:
            if tags.get(tag):
                if images.exists(tags[tag]):
                    images.tag(tags[tag], tag)
            elif tag in table:
                images.untag(tag)
        for image_id in data.get("new_images", []):
            images.delete(image_id)
        self._gc(extra_blobs=data.get("new_blobs", []))

    _commit = _import = _load = _pull = _made

    def _gc(self, extra_blobs: list[str] | None = None) -> None:
        from .images import Removed

        self.engine.images.gc_layers(Removed())
        used = {layer.diff_id for layer in self.store.layers.all()}
        for blob in extra_blobs or []:
            if blob not in used:
                self.store.content.delete(blob)

    # -- temp files -----------------------------------------------------------------------
    def sweep_temps(self) -> int:
        """Temp files and directories (``.ingest-<pid>-…``) whose process is dead."""
        n = 0
        for d in temp_dirs(self.store.root):
            for name in _listdir(d):
                m = TEMP_PATTERN.match(name)
                if m and not pid_alive(int(m[1])):
                    self.store.journal.discard(d / name)
                    n += 1
        return n


def temp_dirs(root: Path) -> list[Path]:
    """Where the engine makes temp files: beside what they become."""
    dirs = [root / "blobs" / "sha256", root / "overlay" / "lower", root]
    for sub in ("images", "layers", "containers", "volumes"):
        dirs += [root / sub, *(root / sub / name for name in _listdir(root / sub))]
    return [d for d in dirs if d.is_dir()]


def _listdir(d: Path) -> list[str]:
    with contextlib.suppress(OSError):
        return os.listdir(d)
    return []


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_running(root: Path, cid: str) -> None:
    """A container is about to get a monitor: if that monitor ever dies without
    recording the exit, recovery finds the container here."""
    (root / "running").mkdir(mode=0o700, exist_ok=True)
    (root / "running" / cid).touch()


def unmark_running(root: Path, cid: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (root / "running" / cid).unlink()


def stop_leftovers(engine: Engine, cid: str) -> bool:
    """Kill what is left of a container whose monitor is gone and release its cgroups,
    view and (through ``CONTAINER_CLEANUP``) network; True once nothing is left."""
    # the runtime's cgroup modules load only here: every command that takes the store lock
    # asks whether recovery is needed, and the answer is nearly always no
    from ..runtime.cgroups import Cgroup, CgroupError
    from ..runtime.controllers import ControllerGroups
    from ..runtime.devices import DeviceCgroup

    clean = True
    cg = Cgroup.open(cid)
    for group in (cg, DeviceCgroup.open(cid), ControllerGroups.open(cid)):
        if group is None:
            continue
        try:
            if isinstance(group, Cgroup):
                group.kill_all(signal.SIGKILL)
            group.remove()
        except (CgroupError, OSError):
            clean = False  # still dying: the next pass finishes
    with contextlib.suppress(EngineError, OSError):
        c = engine.store.containers.get(cid)
        if c.State.Pid and pid_alive(c.State.Pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(c.State.Pid, signal.SIGKILL)
        engine.driver(c.Driver).unmount(cid)
    for cleanup in CONTAINER_CLEANUP:
        with contextlib.suppress(Exception):
            cleanup(engine, cid)
    return clean
