"""The embedded DNS's answers, and the responder over real UDP/TCP on 127.0.0.1.
No privileges needed; the in-namespace run with busybox is in test_network_kernel.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from layerlab.engine.network.dns import ContainerNames, DNSResponder, answer
from layerlab.engine.network.model import NetworkStore
from layerlab.engine.network.service import Background

WEB, DB, CLIENT, LONER = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)


@pytest.fixture
def store(tmp_path: Path) -> NetworkStore:
    s = NetworkStore(tmp_path / "networks", bridge_prefix="tq", host_prefixes=lambda: [])
    s.ensure_builtins()
    s.create("app", subnet="10.213.20.0/24")
    s.create("back", subnet="10.213.21.0/24")
    s.connect("app", WEB, "web", aliases=["www", "front"])  # 10.213.20.2
    s.connect("app", CLIENT, "client")  # 10.213.20.3
    s.connect("back", DB, "db", aliases=["front"])  # 10.213.21.2
    s.connect("back", WEB, "web")  # 10.213.21.3
    s.connect("bridge", LONER, "loner")
    return s


def _ask(names: ContainerNames, name: str, rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    reply = answer(query.to_wire(), names.resolve, names.reverse)
    assert reply is not None
    return dns.message.from_wire(reply)


def _addresses(msg: dns.message.Message) -> list[str]:
    return sorted(r.address for rrset in msg.answer for r in rrset)


def test_names_aliases_and_short_ids_on_shared_networks(store: NetworkStore) -> None:
    client = ContainerNames(store, CLIENT)
    for name in ("web", "WEB.", "www", web_short := WEB[:12]):
        msg = _ask(client, name)
        assert msg.rcode() == dns.rcode.NOERROR, name
        assert _addresses(msg) == ["10.213.20.2"], name
        assert msg.flags & dns.flags.AA and msg.answer[0].ttl == 600
    assert web_short == "a" * 12
    # db is only on "back", which client is not on: unknown to it
    assert _ask(client, "db").rcode() == dns.rcode.NXDOMAIN
    assert _ask(client, "nothing.example").rcode() == dns.rcode.NXDOMAIN


def test_a_container_on_two_networks_sees_both(store: NetworkStore) -> None:
    web = ContainerNames(store, WEB)
    assert _addresses(_ask(web, "db")) == ["10.213.21.2"]
    # "front" is web's alias on app and db's on back: both answer
    assert _addresses(_ask(web, "front")) == ["10.213.20.2", "10.213.21.2"]
    # NAME.NETWORK picks one network
    assert _addresses(_ask(web, "client.app")) == ["10.213.20.3"]
    assert _ask(web, "client.back").rcode() == dns.rcode.NXDOMAIN


def test_default_bridge_has_no_names(store: NetworkStore) -> None:
    assert _ask(ContainerNames(store, LONER), "loner").rcode() == dns.rcode.NXDOMAIN


def test_other_types_of_known_names_are_nodata(store: NetworkStore) -> None:
    msg = _ask(ContainerNames(store, CLIENT), "web", "AAAA")
    assert msg.rcode() == dns.rcode.NOERROR and msg.answer == []
    assert _ask(ContainerNames(store, CLIENT), "nope", "AAAA").rcode() == dns.rcode.NXDOMAIN


def test_reverse_lookups(store: NetworkStore) -> None:
    msg = _ask(ContainerNames(store, CLIENT), "2.20.213.10.in-addr.arpa", "PTR")
    assert [r.target.to_text() for r in msg.answer[0]] == ["web.app."]
    msg = _ask(ContainerNames(store, CLIENT), "9.20.213.10.in-addr.arpa", "PTR")
    assert msg.rcode() == dns.rcode.NXDOMAIN


def test_joins_and_leaves_are_seen_at_once(store: NetworkStore) -> None:
    client = ContainerNames(store, CLIENT)
    assert _ask(client, "late").rcode() == dns.rcode.NXDOMAIN
    store.connect("app", "e" * 64, "late")
    assert _addresses(_ask(client, "late")) == ["10.213.20.4"]
    store.disconnect("app", "e" * 64)
    assert _ask(client, "late").rcode() == dns.rcode.NXDOMAIN


def test_malformed_messages() -> None:
    def resolve(_: str) -> list[IPv4Address]:
        return []

    assert answer(b"\x12", resolve) is None
    garbage = b"\xbe\xef\x01\x00\x00\x05" + b"\xff" * 10
    reply = answer(garbage, resolve)
    assert reply is not None and reply[:2] == b"\xbe\xef" and reply[3] & 0x0F == dns.rcode.FORMERR


def test_truncates_big_udp_answers_and_sets_tc() -> None:
    many = [IPv4Address(f"10.213.30.{i}") for i in range(1, 120)]
    query = dns.message.make_query("crowd", "A")
    udp = dns.message.from_wire(answer(query.to_wire(), lambda _: many) or b"",
                                ignore_trailing=True)
    assert udp.flags & dns.flags.TC
    full = dns.message.from_wire(answer(query.to_wire(), lambda _: many, max_size=65535) or b"")
    assert len(full.answer[0]) == len(many)


@pytest.fixture
def served(store: NetworkStore) -> Iterator[tuple[int, int]]:
    """The responder on 127.0.0.1 ephemeral ports (UDP, TCP) in the test's own netns."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp.bind(("127.0.0.1", 0))
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    names = ContainerNames(store, CLIENT)
    bg = Background([DNSResponder(udp, tcp, names.resolve, names.reverse)]).start()
    try:
        yield udp.getsockname()[1], tcp.getsockname()[1]
    finally:
        bg.stop()
    assert udp.fileno() == -1 and tcp.fileno() == -1  # stop closed both


def test_served_over_udp_and_tcp(served: tuple[int, int]) -> None:
    udp_port, tcp_port = served
    query = dns.message.make_query("www", "A")
    by_udp = dns.query.udp(query, "127.0.0.1", port=udp_port, timeout=5)
    by_tcp = dns.query.tcp(query, "127.0.0.1", port=tcp_port, timeout=5)
    assert _addresses(by_udp) == _addresses(by_tcp) == ["10.213.20.2"]
    nx = dns.query.tcp(dns.message.make_query("nope", "A"), "127.0.0.1", port=tcp_port,
                       timeout=5)
    assert nx.rcode() == dns.rcode.NXDOMAIN
