"""The bridge driver: puts network records (``model.py``) into the kernel (``netlink.py``).

The container runtime calls these around a container's life, in Docker's order: the
container's namespaces exist first (init waiting), ``endpoint_up`` plumbs each network
through ``/proc/<init>/ns/net``, then init goes on to exec. ``endpoint_down`` on stop;
``network_down`` on ``network rm``. All of them are safe to repeat.
"""

from __future__ import annotations

from ipaddress import IPv4Interface

from . import netlink
from .model import Endpoint, Network, mac_for


def network_up(net: Network) -> None:
    """Create the network's Linux bridge with its gateway address (bridge driver only)."""
    if net.Driver != "bridge":
        return
    netlink.ensure_bridge(net.Bridge, IPv4Interface(f"{net.Gateway}/{net.subnet.prefixlen}"),
                          mac_for(net.gateway))


def network_down(net: Network) -> None:
    if net.Driver == "bridge":
        netlink.remove_bridge(net.Bridge)


def endpoint_up(net: Network, ep: Endpoint, netns: str, *, ifname: str = "eth0",
                default_route: bool = True) -> None:
    """Give the namespace at ``netns`` its side of ``ep``.

    ``none`` gets only ``lo`` (up, as Docker's); ``host`` needs nothing, the container is in
    the host's namespace. ``default_route`` False for every network after the first: one
    default gateway per container, and none on ``--internal`` networks.
    """
    if net.Driver == "null":
        netlink.loopback_up(netns)
        return
    if net.Driver != "bridge":
        return
    gateway = net.gateway if default_route and not net.Internal else None

    def attach() -> None:
        netlink.attach(netns, host_ifname=ep.HostIfname, bridge=net.Bridge,
                       address=net.interface(ep), mac=ep.MacAddress, gateway=gateway,
                       ifname=ifname)

    try:
        attach()
    except netlink.NoBridge:  # gone (a host reboot) while the record stayed: made again
        network_up(net)
        attach()


def endpoint_down(ep: Endpoint) -> None:
    """Remove the endpoint's veth pair, if the kernel has not already (netns gone)."""
    if ep.HostIfname:
        netlink.detach(ep.HostIfname)
