"""The store's keeper: one long-lived process that holds a user namespace and a mount
namespace for a rootless store, like rootless Podman's pause process.

Without root, a process may make a user namespace that maps only its own uid (to 0), and
mount things only inside a mount namespace owned by it. One such pair per store, held by
the keeper, is what every container monitor, ``exec``, commit, export and build step
joins: overlay views mounted by one are seen by the next, never by the host, and the
joiners get CAP_DAC_OVERRIDE over the store's files (a container may leave mode-000 files
that the host uid itself cannot read).

    CLI ─fork─► (setsid) ─fork─► keeper: unshare(USER|NS|NET), uid/gid maps, / rprivate,
                                 keeper.json, pause() forever

The keeper's network namespace is where the store's bridges live (issue 9, rootless): each
container's veth goes between its own namespace and this one, which nothing on the host's
network can see or reach (published ports go through the userland proxy). It dies with the
keeper and the last container in it, taking every bridge and veth along.

Joining is ``setns(pidfd, CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWNET)`` from a *single-threaded* process
(the kernel refuses a threaded one, such as a notebook kernel, with EINVAL), so every
join happens in a child forked for the job: :meth:`Keeper.call` runs a function there
and brings its result (or exception) back.

A record names the keeper by PID, boot ID and start time: a PID reused by another
process, a record from another boot, or a dead keeper are all told apart ("stale"), and a
new keeper is started under ``keeper.lock`` so two CLIs never start two.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from ..errors import RuntimeFailure
from ..fs.atomic import atomic_write
from ..linux import procs
from ..linux import syscalls as sc
from ..oci.layertar import Sink

T = TypeVar("T")
RECORD = "keeper.json"
LOCK = "keeper.lock"
JOIN_FLAGS = sc.CLONE_NEWUSER | sc.CLONE_NEWNS

_joined: str = ""  # the store whose keeper this process has joined (inherited by forks)


class StaleKeeper(Exception):
    """The record names no live keeper (gone, another boot, a reused PID)."""


@dataclass(frozen=True)
class KeeperRecord:
    pid: int
    boot_id: str
    start_time: int
    netns: bool = False  # holds a network namespace (keepers older than rootless networks do not)

    @property
    def join_flags(self) -> int:
        return JOIN_FLAGS | (sc.CLONE_NEWNET if self.netns else 0)

    def check(self) -> None:
        if self.boot_id != procs.boot_id():
            raise StaleKeeper("the keeper record is from another boot")
        try:
            started = procs.start_time(self.pid)
        except OSError:
            raise StaleKeeper(f"keeper {self.pid} is gone") from None
        if started != self.start_time:
            raise StaleKeeper(f"pid {self.pid} is another process now")


def inside(store: Path | None = None) -> bool:
    """Whether this process runs in a keeper's namespaces (``store``'s, if given)."""
    return bool(_joined) and (store is None or _joined == str(store))


class Keeper:
    def __init__(self, store: Path) -> None:
        self.store = Path(os.path.abspath(store))

    @property
    def record_path(self) -> Path:
        return self.store / RECORD

    def read(self) -> KeeperRecord | None:
        """The recorded keeper if it is alive, else None."""
        try:
            with open(self.record_path) as f:
                rec = KeeperRecord(**json.load(f))
            rec.check()
        except (OSError, ValueError, TypeError, StaleKeeper):
            return None
        return rec

    def ensure(self) -> KeeperRecord:
        """The live keeper, started first if there is none (or only a stale record)."""
        rec = self.read()
        if rec is not None:
            return rec
        self.store.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.store / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            rec = self.read()  # another CLI may have started it while we waited
            return rec if rec is not None else self._start()
        finally:
            os.close(fd)

    def _start(self) -> KeeperRecord:
        from .isolation import write_id_maps

        r, w = os.pipe2(os.O_CLOEXEC)
        uid, gid = os.geteuid(), os.getegid()
        first = os.fork()
        if first == 0:  # pragma: no cover - forked
            try:
                os.close(r)
                os.setsid()
                if os.fork() != 0:
                    os._exit(0)
                from .monitor import close_fds_except

                close_fds_except({w})
                for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTSTP):
                    signal.signal(sig, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                sc.unshare(sc.CLONE_NEWUSER | sc.CLONE_NEWNS | sc.CLONE_NEWNET)
                write_id_maps(uid, gid)
                sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE, None)
                pid = os.getpid()
                rec = KeeperRecord(pid, procs.boot_id(), procs.start_time(pid), netns=True)
                atomic_write(self.record_path, json.dumps(asdict(rec)).encode(), 0o600)
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.chdir("/")
                os.write(w, b"ok")
                os.close(w)
                while True:
                    signal.pause()
            except BaseException as e:
                with contextlib.suppress(BaseException):
                    os.write(w, f"keeper: {e}".encode())
                os._exit(1)
        os.close(w)
        os.waitpid(first, 0)
        answer = b""
        while chunk := os.read(r, 4096):
            answer += chunk
        os.close(r)
        started = self.read() if answer == b"ok" else None
        if started is None:
            raise RuntimeFailure("cannot start the store's user-namespace keeper: "
                                 f"{answer.decode(errors='replace') or 'it died'}")
        return started

    def join(self, rec: KeeperRecord | None = None, *, net: bool = True) -> None:
        """Enter the keeper's user and mount namespaces, and its network namespace unless
        ``net`` is False (a container monitor: its ``--network host`` init stays on the
        host's network, its sidecar joins with :meth:`join_net`); for a single-threaded
        process (a forked child). The pidfd pins the process before its identity is
        checked, so a keeper that is replaced meanwhile fails the check or the join."""
        global _joined
        rec = rec or self.ensure()
        cwd = os.getcwd() if os.path.isdir(".") else "/"
        pidfd = os.pidfd_open(rec.pid)
        try:
            rec.check()
            sc.setns(pidfd, rec.join_flags if net else JOIN_FLAGS)
        finally:
            os.close(pidfd)
        _joined = str(self.store)
        with contextlib.suppress(OSError):
            os.chdir(cwd)  # setns(CLONE_NEWNS) moved us to the namespace's root

    def join_net(self) -> None:
        """Enter the keeper's network namespace, from a process already in its user
        namespace (which owns that network namespace)."""
        rec = self.read()
        if rec is None:
            raise RuntimeFailure("the store's user-namespace keeper is gone")
        if not rec.netns:
            raise RuntimeFailure(f"the store's keeper (pid {rec.pid}) predates rootless "
                                 "networks and holds no network namespace: once no "
                                 f"container runs, end it (kill {rec.pid}) and start again")
        pidfd = os.pidfd_open(rec.pid)
        try:
            rec.check()
            sc.setns(pidfd, sc.CLONE_NEWNET)
        finally:
            os.close(pidfd)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` inside the keeper's namespaces (directly when already inside);
        its return value or exception comes back through a pipe."""
        if inside(self.store):
            return fn(*args)
        rec = self.ensure()
        r, w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - forked
            os.close(r)
            try:
                self.join(rec)
                answer: tuple[str, Any] = ("ok", fn(*args))
            except BaseException as e:
                answer = ("err", _portable(e))
            _send(w, answer)
            os._exit(0)
        os.close(w)
        data = _read_all(r)
        os.close(r)
        os.waitpid(pid, 0)
        return _answer(data)

    def stream(self, fn: Callable[[Sink], T], out: Sink) -> T:
        """``fn(pipe)`` inside the keeper, copying what it writes to ``out`` as it comes
        (layer tars: commit, export); its return value."""
        if inside(self.store):
            return fn(out)
        rec = self.ensure()
        data_r, data_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - forked
            os.close(data_r)
            os.close(err_r)
            answer: tuple[str, Any] = ("ok", None)
            try:
                self.join(rec)
                with os.fdopen(data_w, "wb") as raw:
                    answer = ("ok", fn(_Pipe(raw)))
            except BaseException as e:
                answer = ("err", _portable(e))
            _send(err_w, answer)
            os._exit(0)
        os.close(data_w)
        os.close(err_w)
        try:
            while chunk := os.read(data_r, 1 << 20):
                out.write(chunk)
        finally:
            os.close(data_r)
            data = _read_all(err_r)
            os.close(err_r)
            os.waitpid(pid, 0)
        result: T = _answer(data)
        return result

    def stop(self) -> bool:
        """Kill the keeper (its namespaces live on while a container's monitor is in
        them); True if there was one."""
        rec = self.read()
        if rec is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(rec.pid, signal.SIGKILL)
        procs.wait_gone(rec.pid, 10)
        with contextlib.suppress(FileNotFoundError):
            self.record_path.unlink()
        return True


class _Pipe:
    """A pipe that counts what went through it: ``tarfile`` asks a stream for ``tell()``,
    which a pipe cannot answer (ESPIPE)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        self.raw.flush()


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    return data


def _send(fd: int, answer: tuple[str, Any]) -> None:
    try:
        data = pickle.dumps(answer)
    except Exception as e:  # an unpicklable result: say so rather than hang
        data = pickle.dumps(("err", _portable(RuntimeError(f"keeper call: {e}"))))
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(fd, data):]
    os.close(fd)


def _portable(e: BaseException) -> tuple[type[BaseException], tuple[Any, ...], dict[str, Any]]:
    """An exception as (type, args, attributes): rebuilt without re-running ``__init__``
    (which for some errors would prefix their message twice)."""
    if isinstance(e, KeyboardInterrupt | SystemExit):
        e = RuntimeError(type(e).__name__)
    return type(e), e.args, dict(getattr(e, "__dict__", {}))


def _answer(data: bytes) -> Any:
    if not data:
        raise RuntimeFailure("the keeper-joined helper died without an answer")
    kind, value = pickle.loads(data)
    if kind == "ok":
        return value
    cls, args, attrs = value
    err = cls.__new__(cls, *args)  # sets args (and an OSError's errno), skips __init__
    with contextlib.suppress(AttributeError, TypeError):
        err.__dict__.update(attrs)
    raise err
