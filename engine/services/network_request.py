"""The network flags of ``create``/``run``, a record of their own: ``CreateOptions`` holds
one, and a command that only reads or signals containers (``pause``, ``stop``) imports the
container service without the network stack ``services.networks`` loads."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NetworkRequest:
    """The network flags of ``create``/``run``."""

    networks: list[str] = field(default_factory=list)  # --network (first = the mode)
    ip: str = ""
    aliases: list[str] = field(default_factory=list)
    publish: list[str] = field(default_factory=list)  # -p specs
    publish_all: bool = False
    expose: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_option: list[str] = field(default_factory=list)
    add_host: list[str] = field(default_factory=list)
