"""A hijacked connection (attach, exec start): raw stdin in, framed output out.

After ``101 UPGRADED`` the HTTP exchange is over and the socket carries the container's
streams. Non-TTY output is multiplexed, each write framed as ``[stream][0 0 0][len BE32]``
plus payload; TTY output is raw. The session runs on a thread of its own (engine calls
block), so every method here is called from that thread (or threads it starts) and hops
onto the event loop for the socket work.

The client's half-close is not a detach: ``docker run -i`` calls ``CloseWrite()`` when its
stdin ends and then waits for the rest of the output, so ``read_stdin`` returns ``b""``
from then on while ``write_frame`` keeps working until the session calls ``close``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import struct
import threading
from collections.abc import Coroutine
from enum import IntEnum
from typing import Any, TypeVar

from .routing import parse_version

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"
LINGER = 10.0  # seconds to read (and drop) client input after our end of output

T = TypeVar("T")


class StreamType(IntEnum):
    STDIN = 0
    STDOUT = 1
    STDERR = 2
    SYSTEMERR = 3  # an error from the daemon, in band; the CLI reports it and fails


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def media_type(api_version: tuple[int, ...], multiplexed: bool) -> str:
    """The Content-Type of an upgraded stream: Docker says "multiplexed" only from 1.42."""
    return MULTIPLEXED if multiplexed and api_version >= parse_version("1.42") else RAW


class HijackedConnection:
    def __init__(self, loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, multiplexed: bool, early_input: bytes,
                 client_closed_write: bool) -> None:
        self.multiplexed = multiplexed
        self._loop = loop
        self._reader = reader
        self._writer = writer
        self._early = early_input  # stdin that arrived with the request, before the 101
        self._input_ended = client_closed_write
        self._output_ended = False
        self._reads: set[asyncio.Task[bytes]] = set()
        self._lock = threading.Lock()  # one reader of stdin at a time

    # -- called from session threads -------------------------------------------------
    def read_stdin(self, size: int = 65536) -> bytes:
        """The next bytes the client sent; ``b""`` once it half-closed (or left) — which
        only means "no more input", not "stop sending output"."""
        with self._lock:
            if self._early:
                data, self._early = self._early[:size], self._early[size:]
                return data
            if self._input_ended:
                return b""
            try:
                data = self._call(self._read(size))
            except ConnectionError:
                data = b""
            if not data:
                self._input_ended = True
            return data

    def write_frame(self, stream: int, data: bytes) -> None:
        """Send output; raises ``ConnectionError`` once the client is gone, so the copier
        feeding us stops."""
        if data:
            self._call(self._write(frame(stream, data) if self.multiplexed else data))

    def close(self) -> None:
        """End of output: flush, then half-close our side so the client sees EOF."""
        with contextlib.suppress(ConnectionError):
            self._call(self._end_output())

    # -- on the event loop -----------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        except RuntimeError:  # the loop is closed
            coro.close()
            raise ConnectionResetError("the API server is shutting down") from None
        try:
            return future.result()
        except concurrent.futures.CancelledError:  # the server is shutting down
            raise ConnectionResetError("the API server is shutting down") from None

    async def _read(self, size: int) -> bytes:
        task = asyncio.ensure_future(self._reader.read(size))
        self._reads.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled():  # by ``finish``: the session is over, no more input
                return b""
            raise
        finally:
            self._reads.discard(task)

    async def _write(self, data: bytes) -> None:
        if self._output_ended:
            raise ConnectionResetError("output was already closed")
        if self._writer.is_closing():
            raise ConnectionResetError("the client has gone")
        self._writer.write(data)
        await self._writer.drain()

    async def _end_output(self) -> None:
        if self._output_ended or self._writer.is_closing():
            return
        self._output_ended = True
        await self._writer.drain()
        if self._writer.can_write_eof():
            self._writer.write_eof()

    async def finish(self) -> None:
        """After the session: end output if it did not, stop pending stdin reads, and close
        once the client has read everything (see ``close_gracefully``)."""
        with contextlib.suppress(ConnectionError):
            await self._end_output()
        pending = list(self._reads)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        await close_gracefully(self._reader, self._writer)


async def close_gracefully(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           linger: float = LINGER) -> None:
    """Close without losing output. Closing a socket with unread input makes the kernel
    reset the connection (TCP) or flag ``ECONNRESET`` to the peer (unix sockets), and a
    client may then report an error instead of the end of our output. So: half-close,
    drop whatever the client still sends until it closes too (or ``linger`` runs out),
    then close."""
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        if not writer.is_closing():
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        async with asyncio.timeout(linger):
            while await reader.read(65536):
                pass
    writer.close()
    with contextlib.suppress(ConnectionError, OSError, TimeoutError):
        await writer.wait_closed()
