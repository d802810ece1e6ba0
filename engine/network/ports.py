"""Published ports: ``-p`` specs parsed as the Docker CLI parses them, and the shapes
Docker shows them in.

Three views of the same thing, as in Docker:

* ``HostConfig.PortBindings`` — what the user asked for (``HostIp``/``HostPort`` empty when
  not given): ``port_bindings``;
* ``NetworkSettings.Ports`` — what is actually bound while the container runs (the ephemeral
  port the kernel chose, ``0.0.0.0`` for "all"), exposed-only ports as ``null``:
  ``ports_settings``;
* the ``PORTS`` column of ``docker ps`` (``127.0.0.1:8080->80/tcp``): ``displayable_ports``
  over ``summary_ports``, and ``docker port``'s lines: ``port_lines``.

Host addresses default to ``0.0.0.0`` (IPv4 only; Docker also binds ``[::]``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument, NotFound

PROTOCOLS = ("tcp", "udp", "sctp")
ALL_IPV4 = "0.0.0.0"


class PortSpecError(InvalidArgument):
    """A malformed ``-p``: the Docker CLI rejects it before asking the daemon (exit 125)."""

    exit_code = 125
    daemon = False


class NoPublicPort(NotFound):
    """``docker port`` for a port that is not published: the CLI's own message."""

    daemon = False


@dataclass(frozen=True)
class PortBinding:
    """One container port of a ``-p`` spec, as requested."""

    container_port: int
    proto: str
    host_ip: str = ""  # "" = every IPv4 address
    host_port: str = ""  # "" = ephemeral; "8080"; "8000-8010" = any free port of the range

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"

    def host_ports(self) -> range | None:
        """The host ports to try, in order; None for an ephemeral port."""
        if not self.host_port or self.host_port == "0":
            return None
        start, _, end = self.host_port.partition("-")
        return range(int(start), int(end or start) + 1)


@dataclass(frozen=True)
class Published:
    """A port actually bound on the host for a running container."""

    container_port: int
    proto: str
    host_ip: str
    host_port: int

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


def _port_range(text: str) -> tuple[int, int] | None:
    start, dash, end = text.partition("-")
    if not start.isdigit() or (dash and not end.isdigit()):
        return None
    first, last = int(start), int(end) if dash else int(start)
    if last > 65535 or first > last:
        return None
    return first, last


def _split(spec: str) -> tuple[str, str, str]:
    """[IP:]HOST:CONTAINER, IPv6 IPs with colons included (go-connections' splitParts)."""
    parts = spec.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def parse_publish(spec: str) -> list[PortBinding]:
    """One ``-p``/``--publish`` value: ``80``, ``80/udp``, ``8080:80``, ``127.0.0.1:8080:80``,
    ``127.0.0.1::80``, ``8000-8001:80-81``, ``8000-8010:80``, ``[::1]:8080:80``."""
    ip, host, container = _split(spec)
    port, _, proto = container.partition("/")
    if not port:
        raise PortSpecError(f"no port specified: {spec}<empty>")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise PortSpecError(f"invalid proto: {proto}")
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise PortSpecError(f"invalid IP address: {ip}") from None
    ports = _port_range(port)
    if ports is None or ports[0] == 0:
        raise PortSpecError(f"invalid containerPort: {port}")
    first, last = ports
    host_first = host_last = 0
    if host:
        host_ports = _port_range(host)
        if host_ports is None:
            raise PortSpecError(f"invalid hostPort: {host}")
        host_first, host_last = host_ports
        # A host range beside a single container port is the range to pick one port from.
        if last - first != host_last - host_first and last != first:
            raise PortSpecError(f"invalid ranges specified for container and host Ports: "
                                f"{port} and {host}")
    out = []
    count = last - first + 1
    for i in range(count):
        host_port = ""
        if host:
            host_port = str(host_first + i)
            if count == 1 and host_first != host_last:
                host_port += f"-{host_last}"
        out.append(PortBinding(first + i, proto, ip, host_port))
    return out


def parse_exposed(spec: str) -> list[str]:
    """An ``EXPOSE``/``--expose`` value (``80``, ``80/udp``, ``8000-8002``) as port keys."""
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise PortSpecError(f"invalid proto: {proto}")
    ports = _port_range(port)
    if ports is None or ports[0] == 0:
        raise PortSpecError(f"invalid range format for --expose: {spec}")
    return [f"{p}/{proto}" for p in range(ports[0], ports[1] + 1)]


def publish_all(exposed: Iterable[str]) -> list[PortBinding]:
    """``-P``: every exposed port on an ephemeral host port."""
    out = []
    for key in exposed:
        port, _, proto = key.partition("/")
        out.append(PortBinding(int(port), proto or "tcp"))
    return out


def port_bindings(bindings: Iterable[PortBinding]) -> dict[str, list[dict[str, str]]]:
    """``HostConfig.PortBindings``: the request, per ``PORT/PROTO`` key."""
    out: dict[str, list[dict[str, str]]] = {}
    for b in bindings:
        out.setdefault(b.key, []).append({"HostIp": b.host_ip, "HostPort": b.host_port})
    return out


def ports_settings(exposed: Iterable[str], published: Iterable[Published],
                   ) -> dict[str, list[dict[str, str]] | None]:
    """``NetworkSettings.Ports``: bound ports, and exposed-only ones as ``None`` (null)."""
    out: dict[str, list[dict[str, str]] | None] = {key: None for key in exposed}
    for p in published:
        bound = out.get(p.key) or []
        bound.append({"HostIp": p.host_ip, "HostPort": str(p.host_port)})
        out[p.key] = bound
    return out


def summary_ports(settings: dict[str, list[dict[str, str]] | None]) -> list[dict[str, Any]]:
    """The ``Ports`` list of the container list API, from ``NetworkSettings.Ports``."""
    out: list[dict[str, Any]] = []
    for key, bound in settings.items():
        port, _, proto = key.partition("/")
        if not bound:
            out.append({"PrivatePort": int(port), "Type": proto})
            continue
        for b in bound:
            out.append({"IP": b["HostIp"], "PrivatePort": int(port),
                        "PublicPort": int(b["HostPort"]), "Type": proto})
    return out


def _join_host_port(ip: str, port: str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def displayable_ports(ports: list[dict[str, Any]]) -> str:
    """``docker ps``' PORTS column (the CLI's DisplayablePorts): ports published on the same
    number are grouped into ranges, ``0.0.0.0:8000-8001->8000-8001/tcp``; others listed as
    ``127.0.0.1:8080->80/tcp`` after them."""
    def order(p: dict[str, Any]) -> tuple[int, str, int, str]:
        return p["PrivatePort"], p.get("IP", ""), p.get("PublicPort", 0), p["Type"]

    groups: dict[str, list[int]] = {}  # key → [first, last], in creation order
    result: list[str] = []
    mappings: list[str] = []

    def form(key: str, first: int, last: int) -> str:
        ip, _, proto = key.rpartition("/")
        group = str(first) if first == last else f"{first}-{last}"
        if ip:
            group = f"{_join_host_port(ip, group)}->{group}"
        return f"{group}/{proto}"

    for p in sorted(ports, key=order):
        current, proto, ip = p["PrivatePort"], p["Type"], p.get("IP", "")
        key = proto
        if ip:
            if p["PublicPort"] != current:
                mappings.append(f"{_join_host_port(ip, str(p['PublicPort']))}->"
                                f"{current}/{proto}")
                continue
            key = f"{ip}/{proto}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]
        elif current == group[1] + 1:
            group[1] = current
        else:
            result.append(form(key, *group))
            groups[key] = [current, current]
    result.extend(form(key, first, last) for key, (first, last) in groups.items())
    return ", ".join(result + mappings)


def port_lines(settings: dict[str, list[dict[str, str]] | None], container: str,
               private: str | None = None) -> list[str]:
    """``docker port CONTAINER [PRIVATE_PORT[/PROTO]]``' lines."""
    def addr(b: dict[str, str]) -> str:
        return _join_host_port(b["HostIp"], b["HostPort"])

    if private is None:
        return [f"{key} -> {addr(b)}" for key in sorted(settings, key=_port_order)
                for b in settings[key] or []]
    key = private if "/" in private else f"{private}/tcp"
    bound = settings.get(key)
    if not bound:
        raise NoPublicPort(f"Error: No public port '{key}' published for {container}")
    return [addr(b) for b in bound]


def _port_order(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return int(port), proto
