"""IPv4 address management: which subnet a network gets, its gateway, and each endpoint's
address.

Pools follow Docker's defaults (``ipamutils.localScopeDefaultNetworks``), so addresses in
tutorials look the same here: 172.17.0.0/16 for the default bridge, then 172.18/16, 172.19/16
… 172.31/16, then 192.168.0.0/16 cut into /20s. A pool is skipped when it overlaps a subnet
an existing network holds or one the host itself uses (its routes and addresses), as Docker
does, so a bridge never shadows the machine's own network.

Leases are the endpoints' addresses recorded in the network's record (``model.py``): the
caller passes the addresses held, these functions never keep state of their own. An
address is never handed out while held; when freed, the lowest free address is reused, as
Docker's local allocator does.

Pure functions on ``ipaddress`` values: no privileges, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from ipaddress import (
    AddressValueError,
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    NetmaskValueError,
)

from ..errors import Conflict, InvalidArgument, Unsupported

# (base, size): every /size inside base, in order — Docker's local-scope default pools.
DEFAULT_POOLS: tuple[tuple[IPv4Network, int], ...] = (
    (IPv4Network("172.17.0.0/16"), 16),
    (IPv4Network("172.18.0.0/16"), 16),
    (IPv4Network("172.19.0.0/16"), 16),
    (IPv4Network("172.20.0.0/14"), 16),
    (IPv4Network("172.24.0.0/14"), 16),
    (IPv4Network("172.28.0.0/14"), 16),
    (IPv4Network("192.168.0.0/16"), 20),
)

MAX_PREFIXLEN = 30  # a /30 holds a gateway and one container; /31 and /32 hold no container


def candidate_subnets() -> Iterator[IPv4Network]:
    """Every subnet the default pools offer, in Docker's order."""
    for base, size in DEFAULT_POOLS:
        yield from base.subnets(new_prefix=size)


def pick_subnet(taken: Iterable[IPv4Network]) -> IPv4Network:
    """The first default-pool subnet overlapping none of ``taken``."""
    used = list(taken)
    for subnet in candidate_subnets():
        if not any(subnet.overlaps(t) for t in used):
            return subnet
    raise Conflict("all predefined address pools have been fully subnetted")


def parse_subnet(text: str) -> IPv4Network:
    """A ``--subnet`` value, with Docker's complaint when host bits are set."""
    if ":" in text:
        raise Unsupported(f"invalid subnet {text}: LayerLab networks are IPv4 only")
    try:
        given = IPv4Interface(text) if "/" in text else None
    except (AddressValueError, NetmaskValueError, ValueError):
        given = None
    if given is None:
        raise InvalidArgument(f"invalid CIDR address: {text}")
    loose = given.network
    if given.ip != loose.network_address:
        raise InvalidArgument(f"invalid subnet {text}: it should be {loose}")
    if loose.prefixlen > MAX_PREFIXLEN:
        raise InvalidArgument(f"invalid subnet {text}: too small for a gateway and a "
                              f"container (use a /{MAX_PREFIXLEN} or larger)")
    return loose


def parse_address(text: str, what: str = "IPv4 address") -> IPv4Address:
    try:
        return IPv4Address(text)
    except AddressValueError:
        raise InvalidArgument(f"invalid {what}: {text}") from None


def check_free(subnet: IPv4Network, taken: Iterable[IPv4Network]) -> None:
    """A user-chosen ``--subnet`` must not overlap another network's (Docker's wording)."""
    if any(subnet.overlaps(t) for t in taken):
        raise Conflict("invalid pool request: Pool overlaps with other one on this address "
                       "space")


def gateway_for(subnet: IPv4Network, requested: str | None) -> IPv4Address:
    """The network's gateway: ``--gateway`` if valid, else the subnet's first host address."""
    if requested is None:
        return subnet.network_address + 1
    gw = parse_address(requested, "gateway")
    if gw not in subnet:
        raise InvalidArgument(f"invalid network config: invalid gateway {gw}: parent "
                              f"subnet {subnet} doesn't contain this address")
    if gw in (subnet.network_address, subnet.broadcast_address):
        raise InvalidArgument(f"invalid network config: invalid gateway {gw}: it is the "
                              f"network or broadcast address of {subnet}")
    return gw


def allocate(subnet: IPv4Network, gateway: IPv4Address, held: Collection[IPv4Address],
             requested: str | None = None, network_name: str = "") -> IPv4Address:
    """An address for a new endpoint: ``requested`` (``--ip``) if it is free, else the
    lowest host address that is neither the gateway nor held by another endpoint."""
    if requested is not None:
        ip = parse_address(requested)
        if ip not in subnet:
            raise InvalidArgument(f"invalid endpoint settings: no configured subnet contains "
                                  f"IP address {ip}")
        if ip in (subnet.network_address, subnet.broadcast_address):
            raise InvalidArgument(f"invalid address {ip}: it is the network or broadcast "
                                  f"address of {subnet}")
        if ip == gateway or ip in held:
            raise Conflict("Address already in use")
        return ip
    for ip in subnet.hosts():
        if ip != gateway and ip not in held:
            return ip
    raise Conflict(f"no available IPv4 addresses on this network's address pools: "
                   f"{network_name} ({subnet})")
