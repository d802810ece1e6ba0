"""A container's /etc/hosts and /etc/resolv.conf as Docker writes them, and the network
flags ``create`` refuses before anything exists (no root needed: nothing starts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cmd
from layerlab.engine.errors import InvalidArgument
from layerlab.engine.network import etcfiles
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer.bootstrap import bootstrap

HOST = """# managed by someone
nameserver 127.0.0.53
nameserver 10.9.8.7
nameserver fd00::53
search corp.example
options edns0 trust-ad
sortlist 10.0.0.0/255.0.0.0
"""


@pytest.fixture
def host_resolv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "resolv.conf"
    path.write_text(HOST)
    monkeypatch.setattr(etcfiles, "HOST_RESOLV_CONF", path)
    return path


def body(text: str) -> list[str]:
    """The lines between Docker's header and its trailer of comments."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_default_bridge_drops_loopback_and_ipv6_servers(host_resolv: Path) -> None:
    text = etcfiles.resolv_conf("legacy")
    assert text.startswith(etcfiles.HEADER + "\n")
    assert body(text) == ["nameserver 10.9.8.7", "search corp.example",
                          "options edns0 trust-ad", "sortlist 10.0.0.0/255.0.0.0"]
    assert f"# Based on host file: '{host_resolv}' (legacy)" in text
    assert "# Overrides: []" in text


def test_default_bridge_without_usable_servers_gets_googles(host_resolv: Path) -> None:
    host_resolv.write_text("nameserver 127.0.0.53\n")
    text = etcfiles.resolv_conf("legacy")
    assert body(text) == ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    assert "# Used default nameservers." in text


def test_user_network_uses_the_embedded_dns_and_says_it_does_not_forward(
        host_resolv: Path) -> None:
    text = etcfiles.resolv_conf("embedded")
    assert body(text)[:2] == ["nameserver 127.0.0.11", "search corp.example"]
    assert "options edns0 trust-ad ndots:0" in body(text)
    assert "(internal resolver)" in text and "# Option ndots from: internal" in text
    assert "ExtServers: [host(127.0.0.53) host(10.9.8.7) host(fd00::53)] (not forwarded" in text


def test_overrides_replace_the_hosts_lines(host_resolv: Path) -> None:
    text = etcfiles.resolv_conf("legacy", ["10.1.1.1"], ["lab.test"], ["ndots:2"])
    assert body(text)[:3] == ["nameserver 10.1.1.1", "search lab.test", "options ndots:2"]
    assert "# Overrides: [nameservers search options]" in text
    assert "# Option ndots from: override" in text
    assert body(etcfiles.resolv_conf("host")) == body(HOST)


def test_hosts_file_lines_in_dockers_order() -> None:
    text = etcfiles.hosts_file("web.lab", ["10.0.0.2"], [("db", "10.0.0.9")])
    assert text.splitlines() == [
        "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::\tip6-localnet", "ff00::\tip6-mcastprefix", "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters", "10.0.0.9\tdb", "10.0.0.2\tweb.lab web"]


@pytest.mark.parametrize(("value", "parsed"), [
    ("db:10.0.0.9", ("db", "10.0.0.9")), ("db=10.0.0.9", ("db", "10.0.0.9")),
    ("v6:[fd00::1]", ("v6", "fd00::1")), ("gw:host-gateway", ("gw", "host-gateway"))])
def test_add_host_values(value: str, parsed: tuple[str, str]) -> None:
    assert etcfiles.parse_extra_host(value) == parsed


@pytest.mark.parametrize(("value", "words"), [
    ("nocolon", "bad format for add-host"), ("db:10.0.0.999", "invalid IP address")])
def test_bad_add_host_values(value: str, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        etcfiles.parse_extra_host(value)


def test_in_place_writes_keep_the_inode(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    etcfiles.write(path, "one\n", in_place=False)
    inode = path.stat().st_ino
    etcfiles.write(path, "two\n", in_place=True)  # what a bind mount still sees
    assert path.read_text() == "two\n" and path.stat().st_ino == inode


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = Engine(tmp_path / "root", "vfs")
    bootstrap(e)
    return e


@pytest.mark.parametrize(("flags", "words"), [
    (["--network", "nowhere"], "network nowhere not found"),
    (["--ip", "172.17.0.9"], "user-specified IP address is only supported on user-defined"),
    (["--network-alias", "x"], "network-scoped aliases are only supported"),
    (["--network", "host", "--network", "bridge"], "cannot attach both user-defined"),
    (["--network", "container:"], "invalid container format"),
    (["--network", "container:other", "--add-host", "a:10.0.0.1"],
     "custom host-to-IP mapping and the network mode"),
    (["-p", "80:99999"], "invalid containerPort"),
    (["--expose", "80/sctpx"], "invalid proto"),
])
def test_create_refuses_bad_network_flags(engine: Engine, flags: list[str],
                                          words: str) -> None:
    with pytest.raises(Exception, match=words) as info:
        run_cmd(engine, "create", *flags, "busybox", "true")
    assert getattr(info.value, "exit_code", 0) == 125
    assert engine.containers.all() == []


def test_create_records_dockers_host_config(engine: Engine) -> None:
    run_cmd(engine, "create", "--name", "web", "-p", "127.0.0.1:8080:80", "-p", "53/udp",
            "--expose", "9000-9001", "--dns", "10.0.0.53", "--add-host", "db:10.0.0.9",
            "busybox", "true")
    c = engine.containers.get("web")
    hc = c.HostConfig
    assert hc["NetworkMode"] == "bridge" and hc["PublishAllPorts"] is False
    assert hc["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                  "53/udp": [{"HostIp": "", "HostPort": ""}]}
    assert hc["Dns"] == ["10.0.0.53"] and hc["ExtraHosts"] == ["db:10.0.0.9"]
    assert sorted(c.Config["ExposedPorts"]) == ["53/udp", "80/tcp", "9000/tcp", "9001/tcp"]
    settings = engine.containers.inspect("web")["NetworkSettings"]
    assert settings["Ports"] == {} and settings["Networks"]["bridge"]["IPAddress"] == ""
    hosts = (engine.containers.state_dir(c) / "hosts").read_text()
    assert hosts.splitlines()[-1] == "10.0.0.9\tdb"  # no address of its own until it starts
