"""What the service knows about containers beyond the store: who is attached, and how
the containers it started ended.

Docker's daemon holds a container's stdio for its whole life; here the monitor copies
output to the log and to the descriptors it was started with. So a container started
through the socket is always started with pipes (``Relay``): its output goes to the
clients attached at that moment (``docker run`` attaches before it starts) or is drained,
its stdin stays open for a client to feed, and the monitor's exit-code pipe tells its
exit code even when ``--rm`` has removed the container by then (``wait
condition=removed``). A client attached to a container the service did not start follows
its log instead.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import NotFound
from ..runtime.spec import Attach
from .hijack import HijackedConnection, StreamType

if TYPE_CHECKING:
    from ..runtime.monitor import Started
    from ..services.engine import Engine

CONNECT_WAIT = 10.0  # seconds from a registered attach to its upgraded connection
RECHECK = 0.5  # seconds between looks at the store for changes made by others (the CLI)


@dataclass
class Subscriber:
    """An attached client: which streams it wants, and when its session may end. It is
    registered before its connection is upgraded, and ``connect``ed right after."""

    conn: HijackedConnection | None
    stdin: bool
    stdout: bool
    stderr: bool
    done: threading.Event = field(default_factory=threading.Event)
    connected: threading.Event = field(default_factory=threading.Event)

    def connect(self, conn: HijackedConnection) -> None:
        self.conn = conn
        self.connected.set()

    def _connection(self) -> HijackedConnection | None:
        if not self.connected.wait(CONNECT_WAIT):
            self.done.set()  # the upgrade never happened: the client left
        return self.conn

    def send(self, stream: StreamType, data: bytes) -> None:
        wanted = self.stdout if stream is StreamType.STDOUT else self.stderr
        if not wanted or self.done.is_set() or (conn := self._connection()) is None:
            return
        try:
            conn.write_frame(stream, data)
        except ConnectionError:
            self.done.set()

    def read_stdin(self) -> bytes:
        conn = self._connection()
        return conn.read_stdin() if conn is not None else b""


class Relay:
    """A started container's pipes: output to every subscriber, stdin from one of them."""

    def __init__(self, cid: str, out_r: int, err_r: int, in_w: int | None,
                 subscribers: list[Subscriber], on_end: threading.Event) -> None:
        self.cid = cid
        self._lock = threading.Lock()
        self._subscribers = list(subscribers)
        self._in_w = in_w
        self._ended = on_end
        self._feeding = False
        threading.Thread(target=self._pump, args=(out_r, err_r), daemon=True,
                         name=f"relay {cid[:12]}").start()
        feeder = next((s for s in subscribers if s.stdin), None)
        if feeder is not None and in_w is not None:
            self._feed(feeder, close_after=True)

    def subscribe(self, sub: Subscriber) -> bool:
        """Join a running relay (``docker attach``); False once the output has ended."""
        with self._lock:
            if self._ended.is_set():
                return False
            self._subscribers.append(sub)
        if sub.stdin and self._in_w is not None:
            self._feed(sub, close_after=False)
        return True

    def _feed(self, sub: Subscriber, close_after: bool) -> None:
        """Copy the client's stdin to the container's. A client attached at start owns
        stdin and closes it at its EOF (``run -i``: the CLI sets StdinOnce); a later one
        only writes to it."""
        with self._lock:
            if self._feeding:
                return
            self._feeding = True

        def copy() -> None:
            try:
                while data := sub.read_stdin():
                    fd = self._in_w
                    if fd is None:
                        return
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
            except OSError:
                pass
            finally:
                with self._lock:
                    self._feeding = False
                    if close_after and self._in_w is not None:
                        os.close(self._in_w)
                        self._in_w = None

        threading.Thread(target=copy, daemon=True, name=f"stdin {self.cid[:12]}").start()

    def _pump(self, out_r: int, err_r: int) -> None:
        streams = {out_r: StreamType.STDOUT, err_r: StreamType.STDERR}
        try:
            while streams:
                readable, _, _ = select.select(list(streams), [], [])
                for fd in readable:
                    data = os.read(fd, 65536)
                    if not data:
                        del streams[fd]
                        os.close(fd)
                        continue
                    with self._lock:
                        subscribers = list(self._subscribers)
                    for sub in subscribers:
                        sub.send(streams[fd], data)
        finally:
            with self._lock:
                self._ended.set()
                if self._in_w is not None:
                    with contextlib.suppress(OSError):
                        os.close(self._in_w)
                    self._in_w = None
                subscribers = list(self._subscribers)
            for sub in subscribers:
                sub.done.set()


@dataclass
class _Exit:
    count: int = 0  # exits seen by this service
    code: int = 0


class Lifecycle:
    """Attachments waiting for a start, relays of running containers, exit codes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cond = threading.Condition()
        self._pending: dict[str, list[Subscriber]] = {}
        self._relays: dict[str, Relay] = {}
        self._exits: dict[str, _Exit] = {}

    # -- attach --------------------------------------------------------------------------
    def attach_before_start(self, cid: str, sub: Subscriber) -> None:
        with self._cond:
            self._pending.setdefault(cid, []).append(sub)

    def relay(self, cid: str) -> Relay | None:
        with self._cond:
            return self._relays.get(cid)

    def forget(self, cid: str) -> None:
        """The container was removed: release clients that waited for it to start."""
        with self._cond:
            pending = self._pending.pop(cid, [])
            self._cond.notify_all()
        for sub in pending:
            sub.done.set()

    # -- start ---------------------------------------------------------------------------
    def start(self, cid: str, open_stdin: bool) -> Started | None:
        """Start with pipes; hand them to the clients attached meanwhile. None if the
        container was already running."""
        with self._cond:
            subscribers = self._pending.pop(cid, [])
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        in_r, in_w = os.pipe2(os.O_CLOEXEC) if open_stdin else (None, None)
        try:
            started = self.engine.tasks.start(cid, Attach(out_w, err_w, in_r))
        except BaseException:
            for fd in (out_r, in_w):
                if fd is not None:
                    os.close(fd)
            os.close(err_r)
            with self._cond:
                self._pending.setdefault(cid, []).extend(subscribers)
            raise
        finally:
            for fd in (out_w, err_w, in_r):
                if fd is not None:
                    os.close(fd)
        if started is None:
            for fd in (out_r, err_r, in_w):
                if fd is not None:
                    os.close(fd)
            with self._cond:
                self._pending.setdefault(cid, []).extend(subscribers)
            return None
        ended = threading.Event()
        relay = Relay(cid, out_r, err_r, in_w, subscribers, ended)
        with self._cond:
            self._relays[cid] = relay
            self._cond.notify_all()
        threading.Thread(target=self._await_exit, args=(cid, started), daemon=True,
                         name=f"exit {cid[:12]}").start()
        return started

    def _await_exit(self, cid: str, started: Started) -> None:
        code = started.wait()
        with self._cond:
            record = self._exits.setdefault(cid, _Exit())
            record.count += 1
            record.code = code
            self._relays.pop(cid, None)
            self._cond.notify_all()

    # -- wait ----------------------------------------------------------------------------
    def wait(self, cid: str, condition: str, gone: threading.Event) -> tuple[int, str]:
        """Docker's ``wait``: (exit code, error) once ``condition`` holds, (-1, "") if
        the client left first. ``not-running`` holds at once for a container that does not
        run; ``next-exit`` waits for the container's next exit (a created one must start
        first); ``removed`` waits for that and for the container to be removed.

        Exits of containers this service started are told at once; those started by
        others (the CLI, the kernel) are seen through the store."""
        with self._cond:
            seen = self._exits.get(cid, _Exit()).count
        exited: tuple[int, str] | None = None
        finished: str | None = None
        while not gone.is_set():
            with self._cond:
                record = self._exits.get(cid)
                if exited is None and record is not None and record.count > seen:
                    exited = (record.code, "")
                ours = cid in self._relays
            try:
                c = self.engine.containers.get(cid)
            except NotFound:
                return exited or (0, "")
            if finished is None:
                finished = c.State.FinishedAt
            if exited is None and not ours:
                if c.State.Running:
                    if self.engine.tasks.wait_exit(c, RECHECK):
                        try:
                            exited = (self.engine.containers.get(cid).State.ExitCode, "")
                        except NotFound:
                            exited = (0, "the container was removed before its exit code "
                                         "could be read")
                    continue
                if condition == "not-running":
                    return c.State.ExitCode, ""
                if c.State.FinishedAt != finished:  # started and ended between two looks
                    exited = (c.State.ExitCode, "")
            if exited is not None and condition != "removed":
                return exited
            with self._cond:
                record = self._exits.get(cid)
                news = exited is None and record is not None and record.count > seen
                if not news:
                    self._cond.wait(RECHECK)
        return -1, ""
