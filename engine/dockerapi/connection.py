"""One client connection: HTTP/1.1 by h11 over asyncio streams, handlers in threads.

The event loop only moves bytes; every handler, and every step of a streamed response,
runs in the server's thread pool because engine calls block. A slow client therefore
costs a suspended coroutine, not a thread, and never delays anybody else; a vanished one
makes the next write fail, which closes the response's iterator.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import threading
from collections.abc import Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import h11

from .hijack import RAW, HijackedConnection, StreamType, close_gracefully, media_type
from .responses import (
    JSON,
    JSON_TYPE,
    Headers,
    Hijack,
    Progress,
    Raw,
    Response,
    Stream,
    encode_json,
    error_response,
    message_for,
    progress_error,
    status_for,
)
from .routing import (
    API_VERSION,
    MIN_API_VERSION,
    Query,
    Request,
    Route,
    parse_version,
    split_version,
)

if TYPE_CHECKING:
    from .server import Server

log = logging.getLogger("layerlab.dockerapi")

READ_SIZE = 65536
MAX_HEAD = 1 << 20  # request line + headers; Go's default (X-Registry-Auth can be long)
DRAIN_LIMIT = 1 << 20  # unread request body we read and drop to keep a connection alive
_END = object()


class ClientGone(ConnectionError):
    """The client closed or broke the connection in the middle of a request."""


class BodyStream(io.RawIOBase):
    """A streamed request body (chunked or not), read from a handler's thread."""

    def __init__(self, conn: ClientConnection) -> None:
        self._conn = conn
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._rest:
            future = asyncio.run_coroutine_threadsafe(self._conn.read_body_chunk(),
                                                      self._conn.loop)
            try:
                self._rest = future.result()
            except concurrent.futures.CancelledError:
                raise ClientGone("the API server is shutting down") from None
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n


class ClientConnection:
    def __init__(self, server: Server, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self.idle = True  # between requests: may be closed at shutdown without loss

    async def serve(self) -> None:
        hijacked = False
        try:
            while True:
                event = await self._next_event()
                if not isinstance(event, h11.Request):
                    break
                self.idle = False
                with self.server.busy():
                    outcome = await self._exchange(event)
                self.idle = True
                if outcome == "hijacked":
                    hijacked = True
                    return
                if outcome == "close":
                    break
                if self.h11.their_state is h11.SEND_BODY:
                    await self._drain_unread_body()
                if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
                    break
                self.h11.start_next_cycle()
        except h11.RemoteProtocolError as e:
            await self._protocol_error(e)
        except ConnectionError:
            pass
        except Exception:
            log.exception("API connection failed")
        finally:
            if not hijacked:
                await close_gracefully(self.reader, self.writer, linger=1.0)

    # -- reading ---------------------------------------------------------------------
    async def _next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                data = await self.reader.read(READ_SIZE)
            except ConnectionError:
                data = b""
            self.h11.receive_data(data)

    async def read_body_chunk(self) -> bytes:
        """The next piece of the request body; ``b""`` at its end."""
        while self.h11.their_state is h11.SEND_BODY:
            if self.h11.they_are_waiting_for_100_continue:
                await self._send(h11.InformationalResponse(status_code=100, headers=[],
                                                          reason=b"Continue"))
            try:
                event = await self._next_event()
            except h11.RemoteProtocolError as e:
                raise ClientGone(f"the request body was cut short: {e}") from None
            if isinstance(event, h11.Data):
                if event.data:
                    return bytes(event.data)
            elif not isinstance(event, h11.EndOfMessage):
                raise ClientGone("the request body was cut short")
        return b""

    async def _read_bounded_body(self, request: h11.Request, method: str) -> bytes | None:
        """The whole body, or ``None`` (after a 413) if it is larger than allowed."""
        limit = self.server.max_body
        length = _header(request.headers, b"content-length")
        if length and length.isdigit() and int(length) > limit:
            await self._send_response(_too_large(limit), method)
            return None
        parts: list[bytes] = []
        size = 0
        while chunk := await self.read_body_chunk():
            size += len(chunk)
            if size > limit:
                await self._send_response(_too_large(limit), method)
                return None
            parts.append(chunk)
        return b"".join(parts)

    async def _drain_unread_body(self) -> None:
        dropped = 0
        while self.h11.their_state is h11.SEND_BODY and dropped <= DRAIN_LIMIT:
            if self.h11.they_are_waiting_for_100_continue:
                return  # the client never sent it: nothing to drop, the cycle can't go on
            dropped += len(await self.read_body_chunk())

    # -- one request -----------------------------------------------------------------
    async def _exchange(self, event: h11.Request) -> str:
        method = event.method.decode("ascii", "replace")
        target = event.target.decode("utf-8", "replace")
        raw_path, _, raw_query = target.partition("?")
        headers = {name.decode("latin-1"): value.decode("latin-1")
                   for name, value in event.headers}
        version_text, raw_path = split_version(raw_path)
        matched = self.server.router.match(method, raw_path)
        if matched is None:
            await self._send_response(JSON({"message": "page not found"}, 404), method)
            return "continue"
        route, params = matched
        version = parse_version(version_text or API_VERSION)
        if version_text and version < parse_version(MIN_API_VERSION):
            # Docker answers clients this old in plain text: they cannot decode JSON errors.
            text = (f"client version {version_text} is too old. Minimum supported API "
                    f"version is {MIN_API_VERSION}, please upgrade your client to a newer "
                    "version\n")
            await self._send_response(Raw(text.encode(), 400), method)
            return "continue"
        if version > parse_version(API_VERSION):
            message = (f"client version {version_text} is too new. Maximum supported API "
                       f"version is {API_VERSION}")
            await self._send_response(JSON({"message": message}, 400), method)
            return "continue"

        stream: io.RawIOBase | io.BufferedIOBase
        if route.streamed_body:
            body, stream = b"", BodyStream(self)
        else:
            read = await self._read_bounded_body(event, method)
            if read is None:
                return "close"
            body, stream = read, io.BytesIO(read)
        req = Request(method, unquote(raw_path), version, params, Query(raw_query), headers,
                      body, stream, self.server.engine, self.server.daemon)
        response = await self.loop.run_in_executor(self.server.pool, _invoke, route, req)
        if isinstance(response, Hijack):
            await self._hijack(response, req)
            return "hijacked"
        if isinstance(response, Stream | Progress):
            return await self._send_stream(response, req)
        await self._send_response(response, method)
        return "continue"

    # -- writing ---------------------------------------------------------------------
    async def _send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            if self.writer.is_closing():
                raise ClientGone("the client has gone")
            self.writer.write(data)
            await self.writer.drain()

    def _headers(self, status: int, content_type: str, extra: Headers,
                 length: int | None) -> list[tuple[str, str]]:
        headers = [("Content-Type", content_type), *self.server.common_headers, *extra]
        if length is not None and status not in (204, 304):
            headers.append(("Content-Length", str(length)))
        return headers

    async def _start(self, status: int, headers: list[tuple[str, str]]) -> None:
        await self._send(h11.Response(status_code=status, headers=headers,
                                      reason=_reason(status)))

    async def _send_response(self, response: JSON | Raw, method: str) -> None:
        if isinstance(response, JSON):
            body, content_type = encode_json(response.body), JSON_TYPE
        else:
            body, content_type = response.body, response.content_type
        status = response.status
        await self._start(status, self._headers(status, content_type, response.headers,
                                                len(body)))
        if body and method != "HEAD" and status not in (204, 304):
            await self._send(h11.Data(data=body))
        await self._send(h11.EndOfMessage())

    async def _send_stream(self, response: Stream | Progress, req: Request) -> str:
        if isinstance(response, Progress):
            items: Iterator[Any] = iter(response.messages)
            content_type, status = JSON_TYPE, 200
        else:
            items = iter(response.chunks)
            content_type, status = response.content_type, response.status
        headers = self._headers(status, content_type, response.headers, None)
        started = exhausted = False
        watcher = None
        try:
            if response.eager_headers:
                await self._start(status, headers)
                started = True
            if self.h11.their_state is h11.DONE:
                watcher = asyncio.ensure_future(self._watch_for_disconnect(req))
            while True:
                item: Any
                try:
                    item = await self.loop.run_in_executor(self.server.pool, next, items, _END)
                except ClientGone:
                    return "close"
                except Exception as e:
                    _log_failure(req, e)
                    if not started:
                        await self._send_response(error_response(e), req.method)
                        return "continue"
                    if isinstance(response, Progress):
                        await self._send(h11.Data(data=encode_json(progress_error(e))))
                        break
                    return "close"  # cut the stream: the client must not take it as whole
                if item is _END:
                    exhausted = True
                    break
                if not started:
                    await self._start(status, headers)
                    started = True
                data = encode_json(item) if isinstance(response, Progress) else item
                if data and req.method != "HEAD":
                    await self._send(h11.Data(data=data))
            if not started:
                await self._start(status, headers)
            await self._send(h11.EndOfMessage())
            return "continue"
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            if not exhausted and hasattr(items, "close"):
                # Runs the generator's cleanup (which may call the engine) off the loop.
                await self.loop.run_in_executor(self.server.pool, items.close)

    async def _watch_for_disconnect(self, req: Request) -> None:
        """While a response streams, the client sends nothing; EOF means it left."""
        with contextlib.suppress(ConnectionError):
            while len(self.h11.trailing_data[0]) < MAX_HEAD:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    break
                self.h11.receive_data(data)  # a pipelined next request: keep it
        req.gone.set()

    async def _hijack(self, response: Hijack, req: Request) -> None:
        if "upgrade" in req.headers and self.h11.their_state is h11.MIGHT_SWITCH_PROTOCOL:
            content_type = media_type(req.api_version, response.multiplexed)
            await self._send(h11.InformationalResponse(
                status_code=101, reason=b"UPGRADED",
                headers=[("Content-Type", content_type), ("Connection", "Upgrade"),
                         ("Upgrade", "tcp")]))
        else:  # a client that did not ask to upgrade gets Docker's raw-stream answer
            self.writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: {RAW}\r\n\r\n".encode())
            await self.writer.drain()
        early, closed = self.h11.trailing_data
        conn = HijackedConnection(self.loop, self.reader, self.writer, response.multiplexed,
                                  bytes(early), closed)
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(target=_run_session, args=(response, conn, req, done),
                                  name=f"dockerapi-{req.method} {req.path}", daemon=True)
        try:
            thread.start()
            await asyncio.wrap_future(done)
        finally:
            await conn.finish()

    async def _protocol_error(self, error: h11.RemoteProtocolError) -> None:
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        status = error.error_status_hint
        with contextlib.suppress(ConnectionError, h11.LocalProtocolError):
            await self._send_response(JSON({"message": f"bad request: {error}"}, status),
                                      "GET")

    def close_if_idle(self) -> None:
        if self.idle:
            self.writer.close()


def _invoke(route: Route, req: Request) -> Response:
    """Run a handler (in a worker thread); every failure becomes Docker's error response."""
    try:
        return route.handler(req)
    except ClientGone:
        raise  # nobody to answer: the connection closes
    except Exception as e:
        _log_failure(req, e)
        return error_response(e)


def _run_session(response: Hijack, conn: HijackedConnection, req: Request,
                 done: concurrent.futures.Future[None]) -> None:
    """A hijacked session's thread. Errors go to the client in band: as a SYSTEMERR frame,
    which the CLI reports as "error from daemon in stream", or as text on a TTY."""
    try:
        response.session(conn)
    except ConnectionError:
        pass  # the client left
    except Exception as e:
        _log_failure(req, e)
        with contextlib.suppress(ConnectionError):
            text = message_for(e).encode()
            conn.write_frame(StreamType.SYSTEMERR, text if conn.multiplexed else text + b"\r\n")
    finally:
        with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled: shutdown
            done.set_result(None)


def _log_failure(req: Request, error: BaseException) -> None:
    if status_for(error) >= 500:
        log.error("%s %s failed", req.method, req.path, exc_info=error)


def _header(headers: Any, name: bytes) -> str:
    for key, value in headers:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _too_large(limit: int) -> JSON:
    return JSON({"message": f"request body is larger than the {limit >> 20} MiB allowed "
                            "for this endpoint"}, 413)
