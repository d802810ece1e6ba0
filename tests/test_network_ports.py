"""``-p`` parsing and port shapes, checked against what the Docker CLI and daemon print."""

from __future__ import annotations

import socket

import pytest
from layerlab.engine.errors import Conflict
from layerlab.engine.network import ports
from layerlab.engine.network.ports import PortBinding, Published
from layerlab.engine.network.proxy import open_listener


@pytest.mark.parametrize(("spec", "expected"), [
    ("8080:80", [PortBinding(80, "tcp", "", "8080")]),
    ("127.0.0.1:8080:80", [PortBinding(80, "tcp", "127.0.0.1", "8080")]),
    ("127.0.0.1::80", [PortBinding(80, "tcp", "127.0.0.1", "")]),
    ("80", [PortBinding(80, "tcp")]),
    ("80/udp", [PortBinding(80, "udp")]),
    ("53:53/UDP", [PortBinding(53, "udp", "", "53")]),
    ("8000-8001:80-81", [PortBinding(80, "tcp", "", "8000"), PortBinding(81, "tcp", "", "8001")]),
    ("8000-8010:80", [PortBinding(80, "tcp", "", "8000-8010")]),
    ("80-81", [PortBinding(80, "tcp"), PortBinding(81, "tcp")]),
    ("[::1]:8080:80", [PortBinding(80, "tcp", "::1", "8080")]),
])
def test_publish_forms(spec: str, expected: list[PortBinding]) -> None:
    assert ports.parse_publish(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [
    ("8080:", "no port specified: 8080:<empty>"),
    ("80/icmp", "invalid proto: icmp"),
    ("1.2.3:8080:80", "invalid IP address: 1.2.3"),
    ("8080:http", "invalid containerPort: http"),
    ("8080:70000", "invalid containerPort: 70000"),
    ("8080:0", "invalid containerPort: 0"),
    ("x:80", "invalid hostPort: x"),
    ("8000-8002:80-81", "invalid ranges specified for container and host Ports: 80-81 and "
                        "8000-8002"),
    ("81-80", "invalid containerPort: 81-80"),
])
def test_bad_specs_have_the_clis_messages(spec: str, message: str) -> None:
    with pytest.raises(ports.PortSpecError) as err:
        ports.parse_publish(spec)
    assert str(err.value) == message
    assert err.value.daemon is False and err.value.exit_code == 125


def test_port_bindings_keep_the_request_as_given() -> None:
    bindings = [*ports.parse_publish("127.0.0.1:8080:80"), *ports.parse_publish("80"),
                *ports.parse_publish("53/udp")]
    assert ports.port_bindings(bindings) == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}, {"HostIp": "", "HostPort": ""}],
        "53/udp": [{"HostIp": "", "HostPort": ""}],
    }


def test_exposed_and_publish_all() -> None:
    assert ports.parse_exposed("8000-8002") == ["8000/tcp", "8001/tcp", "8002/tcp"]
    assert ports.parse_exposed("53/udp") == ["53/udp"]
    with pytest.raises(ports.PortSpecError):
        ports.parse_exposed("web")
    assert ports.publish_all(["80/tcp", "53/udp"]) == [PortBinding(80, "tcp"),
                                                        PortBinding(53, "udp")]


def test_network_settings_ports_and_ps_column() -> None:
    settings = ports.ports_settings(
        ["80/tcp", "443/tcp", "9000/tcp"],
        [Published(80, "tcp", "127.0.0.1", 8080), Published(443, "tcp", "0.0.0.0", 443),
         Published(53, "udp", "0.0.0.0", 32768)])
    assert settings == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
        "443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "443"}],
        "9000/tcp": None,
        "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}],
    }
    summary = ports.summary_ports(settings)
    assert {"PrivatePort": 9000, "Type": "tcp"} in summary
    assert ports.displayable_ports(summary) == (
        "0.0.0.0:443->443/tcp, 9000/tcp, 0.0.0.0:32768->53/udp, 127.0.0.1:8080->80/tcp")


def test_ps_groups_consecutive_same_number_ports_as_the_cli() -> None:
    published = [Published(p, "tcp", "0.0.0.0", p) for p in (8000, 8001, 8002, 8005)]
    summary = ports.summary_ports(ports.ports_settings([], published))
    assert ports.displayable_ports(summary) == (
        "0.0.0.0:8000-8002->8000-8002/tcp, 0.0.0.0:8005->8005/tcp")
    six = ports.summary_ports(ports.ports_settings([], [Published(80, "tcp", "::1", 8080)]))
    assert ports.displayable_ports(six) == "[::1]:8080->80/tcp"
    assert ports.displayable_ports([]) == ""


def test_docker_port_lines() -> None:
    settings = ports.ports_settings(["22/tcp"], [Published(80, "tcp", "127.0.0.1", 8080),
                                                 Published(53, "udp", "0.0.0.0", 5353)])
    assert ports.port_lines(settings, "web") == ["53/udp -> 0.0.0.0:5353",
                                                 "80/tcp -> 127.0.0.1:8080"]
    assert ports.port_lines(settings, "web", "80") == ["127.0.0.1:8080"]
    with pytest.raises(ports.NoPublicPort) as err:
        ports.port_lines(settings, "web", "22")
    assert str(err.value) == "Error: No public port '22/tcp' published for web"


def test_listener_ephemeral_range_and_taken_port() -> None:
    """Binds on 127.0.0.1 only."""
    eph = open_listener("127.0.0.1", None, "tcp")
    try:
        port = eph.getsockname()[1]
        assert port > 0
        with pytest.raises(Conflict) as err:
            open_listener("127.0.0.1", [port], "tcp")
        assert str(err.value) == f"Bind for 127.0.0.1:{port} failed: port is already allocated"
        # a range skips the taken port and takes the next free one
        ranged = open_listener("127.0.0.1", range(port, port + 50), "tcp")
        try:
            assert port < ranged.getsockname()[1] < port + 50
        finally:
            ranged.close()
        udp = open_listener("127.0.0.1", [port], "udp")  # udp and tcp ports are separate
        assert udp.type == socket.SOCK_DGRAM
        udp.close()
    finally:
        eph.close()
