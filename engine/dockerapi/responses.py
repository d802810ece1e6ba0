"""What a handler returns, and how errors become Docker's error responses.

Five kinds cover the whole Engine API: a JSON document, fixed bytes, a chunked byte stream
(export, logs, ``wait``), a newline-delimited JSON progress stream (pull, push, build,
load), and a hijacked connection (attach, exec start). The server writes them; handlers
only describe them, so no handler touches the socket or the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, EngineError, InvalidArgument, NotFound

if TYPE_CHECKING:
    from .hijack import HijackedConnection

JSON_TYPE = "application/json"  # exactly: the CLI compares the string to decode errors
Headers = list[tuple[str, str]]


@dataclass
class JSON:
    body: Any
    status: int = 200
    headers: Headers = field(default_factory=list)


@dataclass
class Raw:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    headers: Headers = field(default_factory=list)


@dataclass
class Stream:
    """Chunked bytes, each chunk sent as soon as the iterator yields it.

    The iterator runs in worker threads one step at a time, so a slow client holds no
    thread while it catches up. With ``eager_headers`` the status line goes out before the
    first chunk (``wait`` must answer at once: the CLI starts the container only after
    ``wait`` has its headers). An error before anything was sent is an ordinary error
    response; after that the connection is cut, so the client sees a truncated stream
    rather than a clean end.
    """

    chunks: Iterable[bytes]
    content_type: str = "application/octet-stream"
    status: int = 200
    eager_headers: bool = False
    headers: Headers = field(default_factory=list)


@dataclass
class Progress:
    """Docker's JSON message stream: one object per line, flushed per message; an error
    after the first message is reported in band as ``{"errorDetail": …, "error": …}``."""

    messages: Iterable[dict[str, Any]]
    eager_headers: bool = False
    headers: Headers = field(default_factory=list)


@dataclass
class Hijack:
    """Take the connection over: ``session`` runs on its own thread with the client's raw
    byte streams. ``multiplexed`` (non-TTY) frames output with the 8-byte header."""

    session: Callable[[HijackedConnection], None]
    multiplexed: bool


Response = JSON | Raw | Stream | Progress | Hijack


class HTTPError(Exception):
    """A failure with an HTTP status no engine error maps to (413, 304, …)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def status_for(error: BaseException) -> int:
    if isinstance(error, HTTPError):
        return error.status
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, InvalidArgument):
        return 400
    return 500


def message_for(error: BaseException) -> str:
    if isinstance(error, EngineError | HTTPError):
        return str(error)
    return f"internal error: {type(error).__name__}: {error}"


def error_response(error: BaseException) -> JSON:
    """``{"message": …}`` with Docker's status code, so the CLI prints
    ``Error response from daemon: …`` with our message."""
    return JSON({"message": message_for(error)}, status_for(error))


def encode_json(value: Any) -> bytes:
    """Go's ``json.Encoder`` output: compact, HTML not escaped, one trailing newline."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def progress_error(error: BaseException) -> dict[str, Any]:
    message = message_for(error)
    return {"errorDetail": {"message": message}, "error": message}
