"""``--filter`` as Docker's daemon applies it to ``ps`` and ``images`` (moby's filters.Args,
daemon/list.go and daemon/images/image_list.go), so the same flags select the same things.

Values of one key are alternatives (ORed), different keys must all hold (ANDed). Unknown
keys and invalid values are refused with moby's messages (``invalid filter 'foo'``).
``name=`` and ``status=`` are regular expressions (Go's ``Match``: exact or regex search),
``reference=`` a ``path.Match`` glob; ``volume=``, ``network=``, ``publish=`` and ``expose=``
look at what ``inspect`` reports of the container, so they apply as soon as those features
fill it in.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument, NotFound
from ..oci import reference as refs
from ..store.containers import Container
from ..store.images import Image
from ..timestamps import rfc3339_nanos, to_nanos

if TYPE_CHECKING:
    from .engine import Engine

STATES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")
HEALTHS = ("none", "starting", "healthy", "unhealthy")
PS_FILTERS = frozenset({"ancestor", "before", "exited", "id", "isolation", "label", "name",
                        "status", "health", "since", "volume", "network", "is-task",
                        "publish", "expose"})
IMAGE_FILTERS = frozenset({"dangling", "label", "before", "since", "reference", "until"})


class Filters:
    """moby's ``filters.Args``: key → set of values."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self.fields: dict[str, set[str]] = {}
        for key, value in pairs:
            self.fields.setdefault(key, set()).add(value)

    def get(self, key: str) -> list[str]:
        return sorted(self.fields.get(key, ()))

    def contains(self, key: str) -> bool:
        return key in self.fields

    def validate(self, accepted: frozenset[str]) -> None:
        for name in sorted(self.fields):
            if name not in accepted:
                raise InvalidArgument(f"invalid filter '{name}'")

    def exact(self, key: str, source: str) -> bool:
        values = self.fields.get(key)
        return not values or source in values

    def match(self, key: str, source: str) -> bool:
        """Exact, or a Go regexp found anywhere in ``source`` (bad patterns match nothing)."""
        if self.exact(key, source):
            return True
        for pattern in self.fields[key]:
            with contextlib.suppress(re.error):
                if re.search(pattern, source):
                    return True
        return False

    def match_kv(self, key: str, source: dict[str, str]) -> bool:
        """``label=k`` (present) / ``label=k=v`` (equal); every value must hold."""
        values = self.fields.get(key)
        if not values:
            return True
        for value in values:
            k, eq, v = value.partition("=")
            if k not in source or (eq and source[k] != v):
                return False
        return True

    def bool_or_default(self, key: str, default: bool) -> bool:
        values = self.fields.get(key)
        if values is None:
            return default
        false, true = bool(values & {"0", "false"}), bool(values & {"1", "true"})
        if false == true:
            raise InvalidArgument(f"invalid filter '{key}=[{' '.join(self.get(key))}]'")
        return true


# -- containers (docker ps) -------------------------------------------------------------------
def containers(engine: Engine, filters: Filters, all: bool = False,
               limit: int = -1) -> list[Container]:
    """The containers ``docker ps`` shows: newest first, running ones unless ``all``,
    ``limit`` (``-n``) or a ``status`` filter widen it, then ``filters``, then ``limit``."""
    filters.validate(PS_FILTERS)
    exited = []
    for value in filters.get("exited"):
        if not re.fullmatch(r"[+-]?\d+", value):
            raise InvalidArgument(f"invalid filter 'exited={value}': strconv.Atoi: parsing "
                                  f'"{value}": invalid syntax')
        exited.append(int(value))
    for value in filters.get("status"):
        if value not in STATES:
            raise InvalidArgument(f"invalid filter 'status={value}': invalid value for state "
                                  f"({value}): must be one of {', '.join(STATES)}")
        all = True
    for value in filters.get("health"):
        if value not in HEALTHS:
            raise InvalidArgument(f"invalid filter 'health={value}': invalid value for health "
                                  f"({value}): must be one of {', '.join(HEALTHS)}")
    is_task = filters.bool_or_default("is-task", False)
    before = [engine.containers.get(v).ID for v in filters.get("before")]
    since = [engine.containers.get(v).ID for v in filters.get("since")]
    ancestors = _descendants(engine, filters.get("ancestor"))
    ports = _port_filters(filters)

    candidates = engine.containers.all()
    if filters.contains("id"):
        prefixed = set()
        for value in filters.get("id"):
            matches = [c.ID for c in candidates if c.ID.startswith(value)]
            if len(matches) == 1:
                prefixed.add(matches[0])
        candidates = [c for c in candidates if c.ID in prefixed]
    out: list[Container] = []
    waiting_for = set(before)
    for c in candidates:
        if waiting_for:  # ``before``: skip down to (and past) the named container
            waiting_for.discard(c.ID)
            continue
        if c.ID in since:
            break
        if not c.State.Running and not all and limit <= 0:
            continue
        if not (filters.match("name", "/" + c.Name) or filters.match("name", c.Name)):
            continue
        if not filters.match("id", c.ID):
            continue
        if filters.contains("is-task") and is_task:
            continue  # no container here is a swarm task
        if not filters.match_kv("label", c.Config.get("Labels") or {}):
            continue
        if 0 < limit <= len(out):
            break
        if exited and not (not c.State.Running and c.State.StartedAt[:4] not in ("", "0001")
                           and c.State.ExitCode in exited):
            continue
        if not filters.match("status", c.State.Status):
            continue
        if not filters.exact("health", "none"):
            continue
        if filters.contains("ancestor") and c.Image not in ancestors:
            continue
        if any(filters.contains(k) for k in ("volume", "network", "publish", "expose")) \
                and not _attached(engine, c, filters, ports):
            continue
        out.append(c)
    return out


def _descendants(engine: Engine, names: list[str]) -> set[str]:
    """The images named and every image built on them locally (moby walks children);
    a name that resolves to nothing contributes nothing."""
    found: set[str] = set()
    if not names:
        return found  # no ancestor filter: no image to read
    children: dict[str, list[str]] = {}
    for img in engine.images.all():
        if img.parent:
            children.setdefault(img.parent, []).append(img.id)
    for name in names:
        try:
            todo = [engine.images.resolve(name)]
        except (NotFound, InvalidArgument):
            continue
        while todo:
            image_id = todo.pop()
            if image_id not in found:
                found.add(image_id)
                todo += children.get(image_id, [])
    return found


@dataclass
class _Ports:
    publish: set[str] = field(default_factory=set)
    expose: set[str] = field(default_factory=set)


def _port_filters(filters: Filters) -> _Ports:
    """``publish=8080[/tcp]``, ``expose=80-90/udp`` as moby's portOp parses them."""
    out = _Ports()
    for key in ("publish", "expose"):
        for value in filters.get(key):
            if ":" in value:
                raise InvalidArgument(f"filter for '{key}' should not contain ':': {value}")
            spec, _, proto = value.partition("/")
            lo, _, hi = spec.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()):
                raise InvalidArgument(f"error while looking up for {key} {value}: invalid start "
                                      f"port '{lo}'" if not lo.isdigit() else
                                      f"error while looking up for {key} {value}: invalid end "
                                      f"port '{hi}'")
            for port in range(int(lo), int(hi or lo) + 1):
                getattr(out, key).add(f"{port}/{proto or 'tcp'}")
    return out


def _attached(engine: Engine, c: Container, filters: Filters, ports: _Ports) -> bool:
    """``volume=``/``network=``/``publish=``/``expose=``, read from the container's
    ``inspect`` (its ``Mounts``, ``NetworkSettings``, ``Config.ExposedPorts``)."""
    info = engine.containers.inspect(c.ID)
    if filters.contains("volume"):
        mounts = info.get("Mounts") or []
        names = {m.get("Name") or m.get("Source") for m in mounts}
        dests = {m.get("Destination") for m in mounts}
        if not any(v in names or v in dests for v in filters.get("volume")):
            return False
    if filters.contains("network"):
        nets: dict[str, Any] = (info.get("NetworkSettings") or {}).get("Networks") or {}
        if not any(v in nets or any((n or {}).get("NetworkID", "").startswith(v)
                                    for n in nets.values()) for v in filters.get("network")):
            return False
    if ports.publish or ports.expose:
        published = set()
        for port, bindings in ((info.get("NetworkSettings") or {}).get("Ports") or {}).items():
            for b in bindings or []:
                published.add(f"{b.get('HostPort')}/{port.partition('/')[2] or 'tcp'}")
        exposed = set((info.get("Config") or {}).get("ExposedPorts") or {})
        if not (published & ports.publish or exposed & ports.expose):
            return False
    return True


# -- images (docker images) -------------------------------------------------------------------
@dataclass
class ImageSummary:
    """One image as ``docker images`` lists it, with the references the filters kept."""

    image: Image
    tags: list[str]
    digests: list[str]


def images(engine: Engine, filters: Filters, all: bool = False) -> list[ImageSummary]:
    """What ``docker images`` lists (S9): tagged images and untagged leaves (``all``: the
    intermediates too), newest first, through moby's image filters."""
    filters.validate(IMAGE_FILTERS)
    dangling_only = filters.bool_or_default("dangling", False)
    created = _created_bounds(engine, filters)
    everything = engine.images.all()
    parents = {img.parent for img in everything if img.parent}
    out = []
    for img in everything:
        stamp = rfc3339_nanos(img.config.get("created", ""))
        if created.before and not (stamp and stamp < created.before):
            continue
        if created.since and not (stamp and stamp > created.since):
            continue
        if filters.contains("label") and not filters.match_kv(
                "label", img.run_config.get("Labels") or {}):
            continue
        tags: list[str] = []
        digests: list[str] = []
        for ref in [*img.tags, *engine.images.repo_digests(img.id)]:
            if filters.contains("reference") and not _reference_matches(filters, ref):
                continue
            (digests if "@" in ref else tags).append(ref)
        if not tags and not digests:
            if not (all or img.id not in parents):
                continue
            if filters.contains("dangling") and not dangling_only:
                continue
            if filters.contains("reference"):
                continue  # no reference left to show, and references were asked for
        elif dangling_only and tags:
            continue
        if dangling_only and img.id in parents:
            continue  # moby's Heads(): dangling means an untagged leaf
        out.append(ImageSummary(img, tags, digests))
    return sorted(out, key=lambda s: s.image.config.get("created", ""), reverse=True)


@dataclass
class _Bounds:
    """Creation-time bounds in nanoseconds (0: none)."""

    before: int = 0
    since: int = 0


def _created_bounds(engine: Engine, filters: Filters) -> _Bounds:
    """``before=IMAGE``/``until=TIME`` (the oldest wins) and ``since=IMAGE`` (the newest)."""
    out = _Bounds()
    for name in filters.get("before"):
        stamp = rfc3339_nanos(engine.images.get(name).config.get("created", ""))
        if stamp and (not out.before or stamp < out.before):
            out.before = stamp
    for value in filters.get("until"):
        try:
            stamp = to_nanos(value)
        except ValueError as e:
            raise InvalidArgument(f"invalid value for 'until' filter: {e}") from None
        if not out.before or stamp < out.before:
            out.before = stamp
    for name in filters.get("since"):
        stamp = rfc3339_nanos(engine.images.get(name).config.get("created", ""))
        out.since = max(out.since, stamp)
    return out


def _reference_matches(filters: Filters, ref: str) -> bool:
    """moby matches the glob against the familiar and canonical forms, with and without
    the tag: ``busybox:latest``, ``busybox``, ``docker.io/library/busybox:latest`` …"""
    name, sep, _ = ref.partition("@")
    if not sep:
        parsed = refs.parse(ref)
        repo, tagged = parsed.repo, f"{parsed.repo}:{parsed.tag}"
    else:
        repo, tagged = name, ref
    canonical = repo if refs.Reference(repo).domain else f"docker.io/{refs.Reference(repo).path}"
    targets = [tagged, repo, canonical + tagged[len(repo):], canonical]
    for pattern in filters.get("reference"):
        rx = go_glob(pattern)
        if any(rx.fullmatch(t) for t in targets):
            return True
    return False


def go_glob(pattern: str) -> re.Pattern[str]:
    """Go's ``path.Match`` pattern as a regex: ``*``/``?`` never cross ``/``, ``[^…]``
    negates, ``\\`` escapes; a malformed pattern is Go's ``syntax error in pattern``."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i == len(pattern):
                raise InvalidArgument("syntax error in pattern")
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("^", "]") else i + 1)
            if end < 0:
                raise InvalidArgument("syntax error in pattern")
            body = pattern[i + 1:end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            if not body:
                raise InvalidArgument("syntax error in pattern")
            cls = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"(?![/])[{'^' if negate else ''}{cls}]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.S)


# -- prune (container/image/system prune --filter) -----------------------------------------
PRUNE_FILTERS = {"container": frozenset({"label", "label!", "until"}),
                 "image": frozenset({"label", "label!", "until", "dangling"}),
                 "volume": frozenset({"label", "label!"})}


@dataclass
class PruneFilter:
    """Which objects a ``prune --filter`` lets go: created before ``until``, labels as
    ``label=``, and none matching a ``label!=``."""

    filters: Filters
    until: int = 0

    def __call__(self, created: str, labels: dict[str, str]) -> bool:
        if self.until and not rfc3339_nanos(created) < self.until:
            return False
        if not self.filters.match_kv("label", labels):
            return False
        return not (self.filters.contains("label!") and self.filters.match_kv("label!", labels))

    @property
    def all_images(self) -> bool:
        """``dangling=false``: every unused image, as ``-a`` (moby's image prune)."""
        return not self.filters.bool_or_default("dangling", True)


def prune_filter(pairs: Iterable[tuple[str, str]], kind: str) -> PruneFilter:
    f = Filters(pairs)
    f.validate(PRUNE_FILTERS[kind])
    until = 0
    for value in f.get("until"):
        try:
            until = to_nanos(value)
        except ValueError as e:
            raise InvalidArgument(f"invalid value for 'until' filter: {e}") from None
    return PruneFilter(f, until)
