"""Docker's URL space: versioned paths, path patterns, query arguments, and the request.

Docker registers every route twice, as ``/v{version}/path`` and as ``/path`` (the latter
means "the server's own version"), and checks the version before the handler runs. Routes
are matched in the order they were added, as Docker's router does, so a pattern that
takes the rest of the path (``{name:path}``, for image names with slashes) never shadows
a route added before it.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from ..errors import InvalidArgument

if TYPE_CHECKING:
    from ..services.engine import Engine
    from .daemon import Daemon
    from .responses import Response

API_VERSION = "1.43"
"""The highest API whose semantics we implement: from 1.42 on, attach and logs of non-TTY
containers say ``application/vnd.docker.multiplexed-stream``; nothing we serve depends on
anything newer. Clients use ``min(their version, ours)``."""

MIN_API_VERSION = "1.24"
"""docker-py refuses servers below 1.24, and Docker itself accepts nothing older."""

_VERSIONED = re.compile(r"^/v([0-9.]+)(/.*)$")


def parse_version(text: str) -> tuple[int, ...]:
    """``"1.43"`` → ``(1, 43)``; components that are not numbers count as 0, as in Docker."""
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))


def split_version(path: str) -> tuple[str | None, str]:
    """``/v1.43/containers/json`` → ``("1.43", "/containers/json")``; unprefixed → ``None``."""
    m = _VERSIONED.match(path)
    return (m.group(1), m.group(2)) if m else (None, path)


class Query:
    """The query string, read the way Docker's handlers read it."""

    def __init__(self, raw: str) -> None:
        self._values = parse_qs(raw, keep_blank_values=True)

    def has(self, key: str) -> bool:
        return key in self._values

    def get(self, key: str, default: str = "") -> str:
        values = self._values.get(key)
        return values[0] if values else default

    def all(self, key: str) -> list[str]:
        return list(self._values.get(key, []))

    def flag(self, key: str, default: bool = False) -> bool:
        """Docker's ``BoolValue``: anything but ``""``, ``0``, ``no``, ``false``, ``none``
        (any case) is true; an absent key gives ``default``."""
        if key not in self._values:
            return default
        return self.get(key).strip().lower() not in ("", "0", "no", "false", "none")

    def number(self, key: str, default: int = 0) -> int:
        text = self.get(key)
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            raise InvalidArgument(f"invalid value for {key}: {text!r} is not an integer") \
                from None

    def nanos(self, key: str) -> int:
        """A ``since``/``until`` argument in nanoseconds since the epoch (0 when absent):
        the CLI sends Unix seconds (``1700000000.000000001``), other clients may send any
        of the forms the CLI accepts."""
        from ..timestamps import to_nanos

        text = self.get(key)
        if text in ("", "0"):
            return 0
        try:
            return to_nanos(text)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None

    def json(self, key: str) -> Any:
        """A JSON-valued argument (``buildargs``, ``labels``); absent or empty → ``None``."""
        text = self.get(key)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise InvalidArgument(f"invalid JSON in {key}: {text!r}") from None

    def filters(self, key: str = "filters") -> dict[str, list[str]]:
        """Docker's ``filters``: ``{"label": {"a=b": true}}``, or the legacy list form
        ``{"label": ["a=b"]}``; each key maps to its values."""
        raw = self.json(key) if self.get(key) else {}
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid filter")
        out: dict[str, list[str]] = {}
        for name, values in raw.items():
            if isinstance(values, dict) and all(isinstance(v, bool) for v in values.values()):
                out[name] = [str(v) for v in values]
            elif isinstance(values, list) and all(isinstance(v, str) for v in values):
                out[name] = list(values)
            else:
                raise InvalidArgument("invalid filter")
        return out


@dataclass
class Request:
    """One API call as a handler sees it, in a worker thread.

    ``body`` holds a bounded body, read before the handler runs; a route that takes a
    streamed body (a build context, an image archive) reads ``stream`` instead. ``gone`` is
    set when the client disconnects while a streamed response is being written, so a
    handler that waits (``wait``, ``events``, ``logs -f``) can stop waiting.
    """

    method: str
    path: str  # without the version prefix, percent-decoded
    api_version: tuple[int, ...]
    params: dict[str, str]
    query: Query
    headers: dict[str, str]  # lower-case names
    body: bytes
    stream: io.RawIOBase | io.BufferedIOBase
    engine: Engine
    daemon: Daemon
    gone: threading.Event = field(default_factory=threading.Event)

    @property
    def id(self) -> str:
        """The ``{id}`` or ``{name}`` path parameter (a container, image or exec)."""
        return self.params.get("id") or self.params["name"]

    def api_at_least(self, version: str) -> bool:
        return self.api_version >= parse_version(version)

    def json(self) -> Any:
        """The JSON body, as Docker's ``ReadJSON`` takes it: an empty body is ``None`` (the
        CLI's ``commit`` sends none), and a body must say ``application/json``."""
        if not self.body:
            return None
        content_type = self.headers.get("content-type", "")
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime != "application/json":
            raise InvalidArgument(
                f"unsupported Content-Type header ({content_type}): must be 'application/json'")
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise InvalidArgument(f"invalid JSON: {e}") from None


Handler = Callable[[Request], "Response"]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # "/containers/{id}/json"; "{name:path}" may contain slashes
    handler: Handler
    streamed_body: bool = False  # the handler reads ``Request.stream``; no size bound


class RouteTable:
    """Routes collected where their handlers are written, one decorator each::

        routes = RouteTable()

        @routes.route("GET", "/containers/{id}/json")
        def inspect(req: Request) -> Response: ...
    """

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(self, method: str, pattern: str, *,
              streamed_body: bool = False) -> Callable[[Handler], Handler]:
        def add(handler: Handler) -> Handler:
            self.routes.append(Route(method, pattern, handler, streamed_body))
            return handler
        return add


def _compile(pattern: str) -> re.Pattern[str]:
    def param(m: re.Match[str]) -> str:
        name, _, kind = m.group(1).partition(":")
        return f"(?P<{name}>{'.+' if kind == 'path' else '[^/]+'})"
    parts = re.split(r"(\{[^}]+\})", pattern)
    regex = "".join(re.sub(r"\{([^}]+)\}", param, p) if p.startswith("{") else re.escape(p)
                    for p in parts)
    return re.compile(f"^{regex}$")


class Router:
    """Method + path → route, in the order routes were added."""

    def __init__(self, tables: Iterable[RouteTable] = ()) -> None:
        self._routes: list[tuple[Route, re.Pattern[str]]] = []
        for table in tables:
            for route in table.routes:
                self.add(route)

    def add(self, route: Route) -> None:
        self._routes.append((route, _compile(route.pattern)))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route, regex in self._routes:
            if route.method == method and (m := regex.match(path)):
                return route, {k: unquote(v) for k, v in m.groupdict().items()}
        return None
