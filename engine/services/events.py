"""The engine's event log (``docker events``): what the services did, in Docker's shapes.

Docker's daemon keeps its last 256 events in memory and streams new ones to subscribers.
LayerLab has no daemon: every command is its own process, and a container's exit is
recorded by its monitor process. So the services append each event, as one JSON line, to
``events.jsonl`` under the state root; ``docker events`` reads the lines back and follows
the file for new ones. The log is bounded: past ``MAX_BYTES`` the oldest half is dropped
(rewritten atomically), so it never grows without limit yet keeps far more than Docker's
256 events.

Records are Docker's ``events.Message``: ``Type``, ``Action``, ``Actor`` (``ID``,
``Attributes``), ``scope``, ``time``, ``timeNano``. Container events carry the container's
labels, ``image`` and ``name``; image events the image's labels and ``name``, exactly the
attributes moby's ``LogContainerEvent``/``LogImageEvent`` give them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..fs.atomic import atomic_write, locked
from ..oci import reference as refs

if TYPE_CHECKING:
    from ..store.containers import Container
    from .engine import Engine

MAX_BYTES = 1 << 20
POLL_SECONDS = 0.1  # how often a follower looks for new lines


@dataclass
class Event:
    """Docker's ``events.Message``."""

    Type: str
    Action: str
    ID: str
    Attributes: dict[str, str] = field(default_factory=dict)
    scope: str = "local"
    timeNano: int = 0

    @property
    def time(self) -> int:
        return self.timeNano // 1_000_000_000

    def record(self) -> dict[str, Any]:
        """The API's JSON shape (attributes sorted, as Go encodes a map)."""
        return {"Type": self.Type, "Action": self.Action,
                "Actor": {"ID": self.ID, "Attributes": dict(sorted(self.Attributes.items()))},
                "scope": self.scope, "time": self.time, "timeNano": self.timeNano}

    def legacy_record(self) -> dict[str, Any]:
        """The shape of Docker API < 1.52 (Docker 27 and older clients): ``status``, ``id``
        and ``from`` first, for container and image events."""
        extra: dict[str, Any] = {}
        if self.Type in ("container", "image"):
            extra = {"status": self.Action, "id": self.ID}
            if self.Type == "container" and "image" in self.Attributes:
                extra["from"] = self.Attributes["image"]
        return {**extra, **self.record()}

    @classmethod
    def parse(cls, line: bytes) -> Event | None:
        try:
            rec = json.loads(line)
            actor = rec["Actor"]
            return cls(rec["Type"], rec["Action"], actor["ID"], dict(actor["Attributes"]),
                       rec.get("scope", "local"), int(rec["timeNano"]))
        except (ValueError, KeyError, TypeError):
            return None  # a line cut short by a crash mid-write


class EventLog:
    """The append-only log of one state root."""

    def __init__(self, root: Path) -> None:
        self.path = root / "events.jsonl"
        self.lock = root / "events.lock"

    # -- writing -----------------------------------------------------------------------
    def log(self, type_: str, action: str, actor_id: str,
            attributes: dict[str, str] | None = None) -> None:
        """Append one event. A log that cannot be written (a full disk) loses the event
        rather than failing the command that did the work, as a daemon's log would."""
        ev = Event(type_, action, actor_id, dict(attributes or {}), timeNano=time.time_ns())
        with contextlib.suppress(OSError):
            self._append(json.dumps(ev.record(), ensure_ascii=False, separators=(",", ":")))

    def container(self, c: Container, action: str, **extra: str) -> None:
        """A container event with moby's attributes: labels, ``image``, ``name``, extras."""
        attrs = {**(c.Config.get("Labels") or {}), **extra}
        image = c.Config.get("Image") or c.ImageRef
        if image:
            attrs["image"] = image
        attrs["name"] = c.Name
        self.log("container", action, c.ID, attrs)

    def _append(self, line: str) -> None:
        with locked(self.lock):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, (line + "\n").encode("utf-8", "surrogateescape"))
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            if size > MAX_BYTES:
                self._trim()

    def _trim(self) -> None:
        """Keep the newest lines that fit in half the budget (caller holds the lock)."""
        lines = self.path.read_bytes().splitlines(keepends=True)
        kept: list[bytes] = []
        total = 0
        for line in reversed(lines):
            total += len(line)
            if total > MAX_BYTES // 2:
                break
            kept.append(line)
        atomic_write(self.path, b"".join(reversed(kept)), mode=0o600)

    # -- reading -----------------------------------------------------------------------
    def read(self, since_ns: int = 0, until_ns: int = 0) -> list[Event]:
        """Logged events with ``since_ns <= timeNano`` (and ``<= until_ns`` if given)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for line in data.splitlines():
            ev = Event.parse(line)
            if ev and ev.timeNano >= since_ns and not (until_ns and ev.timeNano > until_ns):
                out.append(ev)
        return out

    def replay_and_follow(self, start_ns: int, since_ns: int = 0, until_ns: int = 0,
                          stop: Callable[[], bool] = lambda: False) -> Iterator[Event]:
        """``docker events`` (CLI and ``GET /events``): the logged events since ``since_ns``
        (none without it), then new ones as they happen from ``start_ns`` on, until
        ``until_ns`` passes (if it already has: only the logged ones)."""
        last = start_ns
        if since_ns or until_ns:
            for ev in self.read(since_ns, until_ns):
                yield ev
                last = max(last, ev.timeNano)
        if not until_ns or until_ns > start_ns:
            yield from self.follow(last, until_ns, stop)

    def follow(self, after_ns: int, until_ns: int = 0,
               stop: Callable[[], bool] = lambda: False) -> Iterator[Event]:
        """Events logged after ``after_ns``, as they come, until ``until_ns`` passes (or
        ``stop()``); survives the file being trimmed (replaced) meanwhile."""
        last = after_ns
        f = None
        buf = b""
        try:
            while not stop() and not (until_ns and time.time_ns() > until_ns):
                if f is None or _replaced(self.path, f.fileno()):
                    if f is not None:
                        f.close()
                        f = None
                    buf = b""
                    with contextlib.suppress(FileNotFoundError):
                        f = self.path.open("rb")
                chunk = f.read() if f is not None else b""
                *lines, buf = (buf + chunk).split(b"\n")  # the last piece may be half-written
                for line in lines:
                    ev = Event.parse(line)
                    if ev is None or ev.timeNano <= last:
                        continue
                    if until_ns and ev.timeNano > until_ns:
                        return
                    last = ev.timeNano
                    yield ev
                if not chunk:
                    time.sleep(POLL_SECONDS)
        finally:
            if f is not None:
                f.close()


def image_event(engine: Engine, image_id: str, ref_name: str, action: str) -> None:
    """An image event as moby's ``LogImageEvent``: the image's labels (while it exists)
    and ``name``; ``image_id`` is a reference for ``pull``/``push``, as in Docker."""
    attrs: dict[str, str] = {}
    if image_id.startswith("sha256:") and engine.store.images.exists(image_id):
        attrs.update(engine.store.images.get(image_id).run_config.get("Labels") or {})
    if ref_name:
        attrs["name"] = ref_name
    engine.events.log("image", action, image_id, attrs)


def _replaced(path: Path, fd: int) -> bool:
    with contextlib.suppress(FileNotFoundError):
        return os.stat(path).st_ino != os.fstat(fd).st_ino
    return False


# -- Docker's filters on events (moby daemon/events/filter.go) ------------------------------
class EventFilter:
    """``--filter`` of ``docker events``: values of one key are ORed, keys ANDed. Docker
    does not validate the keys of this filter, so unknown ones match nothing special."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.values: dict[str, set[str]] = {}
        for key, value in pairs:
            self.values.setdefault(key, set()).add(value)

    def _exact(self, key: str, source: str) -> bool:
        want = self.values.get(key)
        return not want or source in want

    def _fuzzy(self, key: str, source: str) -> bool:
        want = self.values.get(key)
        return not want or any(source.startswith(w) for w in want)

    def _named(self, type_: str, ev: Event) -> bool:
        return self._fuzzy(type_, ev.ID) or self._fuzzy(type_, ev.Attributes.get("name", ""))

    def _event(self, ev: Event) -> bool:
        """``exec_create``, ``exec_start``, ``health_status`` match their ``: …`` suffixes."""
        if self.values.get("event", set()) & {"health_status", "exec_create", "exec_start"}:
            return self._fuzzy("event", ev.Action)
        return self._exact("event", ev.Action)

    def _image(self, ev: Event) -> bool:
        name = ev.Attributes.get("name" if ev.Type == "image" else "image", "")
        return any(self._exact("image", s) for s in (ev.ID, name, _strip_tag(ev.ID),
                                                      _strip_tag(name)))

    def _labels(self, attrs: dict[str, str]) -> bool:
        for want in self.values.get("label", ()):
            key, eq, value = want.partition("=")
            if key not in attrs or (eq and attrs[key] != value):
                return False
        return True

    def __call__(self, ev: Event) -> bool:
        return (self._event(ev) and self._exact("type", ev.Type) and self._exact("scope", ev.scope)
                and all(self._named(t, ev) for t in ("daemon", "container", "plugin", "volume",
                                                     "network", "node", "service", "secret",
                                                     "config"))
                and self._image(ev) and self._labels(ev.Attributes))


def _strip_tag(name: str) -> str:
    if not refs.looks_like_reference(name) or re.fullmatch(r"sha256:[0-9a-f]{64}", name):
        return name
    return refs.parse(name).repo
