"""A container's cgroup: the kernel's authoritative list of its processes and its freezer.

``docker pause`` must stop every process at once without sending a signal the workload
could observe, and ``docker kill``/``rm`` must reach processes that escaped the init's
process tree; a cgroup gives both. Hosts differ: pure cgroup v2, hybrid (v2 at
``/sys/fs/cgroup/unified`` next to v1 controllers), v1 only, or nothing writable
(unprivileged). Mounts are discovered from /proc/self/mountinfo; v1's freezer is preferred
where both exist (see ``_versions``).
"""

from __future__ import annotations

import errno
import functools
import os
import re
import select
import signal
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

_DEFAULT_ROOT = "layerlab"
_STATE_TIMEOUT = 5.0
_POLL_SLICE = 0.05
# Per version: mount fstype and the control file that proves a child group can freeze.
_FREEZER = {2: ("cgroup2", "cgroup.freeze"), 1: ("cgroup", "freezer.state")}


class CgroupError(OSError):
    """A cgroup operation failed or the kernel did not reach the requested state."""


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts(fstype: str) -> list[Path]:
    """Mount points of ``fstype``; for v1 only those carrying the freezer controller."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            kind, _, super_opts = right.rstrip("\n").split(" ")[:3]
            if kind == fstype and (fstype == "cgroup2" or "freezer" in super_opts.split(",")):
                found.append(Path(_unescape(left.split()[4])))
    return found


@functools.cache
def _hierarchy(version: int) -> Path | None:
    """First mount of ``version`` where we may create a child group that has a freezer.

    Making a child is the only reliable test: root may lack write access (unprivileged,
    read-only /sys/fs/cgroup in a container) and ``cgroup.freeze`` never exists in the
    root group, only in children, and only on kernels >= 5.2. The child is our own parent
    group (``LAYERLAB_CGROUP_ROOT``), which stays anyway: a throwaway probe leaked
    whenever its process was killed between mkdir and rmdir.
    """
    fstype, control = _FREEZER[version]
    for mount in _mounts(fstype):
        parent = mount / _root()
        try:
            parent.mkdir(exist_ok=True)
        except OSError:
            continue
        # made by another user before us: ours only if we may make groups in it
        if (parent / control).exists() and os.access(parent, os.W_OK | os.X_OK):
            return mount
    return None


def _versions(version: int | None) -> tuple[int, ...]:
    """v1's freezer first where a host has both: moving a process into a fresh v2 group
    waits for an RCU grace period (~20 ms here), which would be on every ``run``."""
    return (1, 2) if version is None else (version,)


def _component(part: str) -> str:
    """``part`` as one path component, refusing anything that could leave the hierarchy."""
    if not part or "/" in part or part in (".", ".."):
        raise CgroupError(errno.EINVAL, f"bad cgroup path component {part!r}")
    return part


def _root() -> str:
    """Our parent group's name (``LAYERLAB_CGROUP_ROOT``)."""
    return _component(os.environ.get("LAYERLAB_CGROUP_ROOT", _DEFAULT_ROOT))


def _relative(name: str) -> Path:
    """``<LAYERLAB_CGROUP_ROOT>/<name>``."""
    return Path(_root(), _component(name))


@dataclass(frozen=True)
class Cgroup:
    """One container's cgroup on whichever freezer the host has (v1 freezer, else v2
    cgroup.freeze). ``version`` arguments force a hierarchy (tests cover both on hybrid hosts)."""

    path: Path
    version: int

    @classmethod
    def probe(cls, version: int | None = None) -> str | None:
        """Describe the usable hierarchy, e.g. ``"v2:/sys/fs/cgroup/unified"``, or None."""
        for v in _versions(version):
            mount = _hierarchy(v)
            if mount is not None:
                return f"v{v}:{mount}"
        return None

    @classmethod
    def create(cls, name: str, version: int | None = None) -> Cgroup:
        """Create (or reuse) ``<hierarchy>/<LAYERLAB_CGROUP_ROOT>/<name>``."""
        relative = _relative(name)
        for v in _versions(version):
            mount = _hierarchy(v)
            if mount is not None:
                path = mount / relative
                try:
                    path.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise CgroupError(e.errno, f"create cgroup: {e.strerror}", str(path)) from e
                return cls(path, v)
        raise CgroupError(errno.ENOTSUP, "no writable cgroup freezer hierarchy on this host")

    @classmethod
    def open(cls, name: str, version: int | None = None) -> Cgroup | None:
        """The existing cgroup called ``name``, looked up in every usable hierarchy."""
        relative = _relative(name)
        for v in _versions(version):
            mount = _hierarchy(v)
            if mount is not None and (mount / relative).is_dir():
                return cls(mount / relative, v)
        return None

    def _write(self, filename: str, value: str) -> None:
        write_control(self.path / filename, value)

    def _read_state(self, fd: int) -> bool:
        """Whether the freezer state file open at ``fd`` says frozen."""
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode()
        if self.version == 2:
            return "frozen 1" in text.splitlines()
        return text.strip() == "FROZEN"

    def _state_file(self) -> Path:
        return self.path / ("cgroup.events" if self.version == 2 else "freezer.state")

    def _wait_frozen(self, want: bool) -> None:
        """Re-read the state file until it reports ``want``, at most ``_STATE_TIMEOUT`` s.

        select() on a kernfs file wakes on change notifications (v2 cgroup.events sends
        them; v1 freezer.state does not, so there the short slice is the poll interval).
        A group that vanished meanwhile (its processes were killed, the monitor removed it)
        is as thawed as it gets.
        """
        try:
            self._wait_state(want)
        except OSError as e:
            if want or not _vanished(e):
                raise

    def _wait_state(self, want: bool) -> None:
        path = self._state_file()
        fd = os.open(path, os.O_RDONLY)
        try:
            deadline = time.monotonic() + _STATE_TIMEOUT
            wait = 0.0005  # v1 usually settles within a millisecond: start short, back off
            while self._read_state(fd) != want:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CgroupError(errno.ETIMEDOUT,
                                      f"{'freeze' if want else 'thaw'} did not complete",
                                      str(path))
                select.select([], [], [fd], min(remaining, wait))
                wait = min(wait * 2, _POLL_SLICE)
        finally:
            os.close(fd)

    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into this cgroup."""
        self._write("cgroup.procs", str(pid))

    def self_move_files(self) -> list[Path]:
        file = self_move_file(self.path, self.version)
        return [file] if file else []

    def pids(self) -> list[int]:
        """Every process in this cgroup and any sub-groups the container created."""
        found: set[int] = set()
        for dirpath, _, _ in os.walk(self.path):
            with suppress(FileNotFoundError):
                found.update(map(int, Path(dirpath, "cgroup.procs").read_text().split()))
        return sorted(found)

    def _set_frozen(self, want: bool) -> None:
        if self.version == 2:
            self._write("cgroup.freeze", "1" if want else "0")
        else:
            self._write("freezer.state", "FROZEN" if want else "THAWED")
        self._wait_frozen(want)

    def freeze(self) -> None:
        """Freeze every process and return only once the kernel reports it frozen."""
        self._set_frozen(True)

    def thaw(self) -> None:
        """Resume every process and return only once the kernel reports it thawed."""
        self._set_frozen(False)

    def frozen(self) -> bool:
        """Whether the kernel reports the cgroup fully frozen (not merely freezing); a group
        that vanished is not."""
        try:
            fd = os.open(self._state_file(), os.O_RDONLY)
            try:
                return self._read_state(fd)
            finally:
                os.close(fd)
        except OSError as e:
            if _vanished(e):
                return False
            raise

    def kill_all(self, sig: int) -> None:
        """Send ``sig`` to every process in the cgroup.

        SIGKILL must not miss processes forked meanwhile, so it uses v2 ``cgroup.kill``
        (which also kills frozen tasks) or else freezes, signals the now-stable set and
        thaws, since v1 frozen tasks only die once thawed.
        """
        if sig == signal.SIGKILL and self.version == 2 and (self.path / "cgroup.kill").exists():
            self._write("cgroup.kill", "1")
            return
        if sig == signal.SIGKILL:
            self.freeze()
        for pid in self.pids():
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        if sig == signal.SIGKILL:
            self.thaw()

    def remove(self) -> None:
        """Delete the cgroup (sub-groups first); already gone is fine, live processes not."""
        for dirpath, _, _ in os.walk(self.path, topdown=False):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise CgroupError(e.errno, f"remove cgroup with processes {self.pids()}",
                                  dirpath) from e


def self_move_file(directory: Path, version: int) -> Path | None:
    """The file a single-threaded process writes ``0`` to, to move itself into
    ``directory`` fast: v1's ``tasks``. Moving one's own thread skips the thread-group lock
    that every ``cgroup.procs`` write takes, and with it the RCU grace period that lock
    waits out (measured here: 7-8 ms per move against 0.1 ms). None on v2, where a thread
    moves alone only inside a threaded subtree: there ``cgroup.procs`` it is."""
    return directory / "tasks" if version == 1 else None


def write_control(target: Path, value: str) -> None:
    """Write one value to a cgroup control file, in one write(2) as the kernel wants."""
    try:
        fd = os.open(target, os.O_WRONLY)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise CgroupError(e.errno, f"write {value!r}: {e.strerror}", str(target)) from e


def _vanished(e: OSError) -> bool:
    """The cgroup directory was removed under us (ENOENT on open, ENODEV on read)."""
    return e.errno in (errno.ENOENT, errno.ENODEV)
