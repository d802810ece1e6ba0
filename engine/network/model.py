"""Network records: what ``docker network ls/inspect`` show and what IPAM leases live in.

One JSON file per network (``<dir>/<ID>.json``), replaced atomically, every change made under
the directory's own lock (``<dir>/.lock``), so two ``docker run`` at once never hand out the
same address. Take that lock *after* the engine's store lock, never before it.

An endpoint (a container attached to a network) *is* the lease: its address is held exactly
as long as the endpoint is in the record, so removing the endpoint releases the address in
the same atomic write.

The built-in networks are Docker's: ``bridge`` (the default, a Linux bridge named
``<prefix>br0`` — LayerLab's ``docker0``), ``host`` and ``none``; user networks get bridges
named ``<prefix>br-<ID…>`` (Docker's ``br-<ID>``) and their endpoints host-side veth ends
named ``<prefix>veth<endpoint ID…>``. The prefix (default ``ll``) is a parameter so tests
use one of their own and can prove they left no interface behind.

This module only keeps records; ``bridge.py`` puts them into the kernel.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

from ..errors import Conflict, InvalidArgument, NotFound
from ..fs.atomic import locked, read_json, write_json
from . import ipam

DEFAULT_BRIDGE = "bridge"
BUILTIN_DRIVERS = {"bridge": "bridge", "host": "host", "none": "null"}
PREFIX = re.compile(r"^[a-z][a-z0-9]{0,4}$")
IFNAMSIZ = 15


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _new_id() -> str:
    return os.urandom(32).hex()  # secrets.token_hex(32), without importing secrets


@dataclass
class Endpoint:
    """A container's attachment to one network; for bridge networks, also its lease."""

    ContainerID: str
    Name: str  # the container's name (Docker's endpoint name)
    EndpointID: str
    Aliases: list[str] = field(default_factory=list)
    IPv4Address: str = ""  # the lease; "" on host/none
    MacAddress: str = ""
    HostIfname: str = ""  # host end of the veth pair; "" on host/none
    RequestedIPv4: str = ""  # ``--ip`` as given, shown as IPAMConfig in inspect

    def dns_names(self) -> list[str]:
        """Names this endpoint answers to on a user-defined network (Docker's DNSNames)."""
        return [self.Name, *self.Aliases, self.ContainerID[:12]]


@dataclass
class Network:
    ID: str
    Name: str
    Driver: str  # bridge | host | null
    Created: str
    Subnet: str = ""
    Gateway: str = ""
    Internal: bool = False
    Labels: dict[str, str] = field(default_factory=dict)
    Options: dict[str, str] = field(default_factory=dict)
    Bridge: str = ""  # the Linux bridge's name, bridge driver only
    Endpoints: dict[str, Endpoint] = field(default_factory=dict)  # container ID → endpoint

    @property
    def builtin(self) -> bool:
        return self.Name in BUILTIN_DRIVERS

    @property
    def user_defined(self) -> bool:
        """Docker's IsUserDefined: only these get names (DNS), aliases and ``--ip``."""
        return not self.builtin

    @property
    def subnet(self) -> IPv4Network:
        return IPv4Network(self.Subnet)

    @property
    def gateway(self) -> IPv4Address:
        return IPv4Address(self.Gateway)

    def interface(self, ep: Endpoint) -> IPv4Interface:
        """The endpoint's address with the network's prefix length, as ``eth0`` carries it."""
        return IPv4Interface(f"{ep.IPv4Address}/{self.subnet.prefixlen}")

    def held(self) -> set[IPv4Address]:
        return {IPv4Address(ep.IPv4Address) for ep in self.Endpoints.values() if ep.IPv4Address}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Network:
        eps = {cid: Endpoint(**ep) for cid, ep in data.pop("Endpoints", {}).items()}
        return cls(**data, Endpoints=eps)

    def inspect(self) -> dict[str, Any]:
        """``docker network inspect``'s object for this network."""
        config = [{"Subnet": self.Subnet, "Gateway": self.Gateway}] if self.Subnet else []
        return {
            "Name": self.Name,
            "Id": self.ID,
            "Created": self.Created,
            "Scope": "local",
            "Driver": self.Driver,
            "EnableIPv4": True,
            "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None if self.builtin else {},
                     "Config": config},
            "Internal": self.Internal,
            "Attachable": False,
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": {
                cid: {
                    "Name": ep.Name,
                    "EndpointID": ep.EndpointID,
                    "MacAddress": ep.MacAddress,
                    "IPv4Address": str(self.interface(ep)) if ep.IPv4Address else "",
                    "IPv6Address": "",
                }
                for cid, ep in self.Endpoints.items()
            },
            "Options": dict(self.Options),
            "Labels": dict(self.Labels),
        }

    def endpoint_settings(self, ep: Endpoint) -> dict[str, Any]:
        """``NetworkSettings.Networks[<name>]`` of a container's inspect."""
        named = self.user_defined
        return {
            "IPAMConfig": {"IPv4Address": ep.RequestedIPv4} if ep.RequestedIPv4 else None,
            "Links": None,
            "Aliases": list(ep.Aliases) if named else None,
            "MacAddress": ep.MacAddress,
            "DriverOpts": None,
            "GwPriority": 0,
            "NetworkID": self.ID,
            "EndpointID": ep.EndpointID,
            "Gateway": self.Gateway if ep.IPv4Address else "",
            "IPAddress": ep.IPv4Address,
            "IPPrefixLen": self.subnet.prefixlen if ep.IPv4Address else 0,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DNSNames": ep.dns_names() if named else None,
        }


def network_settings(attachments: Iterable[tuple[Network, Endpoint]],
                     ports: dict[str, Any] | None = None) -> dict[str, Any]:
    """A container's ``NetworkSettings``; ``ports`` is ``ports.ports_settings``' map.

    As in Docker, the top-level ``IPAddress``/``Gateway``/``MacAddress``… are the default
    bridge's (legacy fields, so ``{{.NetworkSettings.IPAddress}}`` works there) and empty
    when the container is only on other networks; ``Networks`` holds every attachment.
    """
    networks = {net.Name: net.endpoint_settings(ep) for net, ep in attachments}
    default = networks.get(DEFAULT_BRIDGE)
    return {
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": "",
        "Ports": ports or {},
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": default["EndpointID"] if default else "",
        "Gateway": default["Gateway"] if default else "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": default["IPAddress"] if default else "",
        "IPPrefixLen": default["IPPrefixLen"] if default else 0,
        "IPv6Gateway": "",
        "MacAddress": default["MacAddress"] if default else "",
        "Networks": networks,
    }


def _default_host_prefixes() -> list[IPv4Network]:
    """The host's IPv4 routes (its addresses' subnets among them), read from
    ``/proc/net/route``: picking a subnet at ``create`` needs no netlink library, and works
    for any user. Little-endian hex, as the kernel prints it; the default route left out."""
    out: set[IPv4Network] = set()
    try:
        with open("/proc/net/route") as f:
            rows = [line.split() for line in f.readlines()[1:]]
    except OSError:
        return []
    for row in rows:
        if len(row) < 8:
            continue
        dst = IPv4Address(int.from_bytes(bytes.fromhex(row[1]), "little"))
        mask = IPv4Address(int.from_bytes(bytes.fromhex(row[7]), "little"))
        net = IPv4Network(f"{dst}/{mask}", strict=False)
        if net.prefixlen > 0 and not net.is_loopback:
            out.add(net)
    return sorted(out)


class NetworkStore:
    """The network records of one engine store, in ``directory``.

    ``host_prefixes`` lists the subnets the host (or, rootless, the namespace the bridges
    live in) already routes; automatic subnets avoid them.
    """

    def __init__(self, directory: Path, bridge_prefix: str = "ll",
                 host_prefixes: Callable[[], Iterable[IPv4Network]] = _default_host_prefixes,
                 ) -> None:
        if not PREFIX.match(bridge_prefix):
            raise InvalidArgument(f"invalid bridge name prefix {bridge_prefix!r}: 1 to 5 "
                                  "lowercase letters or digits, starting with a letter")
        self.dir = directory
        self.prefix = bridge_prefix
        self.host_prefixes = host_prefixes

    # --- names the kernel sees -------------------------------------------------------

    @property
    def default_bridge_name(self) -> str:
        return f"{self.prefix}br0"

    def bridge_name(self, network_id: str) -> str:
        head = f"{self.prefix}br-"
        return head + network_id[: IFNAMSIZ - len(head)]

    def veth_name(self, endpoint_id: str) -> str:
        head = f"{self.prefix}veth"
        return head + endpoint_id[: IFNAMSIZ - len(head)]

    # --- storage -----------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with locked(self.dir / ".lock"):
            yield

    def _path(self, network_id: str) -> Path:
        return self.dir / f"{network_id}.json"

    def _save(self, net: Network, durable: bool = True) -> None:
        """``durable=False`` for endpoint changes: leases are a running container's, and
        after a power loss none runs (recovery releases the leases of dead monitors), so
        a start and an exit need not wait for the disk twice."""
        write_json(self._path(net.ID), net.to_json(), durable=durable)

    def all(self) -> list[Network]:
        """Every network, sorted by name as ``docker network ls`` lists them."""
        if not self.dir.is_dir():
            return []
        nets = []
        for path in self.dir.glob("*.json"):
            try:
                nets.append(Network.from_json(read_json(path)))
            except FileNotFoundError:  # removed by a concurrent ``network rm``
                continue
        return sorted(nets, key=lambda n: n.Name)

    def get(self, ref: str) -> Network:
        """By full ID, then by name, then by unique ID prefix (Docker's FindNetwork)."""
        nets = self.all()
        exact = {n.ID: n for n in nets}.get(ref) or {n.Name: n for n in nets}.get(ref)
        if exact is not None:
            return exact
        by_prefix = [n for n in nets if ref and n.ID.startswith(ref)]
        if len(by_prefix) > 1:
            raise InvalidArgument(f"network {ref} is ambiguous ({len(by_prefix)} matches "
                                  "found based on ID prefix)")
        if not by_prefix:
            raise NotFound(f"network {ref} not found")
        return by_prefix[0]

    def _taken(self, nets: Iterable[Network]) -> list[IPv4Network]:
        return [n.subnet for n in nets if n.Subnet]

    # --- networks ----------------------------------------------------------------------

    def ensure_builtins(self, default_subnet: str | None = None) -> list[Network]:
        """Create whichever of ``bridge``, ``host`` and ``none`` is missing; idempotent.

        ``default_subnet`` is the default bridge's subnet (Docker's ``--bip``, as a subnet);
        without it the first free default pool, avoiding the host's own subnets.
        """
        with self._locked():
            nets = self.all()
            have = {n.Name for n in nets}
            made = []
            for name, driver in BUILTIN_DRIVERS.items():
                if name in have:
                    continue
                net = Network(ID=_new_id(), Name=name, Driver=driver, Created=_now())
                if driver == "bridge":
                    if default_subnet is not None:
                        subnet = ipam.parse_subnet(default_subnet)
                        ipam.check_free(subnet, self._taken(nets))
                    else:
                        subnet = ipam.pick_subnet([*self._taken(nets), *self.host_prefixes()])
                    net.Subnet = str(subnet)
                    net.Gateway = str(ipam.gateway_for(subnet, None))
                    net.Bridge = self.default_bridge_name
                    net.Options = {
                        "com.docker.network.bridge.default_bridge": "true",
                        "com.docker.network.bridge.enable_icc": "true",
                        "com.docker.network.bridge.enable_ip_masquerade": "false",
                        "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                        "com.docker.network.bridge.name": net.Bridge,
                        "com.docker.network.driver.mtu": "1500",
                    }
                self._save(net)
                nets.append(net)
                made.append(net)
            return made

    def create(self, name: str, *, driver: str = "bridge", subnet: str | None = None,
               gateway: str | None = None, internal: bool = False,
               labels: dict[str, str] | None = None) -> Network:
        """``docker network create``: a bridge network with its own subnet and gateway."""
        if not name:
            raise InvalidArgument("network name cannot be empty")
        if name in BUILTIN_DRIVERS:
            raise Conflict(f"operation is not permitted on predefined {name} network")
        if driver in ("host", "null"):
            raise Conflict(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NotFound(f'plugin "{driver}" not found')
        if gateway is not None and subnet is None:
            raise InvalidArgument("every ip-range or gateway must have a corresponding subnet")
        with self._locked():
            nets = self.all()
            if any(n.Name == name for n in nets):
                raise Conflict(f"network with name {name} already exists")
            if subnet is not None:
                net_subnet = ipam.parse_subnet(subnet)
                ipam.check_free(net_subnet, self._taken(nets))
            else:
                net_subnet = ipam.pick_subnet([*self._taken(nets), *self.host_prefixes()])
            gw = ipam.gateway_for(net_subnet, gateway)
            network_id = _new_id()
            net = Network(ID=network_id, Name=name, Driver="bridge", Created=_now(),
                          Subnet=str(net_subnet), Gateway=str(gw), Internal=internal,
                          Labels=dict(labels or {}), Bridge=self.bridge_name(network_id))
            self._save(net)
            return net

    def remove(self, ref: str) -> Network:
        """``docker network rm``: refuses built-ins and networks with endpoints; returns the
        record so the caller can remove its bridge."""
        with self._locked():
            net = self.get(ref)
            if net.builtin:
                raise Conflict(f"{net.Name} is a pre-defined network and cannot be removed")
            if net.Endpoints:
                eps = ", ".join(f'name:"{ep.Name}" id:"{ep.EndpointID[:12]}"'
                                for ep in net.Endpoints.values())
                raise Conflict(f"error while removing network: network {net.Name} has "
                               f"active endpoints ({eps})")
            self._path(net.ID).unlink()
            return net

    def prune(self, select: Callable[[str, dict[str, str]], bool] | None = None,
              ) -> list[Network]:
        """``docker network prune``: remove every user network without endpoints (that
        ``select(created, labels)`` lets go: a prune ``--filter``)."""
        with self._locked():
            gone = [n for n in self.all() if n.user_defined and not n.Endpoints
                    and (select is None or select(n.Created, n.Labels))]
            for net in gone:
                self._path(net.ID).unlink()
            return gone

    # --- endpoints ---------------------------------------------------------------------

    def connect(self, ref: str, container_id: str, name: str, *,
                aliases: Iterable[str] = (), ip: str | None = None) -> tuple[Network, Endpoint]:
        """Attach a container: record its endpoint and, on bridge networks, lease it an
        address (``ip`` if given and free) and the MAC Docker derives from it."""
        with self._locked():
            net = self.get(ref)
            alias_list = list(dict.fromkeys(aliases))
            if not net.user_defined and ip is not None:
                raise InvalidArgument("invalid endpoint settings: user-specified IP address is "
                                      "supported on user-defined networks only")
            if not net.user_defined and alias_list:
                raise InvalidArgument("invalid endpoint settings: network-scoped aliases are "
                                      "only supported for user-defined networks")
            if container_id in net.Endpoints or any(
                    ep.Name == name for ep in net.Endpoints.values()):
                raise Conflict(f"endpoint with name {name} already exists in network "
                               f"{net.Name}")
            ep = Endpoint(ContainerID=container_id, Name=name, EndpointID=_new_id(),
                          Aliases=alias_list, RequestedIPv4=ip or "")
            if net.Driver == "bridge":
                addr = ipam.allocate(net.subnet, net.gateway, net.held(), ip, net.Name)
                ep.IPv4Address = str(addr)
                ep.MacAddress = mac_for(addr)
                ep.HostIfname = self.veth_name(ep.EndpointID)
            net.Endpoints[container_id] = ep
            self._save(net, durable=False)
            return net, ep

    def disconnect(self, ref: str, container_id: str) -> tuple[Network, Endpoint]:
        """Detach a container, releasing its address; returns what the kernel side must
        undo (the endpoint's veth)."""
        with self._locked():
            net = self.get(ref)
            ep = net.Endpoints.pop(container_id, None)
            if ep is None:
                raise NotFound(f"container {container_id} is not connected to network "
                               f"{net.Name}")
            self._save(net, durable=False)
            return net, ep

    def disconnect_all(self, container_id: str) -> list[tuple[Network, Endpoint]]:
        """Release every endpoint of a container (on stop, rm, or after a monitor crash)."""
        with self._locked():
            out = []
            for net in self.all():
                ep = net.Endpoints.pop(container_id, None)
                if ep is not None:
                    self._save(net, durable=False)
                    out.append((net, ep))
            return out

    def attachments(self, container_id: str) -> list[tuple[Network, Endpoint]]:
        """The networks a container is on, with its endpoint in each."""
        return [(n, n.Endpoints[container_id]) for n in self.all()
                if container_id in n.Endpoints]


def mac_for(ip: IPv4Address) -> str:
    """Docker's MAC for an address: ``02:42`` (locally administered) then the 4 IPv4 bytes.

    Deterministic, so a restarted container keeps its MAC with its address, and unique
    wherever addresses are.
    """
    return "02:42:" + ":".join(f"{b:02x}" for b in ip.packed)
