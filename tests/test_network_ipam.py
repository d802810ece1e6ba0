"""IPAM: Docker's default pools, subnet/gateway validation, leases. No privileges needed."""

from __future__ import annotations

import json
import subprocess
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest
from layerlab.engine.errors import Conflict, InvalidArgument, Unsupported
from layerlab.engine.network import ipam, netlink


def test_default_pools_are_dockers_in_order() -> None:
    subnets = list(ipam.candidate_subnets())
    assert [str(s) for s in subnets[:3]] == ["172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16"]
    sixteens = [s for s in subnets if s.prefixlen == 16]
    assert str(sixteens[-1]) == "172.31.0.0/16" and len(sixteens) == 15
    twenties = [s for s in subnets if s.prefixlen == 20]
    assert str(twenties[0]) == "192.168.0.0/20" and str(twenties[-1]) == "192.168.240.0/20"


def test_pick_skips_taken_and_overlapping_subnets() -> None:
    assert ipam.pick_subnet([]) == IPv4Network("172.17.0.0/16")
    # a host route inside 172.17/16 and a network on 172.18/16 push the pick to 172.19/16
    taken = [IPv4Network("172.17.5.0/24"), IPv4Network("172.18.0.0/16")]
    assert ipam.pick_subnet(taken) == IPv4Network("172.19.0.0/16")
    # a wide host route covering all of 172.16/12 sends it to 192.168.0.0/20
    assert ipam.pick_subnet([IPv4Network("172.16.0.0/12")]) == IPv4Network("192.168.0.0/20")
    with pytest.raises(Conflict, match="fully subnetted"):
        ipam.pick_subnet([IPv4Network("172.16.0.0/12"), IPv4Network("192.168.0.0/16")])


def _iproute2_prefixes() -> set[IPv4Network]:
    routes = json.loads(subprocess.run(["ip", "-j", "-4", "route", "show", "table", "main"],
                                       capture_output=True, check=True).stdout)
    addrs = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True,
                                      check=True).stdout)
    out = {IPv4Network(r["dst"] if "/" in r["dst"] else r["dst"] + "/32")
           for r in routes if r["dst"] != "default"}
    out |= {IPv4Interface(f"{a['local']}/{a['prefixlen']}").network
            for link in addrs for a in link["addr_info"]}
    return {n for n in out if not n.is_loopback}


def test_host_prefixes_are_the_hosts_routes_and_addresses() -> None:
    """Compared with what iproute2 reports (observation only); read before and after, as
    other tests on this machine may add or remove their bridges meanwhile."""
    before = _iproute2_prefixes()
    ours = set(netlink.host_prefixes())
    after = _iproute2_prefixes()
    assert before & after <= ours <= before | after
    picked = ipam.pick_subnet(ours)
    assert not any(picked.overlaps(n) for n in ours)


@pytest.mark.parametrize(("text", "message"), [
    ("10.1.1.1/16", "invalid subnet 10.1.1.1/16: it should be 10.1.0.0/16"),
    ("10.1.0.0", "invalid CIDR address: 10.1.0.0"),
    ("banana", "invalid CIDR address: banana"),
    ("10.1.0.0/33", "invalid CIDR address: 10.1.0.0/33"),
    ("10.1.0.0/31", "too small for a gateway and a container"),
])
def test_bad_subnets(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        ipam.parse_subnet(text)


def test_ipv6_subnet_is_refused_clearly() -> None:
    with pytest.raises(Unsupported, match="IPv4 only"):
        ipam.parse_subnet("fd00::/64")


def test_overlapping_subnet_has_dockers_message() -> None:
    with pytest.raises(Conflict, match="Pool overlaps with other one on this address space"):
        ipam.check_free(IPv4Network("10.9.0.0/24"), [IPv4Network("10.9.0.0/16")])
    ipam.check_free(IPv4Network("10.9.1.0/24"), [IPv4Network("10.9.0.0/24")])


def test_gateway_defaults_to_first_host_and_is_validated() -> None:
    net = IPv4Network("10.9.0.0/24")
    assert ipam.gateway_for(net, None) == IPv4Address("10.9.0.1")
    assert ipam.gateway_for(net, "10.9.0.254") == IPv4Address("10.9.0.254")
    with pytest.raises(InvalidArgument, match=r"parent subnet 10\.9\.0\.0/24 doesn.t contain"):
        ipam.gateway_for(net, "10.8.0.1")
    with pytest.raises(InvalidArgument, match="network or broadcast"):
        ipam.gateway_for(net, "10.9.0.255")
    with pytest.raises(InvalidArgument, match="invalid gateway: nope"):
        ipam.gateway_for(net, "nope")


def test_allocate_lowest_free_and_never_a_held_address() -> None:
    net, gw = IPv4Network("10.9.0.0/29"), IPv4Address("10.9.0.1")
    held: set[IPv4Address] = set()
    for _ in range(5):  # .2 … .6: a /29 has 6 hosts, one is the gateway
        held.add(ipam.allocate(net, gw, held))
    assert sorted(str(a) for a in held) == [f"10.9.0.{i}" for i in range(2, 7)]
    with pytest.raises(Conflict, match="no available IPv4 addresses"):
        ipam.allocate(net, gw, held, network_name="tiny")
    held.discard(IPv4Address("10.9.0.4"))  # released: reusable, the lowest free again
    assert ipam.allocate(net, gw, held) == IPv4Address("10.9.0.4")


def test_requested_addresses_are_validated() -> None:
    net, gw = IPv4Network("10.9.0.0/24"), IPv4Address("10.9.0.1")
    held = {IPv4Address("10.9.0.7")}
    assert ipam.allocate(net, gw, held, "10.9.0.50") == IPv4Address("10.9.0.50")
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.allocate(net, gw, held, "10.9.0.7")
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.allocate(net, gw, held, "10.9.0.1")
    with pytest.raises(InvalidArgument, match="no configured subnet contains IP address"):
        ipam.allocate(net, gw, held, "10.10.0.5")
    for edge in ("10.9.0.0", "10.9.0.255"):
        with pytest.raises(InvalidArgument, match="network or broadcast"):
            ipam.allocate(net, gw, held, edge)
    with pytest.raises(InvalidArgument, match=r"invalid IPv4 address: 10\.9\.0\.x"):
        ipam.allocate(net, gw, held, "10.9.0.x")
