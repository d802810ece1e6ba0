"""What one container asks of the network, and what it got while it runs.

Two small files in the container's state directory, beside its ``config.json``:

* ``networks.json`` — the networks it is to be on, in order, each with its
  ``--network-alias``\\ es and ``--ip`` (Docker's ``NetworkingConfig.EndpointsConfig``).
  Written at ``create``, changed by ``network connect``/``disconnect``; it outlives every
  start, so a restarted container gets its endpoints back.
* ``ports.json`` — the host ports actually bound for ``-p``/``-P`` (ephemeral ones
  included), written by the start before the container runs, removed when it stops; read
  only while the container runs, so one left by a crash misleads no one.

The leases themselves live in the network records (``model.py``) and only while the
container runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument
from ..fs.atomic import read_json, write_json
from .ports import Published

NETWORKS_FILE = "networks.json"
PORTS_FILE = "ports.json"


@dataclass(frozen=True)
class NetworkMode:
    """``--network``: a bridge network (``bridge`` or a user network), ``host``, ``none``,
    or ``container:NAME``. ``value`` is what ``HostConfig.NetworkMode`` shows."""

    value: str

    @classmethod
    def parse(cls, text: str) -> NetworkMode:
        if text in ("", "default"):
            return cls("bridge")
        if text.startswith("container:") and not text.removeprefix("container:"):
            raise InvalidArgument("invalid network mode: invalid container format "
                                  "container:<name|id>")
        return cls(text)

    @property
    def is_host(self) -> bool:
        return self.value == "host"

    @property
    def is_none(self) -> bool:
        return self.value == "none"

    @property
    def container(self) -> str:
        """The container whose namespace is shared (``container:NAME``), else ""."""
        return self.value.removeprefix("container:") if self.value.startswith(
            "container:") else ""

    @property
    def private(self) -> bool:
        """A network namespace of the container's own (everything but host and container:)."""
        return not self.is_host and not self.container


@dataclass
class EndpointConfig:
    """One network the container is to join when it starts."""

    NetworkID: str
    Name: str  # the network's name (networks are never renamed)
    Aliases: list[str] = field(default_factory=list)
    IPv4Address: str = ""  # --ip

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_endpoints(state_dir: Path) -> list[EndpointConfig]:
    try:
        return [EndpointConfig(**e) for e in read_json(state_dir / NETWORKS_FILE)]
    except FileNotFoundError:
        return []


def write_endpoints(state_dir: Path, endpoints: list[EndpointConfig]) -> None:
    write_json(state_dir / NETWORKS_FILE, [e.to_json() for e in endpoints])


def read_published(state_dir: Path) -> list[Published]:
    try:
        return [Published(**p) for p in read_json(state_dir / PORTS_FILE)]
    except FileNotFoundError:
        return []


def write_published(state_dir: Path, published: list[Published]) -> None:
    write_json(state_dir / PORTS_FILE, [asdict(p) for p in published])


def forget_published(state_dir: Path) -> bool:
    """Remove ``ports.json``; True if there was one."""
    try:
        (state_dir / PORTS_FILE).unlink()
        return True
    except FileNotFoundError:
        return False

