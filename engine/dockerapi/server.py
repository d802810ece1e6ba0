"""The Docker Engine API service: listeners, connections, the thread pool, the idle timer.

asyncio + h11, because both things the Docker CLI needs were measured to work there and
not elsewhere (issue 14): a hijacked attach must survive the client's half-close (aiohttp
closed it, losing output and hanging ``docker run``), and ``docker build`` sends a chunked
body (``http.server`` cannot read one). h11 is a small pure-Python protocol machine, so
start-up stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ..version import VERSION
from . import build, containers, execs, images, networks, system, transfer, volumes
from .connection import ClientConnection
from .daemon import Daemon
from .listen import Listener, listen
from .routing import API_VERSION, Router, RouteTable
from .spawner import SpawnedTasks, Spawner

if TYPE_CHECKING:
    from ..services.engine import Engine

MAX_BODY = 4 << 20  # a bounded request body (container create JSON and the like)
WORKERS = 128  # threads for handlers and stream steps; a hijacked session has its own


def production_router(first: Iterable[RouteTable] = ()) -> Router:
    """Every endpoint the service offers, one table per noun (``first``: tables that take
    precedence, e.g. a test's)."""
    return Router([*first, system.routes, containers.routes, execs.routes, images.routes,
                   transfer.routes, build.routes, networks.routes, volumes.routes])


class Server:
    def __init__(self, engine: Engine, listeners: list[Listener], router: Router,
                 idle_timeout: float | None = None, max_body: int = MAX_BODY) -> None:
        self.engine = engine
        self.daemon = Daemon(engine)
        self.listeners = listeners
        self.router = router
        self.idle_timeout = idle_timeout or None  # 0 means "never", as in podman
        self.max_body = max_body
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="dockerapi")
        self.common_headers = [("Api-Version", API_VERSION), ("Docker-Experimental", "false"),
                               ("Ostype", "linux"), ("Server", f"LayerLab/{VERSION} (linux)")]
        self._connections: dict[asyncio.Task[None], ClientConnection] = {}
        self._busy = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Event | None = None

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """A request (or hijacked session) in progress keeps the service from idling out;
        an idle keep-alive connection does not, as in ``podman system service``."""
        self._busy += 1
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        try:
            yield
        finally:
            self._busy -= 1
            self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        if self.idle_timeout is not None and self._busy == 0 and self._stopping is not None:
            loop = asyncio.get_running_loop()
            self._idle_timer = loop.call_later(self.idle_timeout, self._stopping.set)

    def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    async def run(self, announce: Callable[[str], None] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        servers = [await asyncio.start_server(self._accept, sock=listener.sock)
                   if listener.path is None else
                   await asyncio.start_unix_server(self._accept, sock=listener.sock)
                   for listener in self.listeners]
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._stopping.set)
        self._arm_idle_timer()
        if announce is not None:
            for listener in self.listeners:
                announce(listener.uri)
        try:
            await self._stopping.wait()
        finally:
            for server in servers:
                server.close()
            for listener in self.listeners:
                listener.close()
            await self._close_connections()
            self.pool.shutdown(wait=False, cancel_futures=True)

    async def _accept(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        conn = ClientConnection(self, reader, writer)
        self._connections[task] = conn
        try:
            await conn.serve()
        finally:
            del self._connections[task]

    async def _close_connections(self) -> None:
        """Idle connections close at once; requests in progress are cancelled, and a
        connection that still does not finish within a few seconds is cut."""
        for conn in self._connections.values():
            conn.close_if_idle()
        for task, conn in list(self._connections.items()):
            if not conn.idle:
                task.cancel()
        tasks = list(self._connections)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=3.0)
            for task in pending:
                if (stuck := self._connections.get(task)) is not None:
                    stuck.writer.transport.abort()


def serve(engine_factory: Callable[[], Engine], uri: str, idle_timeout: float | None = None,
          *, allow_remote: bool = False, socket_group: str | None = None,
          router: Router | None = None) -> None:
    """Serve the Docker Engine API on ``uri`` until SIGINT/SIGTERM, or until no request has
    been in progress for ``idle_timeout`` seconds (``None`` or 0: never).

    ``engine_factory`` is called once, the engine's facts are read once, and the spawner
    is forked, all before the first thread exists: the engine probes the host by forking,
    and containers are started by forking, neither of which may happen in a process that
    already runs threads (``spawner``). Prints ``API listen on URI`` to stderr when
    clients can connect. Threads still inside engine calls when it returns are abandoned;
    callers should end the process with ``os._exit``, as the CLI does.
    """
    engine = engine_factory()
    system.engine_facts(engine)
    spawner = Spawner(engine)
    try:
        engine.tasks = SpawnedTasks(engine, spawner)
        _serve(engine, uri, idle_timeout, allow_remote, socket_group, router)
    finally:
        spawner.close()


def _serve(engine: Engine, uri: str, idle_timeout: float | None, allow_remote: bool,
           socket_group: str | None, router: Router | None) -> None:
    listener = listen(uri, allow_remote=allow_remote, group=socket_group)
    if listener.warning:
        bar = "!" * 78
        print(f"{bar}\n{listener.warning}\n{bar}", file=sys.stderr, flush=True)
    server = Server(engine, [listener], router or production_router(), idle_timeout)

    def announce(where: str) -> None:
        print(f"API listen on {where}", file=sys.stderr, flush=True)

    try:
        with engine.system.serving(listener.uri):
            asyncio.run(server.run(announce))
    finally:
        listener.close()
