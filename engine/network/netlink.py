"""Bridges, veth pairs, addresses and routes, through netlink (pyroute2), never ``ip``.

What a bridge network needs from the kernel, in Docker's and netavark's order:

* one Linux bridge per network on the host, holding the gateway address, with its MAC
  pinned: a bridge without an explicitly set address takes the lowest MAC among its ports
  and changes it as containers come and go, which costs every neighbour an ARP round (and,
  as netavark learned, long packet loss);
* one veth pair per container endpoint, created with its peer *born inside* the
  container's network namespace as ``eth0`` (no window where it sits on the host, no name
  clash with other containers' ``eth0``), the host end enslaved to the bridge and up;
* inside the namespace: ``lo`` up, the endpoint's address and MAC on ``eth0``, and a default
  route via the gateway, except on ``--internal`` networks.

Nothing here enables forwarding, NAT or firewall rules, or touches an interface it did not
name itself: containers on one bridge talk to each other at layer 2, and published ports go
through the userland proxy (``proxy.py``) instead of DNAT.

Every operation is idempotent and crash tolerant: removing what is already gone succeeds
(the kernel deletes both veth ends when a namespace dies), and re-attaching replaces a stale
host end left by a crash.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

from ..errors import Conflict, RuntimeFailure, Unsupported
from .netns import run_in_netns


@contextlib.contextmanager
def _without_package_init() -> Iterator[None]:
    """Import pyroute2's modules without its package ``__init__``, which imports every
    protocol it has (conntrack, ipdb, ndb, wireguard, nl80211 …) for the few RTNL calls
    made here: a third of the import's cost (160 → 110 ms on the 2-core VM). The bare
    package stands in only while these imports run; afterwards ``import pyroute2`` (a
    notebook user's) runs the real ``__init__``, over the submodules already loaded."""
    spec = None if "pyroute2" in sys.modules else importlib.util.find_spec("pyroute2")
    if spec is None or spec.submodule_search_locations is None:
        yield  # already imported (or absent: the import below then fails as it would)
        return
    sys.modules["pyroute2"] = importlib.util.module_from_spec(spec)
    try:
        yield
    finally:
        del sys.modules["pyroute2"]


with _without_package_init():
    from pyroute2.iproute.linux import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

MAIN_TABLE = 254
IFNAMSIZ = 15  # longest interface name the kernel accepts
IFF_UP = 0x1
LOOPBACK_INDEX = 1  # every network namespace registers its lo first (LOOPBACK_IFINDEX)


class NetlinkFailure(RuntimeFailure):
    """The kernel refused a network change: names the object and the kernel's reason."""


class NoBridge(NetlinkFailure):
    """``attach`` found no bridge of that name (the host rebooted since the network was
    made, or someone removed it)."""


@contextmanager
def _netlink(netns: str | None = None) -> Iterator[IPRoute]:
    """A netlink socket on the host, or inside the namespace at path ``netns``.

    The namespace's socket is born there on a short-lived thread (``netns.run_in_netns``)
    and handed to pyroute2 by descriptor: ``IPRoute(netns=…)`` would fork the caller to do
    the same, which costs ~20 ms instead of ~2 and is unsafe once the monitor has threads.
    """
    if netns is None:
        ipr = IPRoute()
    else:
        ns_fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sock = run_in_netns(ns_fd, lambda: socket.socket(
                socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE))
        finally:
            os.close(ns_fd)
        ipr = IPRoute(fileno=sock.detach())
    try:
        yield ipr
    finally:
        ipr.close()


def _fail(what: str, e: NetlinkError | OSError) -> Exception:
    code = e.code if isinstance(e, NetlinkError) else (e.errno or 0)
    if code == errno.EPERM:
        return Unsupported(f"{what}: operation not permitted (bridge networking needs root "
                           "or the store's user namespace)")
    return NetlinkFailure(f"{what}: {os.strerror(code)}")


def _index(ipr: IPRoute, ifname: str) -> int | None:
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


def _link_kind(link: Any) -> str | None:
    info = link.get_attr("IFLA_LINKINFO")
    return info.get_attr("IFLA_INFO_KIND") if info is not None else None


def host_prefixes() -> list[IPv4Network]:
    """Subnets the host already uses (its routes and its addresses), for IPAM to avoid.

    A bridge network overlapping one of them would shadow part of the host's own network.
    The default route and loopback are not "used" in that sense and are left out.
    """
    out: set[IPv4Network] = set()
    with _netlink() as ipr:
        for route in ipr.get_routes(family=2, table=MAIN_TABLE):
            dst = route.get_attr("RTA_DST")
            if dst is not None and route["dst_len"] > 0:
                out.add(IPv4Network(f"{dst}/{route['dst_len']}", strict=False))
        for addr in ipr.get_addr(family=2):
            net = IPv4Interface(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}").network
            if not net.is_loopback:
                out.add(net)
    return sorted(out)


def links_named(prefix: str, netns: str | None = None) -> list[tuple[str, str | None]]:
    """Every interface whose name starts with ``prefix``, with its kind (bridge, veth …):
    what a store's clean-up considers its own."""
    try:
        with _netlink(netns) as ipr:
            out = []
            for link in ipr.get_links():
                name = link.get_attr("IFLA_IFNAME") or ""
                if name.startswith(prefix):
                    info = link.get_attr("IFLA_LINKINFO")
                    out.append((name, info.get_attr("IFLA_INFO_KIND") if info else None))
            return out
    except (NetlinkError, OSError) as e:
        raise _fail("cannot list interfaces", e) from None


def free_ifname(netns: str, stem: str = "eth") -> str:
    """The first ``eth<N>`` not taken inside ``netns``: a network connected to a running
    container gets the next interface, as Docker's ``eth1``."""
    with _netlink(netns) as ipr:
        n = 0
        while _index(ipr, f"{stem}{n}") is not None:
            n += 1
        return f"{stem}{n}"


def link_exists(ifname: str, netns: str | None = None) -> bool:
    with _netlink(netns) as ipr:
        return _index(ipr, ifname) is not None


def ensure_bridge(name: str, gateway: IPv4Interface, mac: str) -> None:
    """Create (or complete) bridge ``name`` holding ``gateway`` with a pinned ``mac``, up.

    Changes only what differs, so the common case (every container start) is reads only.
    """
    try:
        with _netlink() as ipr:
            try:
                link = ipr.link("get", ifname=name)[0]
            except NetlinkError as e:
                if e.code != errno.ENODEV:
                    raise
                ipr.link("add", ifname=name, kind="bridge", address=mac)
                link = ipr.link("get", ifname=name)[0]
            index = link["index"]
            if _link_kind(link) != "bridge":
                raise Conflict(f"interface {name} exists and is not a bridge: "
                               "remove it or choose another bridge name prefix")
            if link.get_attr("IFLA_ADDRESS") != mac:
                ipr.link("set", index=index, address=mac)
            held = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"])
                    for a in ipr.get_addr(family=2, index=index)}
            if (str(gateway.ip), gateway.network.prefixlen) not in held:
                ipr.addr("add", index=index, address=str(gateway.ip),
                         prefixlen=gateway.network.prefixlen)
            if not link["flags"] & IFF_UP:
                ipr.link("set", index=index, state="up")
    except (NetlinkError, OSError) as e:
        raise _fail(f"cannot set up bridge {name}", e) from None


def _remove_link(name: str, kind: str, what: str) -> None:
    """Delete link ``name`` if it exists and is of ``kind`` (never anything else). Gone at
    any point is fine: a veth whose namespace died is being removed by the kernel."""
    try:
        with _netlink() as ipr:
            link = ipr.link("get", ifname=name)[0]
            if _link_kind(link) != kind:
                return
            ipr.link("del", index=link["index"])
    except NetlinkError as e:
        if e.code != errno.ENODEV:
            raise _fail(f"cannot remove {what} {name}", e) from None
    except OSError as e:
        raise _fail(f"cannot remove {what} {name}", e) from None


def remove_bridge(name: str) -> None:
    """Delete bridge ``name`` if it exists (and is a bridge: never anything else)."""
    _remove_link(name, "bridge", "bridge")


def loopback_up(netns: str) -> None:
    """Bring ``lo`` up inside ``netns``: every container has it (``--network none`` too),
    and the DNS responder binds 127.0.0.11 there."""
    try:
        with _netlink(netns) as ipr:
            ipr.link("set", index=LOOPBACK_INDEX, state="up")
    except (NetlinkError, OSError) as e:
        raise _fail(f"cannot bring up lo in {netns}", e) from None


def attach(netns: str, *, host_ifname: str, bridge: str, address: IPv4Interface, mac: str,
           gateway: IPv4Address | None, ifname: str = "eth0") -> None:
    """Connect the namespace at path ``netns`` to ``bridge`` as ``ifname`` with ``address``.

    ``gateway`` None means no default route (``--internal``, or a second network whose
    gateway is not the container's default). On any failure the pair is removed again, so
    a failed attach leaves nothing behind.

    Each netlink request costs ~0.5-1 ms through pyroute2 here, so the host end is made
    in one (enslaved and up as it is created) and a stale one is looked for only when the
    name turns out to be taken.
    """
    if len(host_ifname) > IFNAMSIZ:
        raise NetlinkFailure(f"interface name {host_ifname} is longer than {IFNAMSIZ}")
    try:
        with _netlink() as ipr:
            br = _index(ipr, bridge)
            if br is None:
                raise NoBridge(f"bridge {bridge} does not exist")
            ns_fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _add_pair(ipr, host_ifname, br, ifname, ns_fd, mac)
            finally:
                os.close(ns_fd)
        with _netlink(netns) as inside:
            inside.link("set", index=LOOPBACK_INDEX, state="up")
            eth = _index(inside, ifname)
            inside.addr("add", index=eth, address=str(address.ip),
                        prefixlen=address.network.prefixlen)
            inside.link("set", index=eth, state="up")
            if gateway is not None:
                inside.route("add", dst="0.0.0.0/0", gateway=str(gateway))
    except (NetlinkError, OSError, NetlinkFailure) as e:
        detach(host_ifname)
        if isinstance(e, NetlinkFailure):
            raise
        raise _fail(f"cannot attach {ifname} ({address}) to {bridge}", e) from None


def _add_pair(ipr: IPRoute, host_ifname: str, bridge: int, ifname: str, ns_fd: int,
              mac: str) -> None:
    """The veth pair: the host end enslaved to ``bridge`` and up, the peer born in the
    namespace at ``ns_fd``. A host end of that name left by a crashed attempt is removed
    (its peer goes with it) and the pair made again."""
    for again in (True, False):
        try:
            ipr.link("add", ifname=host_ifname, kind="veth", master=bridge, state="up",
                     peer={"ifname": ifname, "net_ns_fd": ns_fd, "address": mac})
            return
        except NetlinkError as e:
            if e.code != errno.EEXIST or not again:
                raise
            detach(host_ifname)


def detach(host_ifname: str) -> None:
    """Remove an endpoint's veth pair by its host end; already gone is fine."""
    _remove_link(host_ifname, "veth", "interface")

