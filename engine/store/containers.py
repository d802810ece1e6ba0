"""Container store: each container's static config and its state machine.

``config.json`` is written once at ``create``; ``state.json`` changes as the container
moves created → running ⇄ paused → exited. The monitor holds ``monitor.lock`` for as long
as the container runs, so a reader can tell a live container from one whose monitor died.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import Conflict, InvalidArgument, NotFound
from ..fs.atomic import locked, private_dir, read_json, write_json
from ..oci.digest import HEX64
from .journal import discard

ZERO_TIME = "0001-01-01T00:00:00Z"


def now() -> str:
    """RFC 3339 with nanosecond-style precision, as Docker prints timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class State:
    Status: str = "created"
    Running: bool = False
    Paused: bool = False
    OOMKilled: bool = False  # the memory cgroup's OOM killer took a process of the last run
    Pid: int = 0
    ExitCode: int = 0
    Error: str = ""
    StartedAt: str = ZERO_TIME
    FinishedAt: str = ZERO_TIME
    MonitorPid: int = 0
    Restarting: bool = False  # waiting out a restart policy's delay (runtime/restart.py)
    RestartCount: int = 0  # restarts by the policy since the last start by hand


@dataclass
class Container:
    ID: str
    Name: str
    Created: str
    Image: str
    ImageRef: str
    Driver: str
    Config: dict[str, Any]
    Layers: list[str] = field(default_factory=list)  # chainIDs under the RW layer, bottom first
    HostConfig: dict[str, Any] = field(default_factory=dict)
    State: State = field(default_factory=State)
    # Its mount points (``services.mounts.MountPoint`` as dicts), resolved at create:
    # anonymous volumes are named then, as Docker names them
    Mounts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def command(self) -> list[str]:
        return list(self.Config.get("Entrypoint") or []) + list(self.Config.get("Cmd") or [])


class ContainerStore:
    def __init__(self, root: Path) -> None:
        self.root = private_dir(root / "containers")

    def dir(self, cid: str) -> Path:
        return self.root / cid

    def add(self, c: Container) -> None:
        record = asdict(c)
        state = record.pop("State")
        private_dir(self.dir(c.ID))
        write_json(self.dir(c.ID) / "state.json", state)
        write_json(self.dir(c.ID) / "config.json", record)

    def get(self, cid: str) -> Container:
        d = self.dir(cid)
        try:
            record = read_json(d / "config.json")
            state = State(**read_json(d / "state.json"))
        except FileNotFoundError:
            raise NotFound(f"No such container: {cid}") from None
        c = Container(**record, State=state)
        if state.Running and not self.monitor_alive(cid):
            # The monitor died without recording an exit (host reboot, SIGKILL): as Docker
            # does after a daemon crash, report the container as exited.
            state.Status, state.Running, state.Paused = "exited", False, False
            state.ExitCode, state.Pid = 255, 0
        return c

    def update_state(self, cid: str, **changes: Any) -> State:
        """Read-modify-write of one container's state under its own lock."""
        d = self.dir(cid)
        with locked(d / "state.lock"):
            try:
                state = State(**read_json(d / "state.json"))
            except FileNotFoundError:
                raise NotFound(f"No such container: {cid}") from None
            for key, value in changes.items():
                setattr(state, key, value)
            # not synced: after a power loss no process of it runs, whatever it says, and
            # recovery records the exit of a container whose monitor is gone
            write_json(d / "state.json", asdict(state), durable=False)
        return state

    def set_name(self, cid: str, name: str) -> None:
        """``rename``: the one change to ``config.json`` after ``create`` (caller holds the
        store lock, which also serialises name checks)."""
        path = self.dir(cid) / "config.json"
        try:
            record = read_json(path)
        except FileNotFoundError:
            raise NotFound(f"No such container: {cid}") from None
        record["Name"] = name
        write_json(path, record)

    def set_host_config(self, cid: str, changes: dict[str, Any]) -> None:
        """``update``: new values for ``HostConfig`` fields (caller holds the store lock)."""
        path = self.dir(cid) / "config.json"
        try:
            record = read_json(path)
        except FileNotFoundError:
            raise NotFound(f"No such container: {cid}") from None
        record["HostConfig"] = {**record.get("HostConfig", {}), **changes}
        write_json(path, record)

    def ids(self) -> list[str]:
        return [d.name for d in self.root.iterdir() if (d / "config.json").exists()]

    def all(self) -> list[Container]:
        out = []
        for cid in self.ids():
            try:
                out.append(self.get(cid))
            except NotFound:
                continue  # removed while we listed
        return sorted(out, key=lambda c: c.Created, reverse=True)

    def names(self) -> set[str]:
        return {c.Name for c in self.all()}

    def resolve(self, name: str) -> str:
        """Full ID, exact name, then unique ID prefix, as Docker looks containers up."""
        name = name.lstrip("/")
        if not name:
            raise InvalidArgument("container name or ID must not be empty")
        if HEX64.match(name) and (self.dir(name) / "config.json").exists():
            return name
        # By name: each config's bytes are searched for the name as JSON writes it, and only
        # a config holding it is parsed; no state is read and no record is built (a lookup
        # in 500 containers was 500 full records for ``inspect``, ``rm``, ``start``).
        needle = json.dumps(name).encode()
        ids = []
        for d in self.root.iterdir():
            try:
                raw = (d / "config.json").read_bytes()
            except (FileNotFoundError, NotADirectoryError):
                continue  # not a container, or removed while we looked
            if needle in raw and json.loads(raw).get("Name") == name:
                return d.name
            ids.append(d.name)
        matches = [cid for cid in ids if cid.startswith(name)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidArgument(
                f"multiple containers match {name!r}: type more of the ID or use the name"
            )
        raise NotFound(f"No such container: {name}")

    def check_name_free(self, name: str) -> None:
        for c in self.all():
            if c.Name == name:
                raise Conflict(
                    f'Conflict. The container name "/{name}" is already in use by container '
                    f'"{c.ID}". You have to remove (or rename) that container to be able to '
                    "reuse that name."
                )

    def delete(self, cid: str) -> None:
        discard(self.root.parent, self.dir(cid))

    def monitor_lock_path(self, cid: str) -> Path:
        return self.dir(cid) / "monitor.lock"

    def monitor_alive(self, cid: str) -> bool:
        """True while some monitor holds the container's lock (no signal, no polling)."""
        try:
            fd = os.open(self.monitor_lock_path(cid), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def wait_monitor(self, cid: str) -> None:
        """Block until the container's monitor has exited (it releases its lock on exit)."""
        try:
            fd = os.open(self.monitor_lock_path(cid), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        finally:
            os.close(fd)
