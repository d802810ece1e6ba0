"""The OCI image config: the one place configs are assembled, encoded and checked.

An image's ID is the sha256 of its config bytes, so the bytes must come out the same way
every time: keys sorted, JSON compact as Go's ``json.Marshal`` writes it. Every way an
image is made — ``commit``, ``import``, a build step, the busybox bootstrap — appends one
step to a base config with ``append_layer``: the parent's layers and history plus one
history entry, with a layer (``diff_id``) or without (``empty_layer``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import InvalidArgument
from .digest import HEX64

Config = dict[str, Any]


def compact(obj: Any) -> bytes:
    """JSON as Go's ``json.Marshal`` writes it (no spaces): configs and manifests are
    digested over these exact bytes."""
    return json.dumps(obj, separators=(",", ":")).encode()


def host_arch() -> str:
    """The OCI name of this machine's architecture."""
    machine = os.uname().machine  # platform.machine()'s source; platform takes ms to import
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def empty() -> Config:
    """The base of an image made from nothing (``import``, ``FROM scratch``, bootstrap)."""
    return {"architecture": host_arch(), "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []}, "history": []}


def append_layer(base: Config | None, *, created: str, created_by: str,
                 diff_id: str | None, run_config: Config | None = None, author: str = "",
                 comment: str = "", container: str = "") -> Config:
    """A new config: ``base`` (or an empty one) with one more step on top.

    ``diff_id`` None records an ``empty_layer`` step (a metadata-only build step);
    ``run_config`` replaces the ``config`` section when given.
    """
    base = dict(base) if base else empty()
    rootfs = base.get("rootfs") or {}
    diff_ids = list(rootfs.get("diff_ids") or [])
    step: Config = {"created": created, "created_by": created_by}
    if author:
        step["author"] = author
    if comment:
        step["comment"] = comment
    if diff_id is None:
        step["empty_layer"] = True
    config: Config = {
        **base,
        "architecture": base.get("architecture") or host_arch(),
        "os": base.get("os") or "linux",
        "created": created,
        "config": dict(base.get("config") or {}) if run_config is None else run_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids + ([diff_id] if diff_id else [])},
        "history": [*(base.get("history") or []), step],
    }
    for key, value in (("author", author), ("container", container)):
        if value:
            config[key] = value
        else:
            config.pop(key, None)
    return dict(sorted(config.items()))


def encode(config: Config) -> bytes:
    """The config's bytes, whose sha256 is the image ID."""
    return compact(config)


def parse(raw: bytes, what: str) -> Config:
    """A config from an archive or a registry, checked enough that storing it cannot fail
    half-way (the diffIDs must be sha256 digests)."""
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"{what} is not valid JSON: {e}") from None
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or not all(
            isinstance(d, str) and d.startswith("sha256:") and HEX64.match(d[7:])
            for d in diff_ids):
        raise InvalidArgument(f"{what} has no valid rootfs.diff_ids")
    return config
