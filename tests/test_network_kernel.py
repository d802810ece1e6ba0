"""Networking on the real kernel, as root: bridges, veths, names, published ports.

Every test works in namespaces and interfaces of its own, named with a fresh prefix
(``t`` + 4 hex), on a 10.213.X.0/24 subnet the host does not use, and sends traffic only
between its own namespaces and to 127.0.0.1; nothing enables forwarding or NAT. The ``lab``
fixture kills the test's processes, deletes its namespaces, then checks that the code under
test left no interface behind (and removes any it did, so a failure leaves the machine clean).
Namespaces come from ``ip netns add`` and processes are entered with ``nsenter``: they only
build and observe the scene, the engine code does all the netlink.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest
from layerlab.engine.errors import Conflict
from layerlab.engine.network import bridge, netlink
from layerlab.engine.network.dns import ContainerNames, DNSResponder, open_dns_sockets
from layerlab.engine.network.model import NetworkStore, mac_for
from layerlab.engine.network.netns import open_netns, socket_in_netns
from layerlab.engine.network.ports import parse_publish
from layerlab.engine.network.proxy import open_listener, publish
from layerlab.engine.network.service import Background, NetService

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bridges and netns need root")

NOBODY = 65534
UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(65536)
    s.sendto(b"echo:" + data, addr)
"""


def _ip(*args: str) -> list[dict]:
    out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout or "[]")


def _links_named(prefix: str) -> list[str]:
    return [link["ifname"] for link in _ip("link") if link["ifname"].startswith(prefix)]


def _netns_named(prefix: str) -> list[str]:
    return [ns["name"] for ns in _ip("netns", "list") if ns["name"].startswith(prefix)]


def _wait_listening(pid: int, port: int, proto: str = "tcp") -> None:
    """Until process ``pid``'s namespace has a socket listening on ``port`` (read from
    /proc/PID/net, which shows the process's own namespace)."""
    wanted = f":{port:04X}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rows = []
        for table in (proto, proto + "6"):  # busybox httpd listens dual-stack, on tcp6
            with open(f"/proc/{pid}/net/{table}") as f:
                rows += [line.split() for line in f.readlines()[1:]]
        if any(r[1].endswith(wanted) and (proto == "udp" or r[3] == "0A") for r in rows):
            return
        time.sleep(0.02)
    raise AssertionError(f"nothing listens on {proto} port {port} in pid {pid}'s netns")


class Lab:
    """One test's namespaces, processes and network store, all under its own prefix."""

    def __init__(self, tmp: Path) -> None:
        self.prefix = "t" + secrets.token_hex(2)
        self.tmp = tmp
        self.store = NetworkStore(tmp / "networks", bridge_prefix=self.prefix)
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[str]] = []
        self.services: list[Background] = []
        self.fds: list[int] = []

    def netns(self, name: str) -> str:
        full = f"{self.prefix}-{name}"
        subprocess.run(["ip", "netns", "add", full], check=True)
        self.namespaces.append(full)
        return f"/run/netns/{full}"

    def open_netns(self, path: str) -> int:
        fd = open_netns(path)
        self.fds.append(fd)
        return fd

    def spawn(self, netns: str, *argv: str) -> subprocess.Popen[str]:
        p = subprocess.Popen(["nsenter", f"--net={netns}", *argv], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def run(self, netns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(["nsenter", f"--net={netns}", *argv], capture_output=True,
                           text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"{argv} exited {p.returncode}: {p.stdout}{p.stderr}")
        return p

    def serve(self, *services: NetService) -> Background:
        bg = Background(services).start()
        self.services.append(bg)
        return bg

    def subnet(self) -> str:
        used = netlink.host_prefixes()
        for _ in range(100):
            candidate = IPv4Network(f"10.213.{secrets.randbelow(256)}.0/24")
            if not any(candidate.overlaps(u) for u in used):
                return str(candidate)
        raise AssertionError("no free 10.213.X.0/24 on this host")

    def httpd(self, netns: str, body: str, port: int = 80) -> subprocess.Popen[str]:
        www = self.tmp / f"www-{port}-{len(self.procs)}"
        www.mkdir()
        (www / "index.html").write_text(body)
        p = self.spawn(netns, "busybox", "httpd", "-f", "-p", str(port), "-h", str(www))
        _wait_listening(p.pid, port)
        return p

    def unplug(self) -> None:
        """What the runtime does on stop and ``network rm``: every endpoint, every bridge."""
        for net in self.store.all():
            for ep in net.Endpoints.values():
                bridge.endpoint_down(ep)
            bridge.network_down(net)

    def close(self) -> list[str]:
        """Tear everything down; the interfaces the code under test had left."""
        for bg in self.services:
            with contextlib.suppress(Exception):
                bg.stop()
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            p.communicate()
        for fd in self.fds:
            os.close(fd)
        # checked before the namespaces go: the kernel removes veths of a deleted
        # namespace asynchronously, which would blur what the code itself cleaned
        left = _links_named(self.prefix)
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], check=False)
        for name in left:
            subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)
        return left


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path)
    try:
        yield lab
    finally:
        left = lab.close()
    assert left == [], f"interfaces left behind: {left}"
    assert _netns_named(lab.prefix) == []


def _eth0(netns: str) -> dict:
    return _ip("-n", os.path.basename(netns), "addr", "show", "eth0")[0]


def test_two_namespaces_talk_over_a_bridge(lab: Lab) -> None:
    net = lab.store.create("app", subnet=lab.subnet())
    a, b = lab.netns("a"), lab.netns("b")
    bridge.network_up(net)
    net, web = lab.store.connect("app", "a" * 64, "web")
    bridge.endpoint_up(net, web, a)
    net, client = lab.store.connect("app", "b" * 64, "client")
    bridge.endpoint_up(net, client, b)

    # what the kernel now holds, as iproute2 sees it
    br = _ip("link", "show", net.Bridge)[0]
    assert br["address"] == mac_for(net.gateway) and "UP" in br["flags"]
    assert [x["local"] for x in _ip("-4", "addr", "show", net.Bridge)[0]["addr_info"]] \
        == [net.Gateway]
    host_end = _ip("link", "show", web.HostIfname)[0]
    assert host_end["master"] == net.Bridge and "UP" in host_end["flags"]
    eth0 = _eth0(a)
    assert eth0["address"] == web.MacAddress == mac_for(net.interface(web).ip)
    assert [(x["local"], x["prefixlen"]) for x in eth0["addr_info"] if x["family"] == "inet"] \
        == [(web.IPv4Address, net.subnet.prefixlen)]
    routes = _ip("-n", os.path.basename(b), "route")
    assert {"dst": "default", "gateway": net.Gateway} in [
        {k: r[k] for k in ("dst", "gateway")} for r in routes if "gateway" in r]
    lo = _ip("-n", os.path.basename(b), "link", "show", "lo")[0]
    assert "UP" in lo["flags"]

    # real traffic: busybox wget against busybox httpd, and nc both ways
    lab.httpd(a, "hello from web\n")
    got = lab.run(b, "busybox", "wget", "-q", "-O", "-", f"http://{web.IPv4Address}/")
    assert got.stdout == "hello from web\n"
    server = lab.spawn(a, "busybox", "nc", "-l", "-p", "7000", "-e", "busybox", "sh", "-c",
                       'read line; echo "web got $line"')
    _wait_listening(server.pid, 7000)
    chat = subprocess.run(["nsenter", f"--net={b}", "busybox", "nc", web.IPv4Address, "7000"],
                          input="ping\n", capture_output=True, text=True, timeout=30)
    assert chat.stdout == "web got ping\n"

    # the bridge kept its MAC while ports came and went
    bridge.endpoint_down(client)
    assert _ip("link", "show", net.Bridge)[0]["address"] == mac_for(net.gateway)
    assert not netlink.link_exists(client.HostIfname)
    bridge.endpoint_down(web)
    bridge.network_down(net)
    assert _links_named(lab.prefix) == []


def test_attach_replaces_a_stale_host_end_of_the_same_name(lab: Lab) -> None:
    """A start that crashed half-way can leave its veth's host end behind: the next
    attach of that endpoint removes it (its peer with it) and makes the pair anew."""
    net = lab.store.create("app", subnet=lab.subnet())
    a = lab.netns("a")
    net, ep = lab.store.connect("app", "a" * 64, "web")
    stale_peer = f"{lab.prefix}stale"
    subprocess.run(["ip", "link", "add", ep.HostIfname, "type", "veth", "peer", "name",
                    stale_peer], check=True)
    bridge.endpoint_up(net, ep, a)
    assert not netlink.link_exists(stale_peer)
    host_end = _ip("link", "show", ep.HostIfname)[0]
    assert host_end["master"] == net.Bridge and "UP" in host_end["flags"]
    assert _eth0(a)["address"] == ep.MacAddress
    bridge.endpoint_down(ep)
    bridge.network_down(net)
    assert _links_named(lab.prefix) == []


def test_internal_networks_get_no_default_route(lab: Lab) -> None:
    net = lab.store.create("secret", subnet=lab.subnet(), internal=True)
    a, b = lab.netns("a"), lab.netns("b")
    net, ep_a = lab.store.connect("secret", "a" * 64, "one")
    net, ep_b = lab.store.connect("secret", "b" * 64, "two")
    bridge.endpoint_up(net, ep_a, a)  # brings the bridge up itself
    bridge.endpoint_up(net, ep_b, b)
    assert not [r for r in _ip("-n", os.path.basename(a), "route") if r["dst"] == "default"]
    lab.httpd(a, "inside only\n")
    got = lab.run(b, "busybox", "wget", "-q", "-O", "-", f"http://{ep_a.IPv4Address}/")
    assert got.stdout == "inside only\n"  # still reachable on the same network
    lab.unplug()


def test_repeats_and_crashes_are_tolerated(lab: Lab) -> None:
    net = lab.store.create("app", subnet=lab.subnet())
    a = lab.netns("a")
    net, ep = lab.store.connect("app", "a" * 64, "web")
    bridge.network_up(net)
    bridge.network_up(net)
    bridge.endpoint_up(net, ep, a)
    bridge.endpoint_up(net, ep, a)  # a retry replaces the pair instead of failing
    veths = [n for n in _links_named(lab.prefix) if n != net.Bridge]
    assert veths == [ep.HostIfname]
    assert _eth0(a)["address"] == ep.MacAddress
    # the container's netns dies: the kernel removes both ends (asynchronously), so
    # endpoint_down may find the pair gone, half gone, or still there; all are fine
    subprocess.run(["ip", "netns", "del", os.path.basename(a)], check=True)
    lab.namespaces.remove(os.path.basename(a))
    bridge.endpoint_down(ep)
    assert not netlink.link_exists(ep.HostIfname)
    bridge.endpoint_down(ep)
    bridge.network_down(net)
    bridge.network_down(net)
    assert _links_named(lab.prefix) == []


def test_never_takes_over_an_interface_that_is_not_its_bridge(lab: Lab) -> None:
    name = f"{lab.prefix}br-x"
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name",
                    f"{lab.prefix}peer"], check=True)
    from ipaddress import IPv4Interface

    with pytest.raises(Conflict, match=f"interface {name} exists and is not a bridge"):
        netlink.ensure_bridge(name, IPv4Interface("10.213.0.1/24"), "02:42:0a:d5:00:01")
    netlink.remove_bridge(name)  # not a bridge: left alone
    assert netlink.link_exists(name)
    subprocess.run(["ip", "link", "del", name], check=True)


def test_dns_answers_busybox_nslookup_and_wget_inside_a_netns(lab: Lab) -> None:
    net = lab.store.create("app", subnet=lab.subnet())
    a, b = lab.netns("web"), lab.netns("client")
    net, web = lab.store.connect("app", "a" * 64, "web", aliases=["www"])
    bridge.endpoint_up(net, web, a)
    net, client = lab.store.connect("app", "c" * 64, "client")
    bridge.endpoint_up(net, client, b)
    web_ip, client_id = web.IPv4Address, client.ContainerID
    fd = lab.open_netns(b)
    udp, tcp = open_dns_sockets(fd)
    names = ContainerNames(lab.store, client_id)
    service = lab.serve(DNSResponder(udp, tcp, names.resolve, names.reverse))

    for name in ("web", "www", "a" * 12):
        out = lab.run(b, "busybox", "nslookup", name, "127.0.0.11").stdout
        assert f"Address: {web_ip}" in out, out
    missing = lab.run(b, "busybox", "nslookup", "nope", "127.0.0.11", check=False)
    assert missing.returncode != 0 and "NXDOMAIN" in missing.stdout + missing.stderr

    # over TCP too, from a socket inside the client's namespace
    sock = socket_in_netns(fd, socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(10)
        sock.connect(("127.0.0.11", 53))
        reply = dns.query.tcp(dns.message.make_query("web", "A"), "127.0.0.11", sock=sock)
    assert reply.rcode() == dns.rcode.NOERROR
    assert [r.address for r in reply.answer[0]] == [web_ip]

    # wget by name, with the resolv.conf Docker writes, in a private mount namespace
    lab.httpd(a, "found by name\n")
    resolv = lab.tmp / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.11\noptions ndots:0\n")
    got = lab.run(b, "unshare", "--mount", "sh", "-c",
                  f"mount --bind {resolv} /etc/resolv.conf && "
                  "exec busybox wget -q -O - http://web/")
    assert got.stdout == "found by name\n"

    service.stop()
    assert udp.fileno() == -1 and tcp.fileno() == -1
    gone = lab.run(b, "busybox", "nslookup", "web", "127.0.0.11", check=False)
    assert web_ip not in gone.stdout
    lab.unplug()


def test_proxy_publishes_a_port_of_a_netns_with_only_lo(lab: Lab) -> None:
    solo = lab.netns("solo")
    netlink.loopback_up(solo)
    assert [link["ifname"] for link in _ip("-n", os.path.basename(solo), "link")] == ["lo"]
    lab.httpd(solo, "published\n")
    fd = lab.open_netns(solo)
    published, proxies = publish(parse_publish("127.0.0.1::80"), fd)
    service = lab.serve(*proxies)
    (p,) = published
    assert (p.host_ip, p.container_port, p.proto) == ("127.0.0.1", 80, "tcp")
    url = f"http://127.0.0.1:{p.host_port}/"

    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"published\n"
    results: list[bytes] = []

    def fetch() -> None:
        with urllib.request.urlopen(url, timeout=10) as r:
            results.append(r.read())

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [b"published\n"] * 8

    # a client that half-closes after its request still gets the whole reply
    with socket.create_connection(("127.0.0.1", p.host_port), timeout=10) as c:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        c.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := c.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.") and reply.endswith(b"published\n")

    service.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", p.host_port), timeout=10)


def test_proxy_relays_udp_per_client(lab: Lab) -> None:
    solo = lab.netns("udp")
    netlink.loopback_up(solo)
    echo = lab.spawn(solo, sys.executable, "-c", UDP_ECHO, "9000")
    assert echo.stdout is not None and echo.stdout.readline() == "ready\n"
    published, proxies = publish(parse_publish("127.0.0.1::9000/udp"), lab.open_netns(solo))
    lab.serve(*proxies)
    port = published[0].host_port
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for i, c in enumerate(clients):
            c.settimeout(10)
            c.sendto(f"hi {i}".encode(), ("127.0.0.1", port))
        for i, c in enumerate(clients):
            assert c.recvfrom(100)[0] == f"echo:hi {i}".encode()
    finally:
        for c in clients:
            c.close()


def test_proxy_drops_clients_when_nothing_listens_inside(lab: Lab) -> None:
    solo = lab.netns("empty")
    netlink.loopback_up(solo)
    published, proxies = publish(parse_publish("127.0.0.1::80"), lab.open_netns(solo))
    lab.serve(*proxies)
    with socket.create_connection(("127.0.0.1", published[0].host_port), timeout=10) as c:
        assert c.recv(100) == b""  # closed at once, as docker-proxy does


def _proxy_process(argv: list[str], pass_fds: tuple[int, ...] = ()) -> tuple[
        subprocess.Popen[str], int]:
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         pass_fds=pass_fds)
    assert p.stdout is not None
    line = p.stdout.readline()
    if not line:
        p.wait()
        raise AssertionError(f"proxy did not start: {p.stderr.read() if p.stderr else ''}")
    ip, port = line.strip().rsplit(":", 1)
    assert ip == "127.0.0.1"
    return p, int(port)


@pytest.mark.parametrize("listen", ["host-port", "listen-fd"])
def test_proxy_entry_point_as_its_own_process(lab: Lab, listen: str) -> None:
    """Binding itself (``--host-port 0``), or serving a socket its parent bound."""
    solo = lab.netns("proc")
    netlink.loopback_up(solo)
    lab.httpd(solo, "from a proxy process\n")
    argv = [sys.executable, "-m", "layerlab.engine.network.proxy", "--netns", solo,
            "--container-port", "80"]
    if listen == "host-port":
        proc, port = _proxy_process([*argv, "--host-port", "0"])
    else:
        with open_listener("127.0.0.1", None, "tcp") as bound:
            bound_port = bound.getsockname()[1]
            proc, port = _proxy_process([*argv, "--listen-fd", str(bound.fileno())],
                                        pass_fds=(bound.fileno(),))
        assert port == bound_port  # the parent's copy is closed: the child holds the port
    lab.procs.append(proc)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        assert r.read() == b"from a proxy process\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10)


@pytest.fixture
def nobody_home() -> Iterator[Path]:
    """A directory nobody can read (pytest's tmp_path is root-only)."""
    top = Path(tempfile.mkdtemp(prefix="ll-net-"))
    os.chmod(top, 0o755)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv")
def test_proxy_without_root_reaches_a_netns_of_its_user_namespace(
        lab: Lab, nobody_home: Path, nobody_python: Path) -> None:
    """Rootless: nobody makes a user namespace; a netns owned by it runs httpd; the proxy,
    as nobody inside that user namespace but on the host's network, publishes it on
    127.0.0.1 — no bridge, no root."""
    (nobody_home / "index.html").write_text("rootless\n")
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    holder = subprocess.Popen([*as_nobody, "unshare", "--user", "--map-root-user",
                               "busybox", "sh", "-c", "echo up; exec cat"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lab.procs.append(holder)
    assert holder.stdout is not None and holder.stdout.readline() == "up\n"
    userns = f"/proc/{holder.pid}/ns/user"
    httpd = subprocess.Popen(["nsenter", f"--user={userns}", "unshare", "--net", "sh", "-c",
                              f"busybox ip link set lo up && exec busybox httpd -f -p 8080 "
                              f"-h {nobody_home}"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    lab.procs.append(httpd)
    _wait_listening(httpd.pid, 8080)
    assert os.stat(f"/proc/{httpd.pid}").st_uid == NOBODY  # not root outside
    proc, port = _proxy_process(
        [*as_nobody, "env", "PYTHONDONTWRITEBYTECODE=1", "nsenter", f"--user={userns}",
         "--preserve-credentials", str(nobody_python), "-m",
         "layerlab.engine.network.proxy", "--netns", f"/proc/{httpd.pid}/ns/net",
         "--container-port", "8080", "--host-port", "0"])
    lab.procs.append(proc)
    with open(f"/proc/{proc.pid}/status") as f:
        status = dict(line.split(":", 1) for line in f)
    assert status["Uid"].split()[0] == str(NOBODY)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        assert r.read() == b"rootless\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
