"""Run the network services (DNS responder, port proxies) of one container.

They belong to the container's monitor, which already spends its main thread in a
``select`` loop copying the container's output: the services run beside it on one asyncio
loop in one daemon thread, started after the init process is forked (so no fork ever
copies a running loop) and stopped when the container exits. ``run_forever`` runs the same
services in the foreground instead, for a proxy that is its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Sequence
from typing import Protocol


class NetService(Protocol):
    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then release every socket."""


async def _serve_all(services: Sequence[NetService], stop: asyncio.Event) -> None:
    """Serve until ``stop``; the first service to fail stops the others (a half-working
    set would mislead), and its exception is raised once all have closed their sockets."""
    tasks = [asyncio.create_task(s.serve(stop)) for s in services]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


class Background:
    """Services on an asyncio loop in a daemon thread; ``stop`` ends them and joins."""

    def __init__(self, services: Sequence[NetService], name: str = "layerlab-net") -> None:
        self.services = list(services)
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await _serve_all(self.services, self._stop)

        try:
            asyncio.run(main())
        except BaseException as e:  # kept for stop() to report
            self.error = e
        finally:
            self._ready.set()

    def start(self) -> Background:
        self._thread.start()
        self._ready.wait()
        return self

    def stop(self) -> None:
        """Stop every service and wait for the thread; raises what made a service fail."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop finished on its own meanwhile
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def run_forever(services: Sequence[NetService]) -> None:
    """Serve in the foreground until SIGTERM or SIGINT (a proxy as its own process)."""
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await _serve_all(services, stop)

    asyncio.run(main())
