"""Issue 9 through the real CLI, as root on the real kernel: networks, names, published ports.

Everything runs under this session's interface prefix (``LAYERLAB_NET_PREFIX``, set in
conftest) with the default bridge on a 10.213.X.0/24 the host does not use, user networks
on subnets of the same kind, and traffic only between the tests' own containers and to
127.0.0.1. Nothing enables forwarding or NAT. The ``net`` fixture removes every container
and network of the test, then checks that the engine left nothing: no veth, no bridge but
the default one, no lease, no published-port record, and no container init alive (a
container's network namespace lives exactly as long as a process of its PID namespace,
none is ever pinned; namespace inode numbers are recycled, so the inits are watched by
pidfd instead).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from conftest import Docker, cleanup_root, needs_root
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer.bootstrap import bootstrap

pytestmark = needs_root

PREFIX = os.environ["LAYERLAB_NET_PREFIX"]
HTTPD = ("mkdir -p /www && echo \"$MSG\" > /www/index.html && "
         "exec httpd -f -p 80 -h /www")


def links() -> list[str]:
    out = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True)
    return [link["ifname"] for link in json.loads(out.stdout) if
            link["ifname"].startswith(PREFIX)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        return str(r.read().decode())


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def netns_of(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


class Net:
    """The test's CLI plus what it must check at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.docker = Docker(root, "overlay")
        self.inits: list[int] = []  # pidfds of every container init the test started
        self.used = set(IPv4Network(s) for s in [os.environ["LAYERLAB_BRIDGE_SUBNET"]])

    def subnet(self) -> str:
        """A 10.213.X.0/24 the host does not use and this test has not taken."""
        out = subprocess.run(["ip", "-j", "-4", "route"], capture_output=True, text=True)
        taken = [IPv4Network(r["dst"], strict=False) for r in json.loads(out.stdout or "[]")
                 if r.get("dst", "default") != "default"] + list(self.used)
        for x in range(256):
            net = IPv4Network(f"10.213.{x}.0/24")
            if not any(net.overlaps(t) for t in taken):
                self.used.add(net)
                return str(net)
        raise AssertionError("no free 10.213.X.0/24")

    def state(self, name: str) -> dict:
        return json.loads(self.docker.out("inspect", "--type", "container", name))[0]

    def running(self, *args: str) -> str:
        """``run -d``; watches the container's init for the final check."""
        cid = self.docker.out("run", "-d", *args)
        self.watch(cid)
        return cid

    def watch(self, name: str) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.inits.append(os.pidfd_open(self.state(name)["State"]["Pid"]))

    def alive_inits(self) -> int:
        alive = len([fd for fd in self.inits if not select.select([fd], [], [], 0)[0]])
        for fd in self.inits:
            os.close(fd)
        return alive

    def httpd(self, name: str, message: str, *flags: str) -> str:
        cid = self.running("--name", name, "-e", f"MSG={message}", *flags, "busybox", "sh",
                           "-c", HTTPD)
        self.wait_listening(name, 80)
        return cid

    def wait_listening(self, name: str, port: int) -> None:
        """Until something in the container listens on ``port`` (read in its own /proc)."""
        wanted = f":{port:04X} "
        script = ("while ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | "
                  f"grep -q '{wanted}.* 0A '; do usleep 20000; done")
        self.docker("exec", name, "sh", "-c", script, timeout=30)

    def leases(self) -> list[str]:
        out = []
        for path in (self.root / "networks").glob("*.json"):
            out += list(json.loads(path.read_text())["Endpoints"])
        return out

    def veths(self) -> list[str]:
        return [n for n in links() if n.startswith(f"{PREFIX}veth")]


@pytest.fixture
def net(root: Path) -> Iterator[Net]:
    bootstrap(Engine(root, "overlay"))
    n = Net(root)
    try:
        yield n
    finally:
        cleanup_root(root)
        n.docker("network", "prune", "-f", check=False)
    assert n.veths() == [], "veths left behind"
    assert [b for b in links() if b != f"{PREFIX}br0"] == [], "bridges left behind"
    assert n.leases() == [], "leases left behind"
    assert list(root.glob("containers/*/ports.json")) == [], "port records left behind"
    assert n.alive_inits() == 0, "container inits (and their network namespaces) alive"


def test_containers_on_a_user_network_reach_each_other_by_name(net: Net) -> None:
    d = net.docker
    subnet = net.subnet()
    net_id = d.out("network", "create", "--subnet", subnet, "app")
    net.httpd("web", "hello from web", "--network", "app", "--network-alias", "www")
    web_ip = d.out("inspect", "-f", "{{.NetworkSettings.Networks.app.IPAddress}}", "web")
    assert IPv4Address(web_ip) in IPv4Network(subnet)

    # busybox wget by name, by alias and by NAME.NETWORK; nslookup through 127.0.0.11
    got = d.out("run", "--rm", "--network", "app", "busybox", "sh", "-c",
                "wget -q -O - http://web/ && wget -q -O - http://www/ && "
                "wget -q -O - http://web.app/ && nslookup web && cat /etc/resolv.conf")
    lines = got.splitlines()
    assert lines[:3] == ["hello from web"] * 3
    assert f"Address: {web_ip}" in got
    assert "nameserver 127.0.0.11" in lines and "options ndots:0" in lines
    missing = d("run", "--rm", "--network", "app", "busybox", "nslookup", "nope", check=False)
    assert missing.returncode != 0

    # nc both ways: a server in one container, a client in another, by name
    d("run", "-d", "--name", "echo", "--network", "app", "busybox", "sh", "-c",
      "nc -l -p 7000 -e sh -c 'read line; echo \"echo got $line\"'")
    net.wait_listening("echo", 7000)
    chat = d("run", "--rm", "-i", "--network", "app", "busybox", "nc", "echo", "7000",
             input=b"ping\n")
    assert chat.stdout == "echo got ping\n"

    # the default bridge has no names, as in Docker: only addresses
    bridged = d("run", "--rm", "busybox", "wget", "-q", "-O", "-", "http://web/",
                check=False)
    assert bridged.returncode != 0

    info = json.loads(d.out("network", "inspect", "app"))[0]
    assert info["Id"] == net_id and info["IPAM"]["Config"][0]["Subnet"] == subnet
    # the nc server has exited after its one client, and left the network with it
    assert [c["Name"] for c in info["Containers"].values()] == ["web"]
    web = net.state("web")["NetworkSettings"]["Networks"]["app"]
    assert web["NetworkID"] == net_id and web["Aliases"] == ["www"]
    assert web["DNSNames"][:2] == ["web", "www"] and web["EndpointID"]
    assert net.state("web")["NetworkSettings"]["IPAddress"] == ""  # only on the default bridge
    assert "web" in d.out("network", "ls", "--graph")

    refusal = d("network", "rm", "app", check=False)
    assert refusal.returncode == 1 and "has active endpoints" in refusal.stderr
    d("rm", "-f", "web", "echo")
    assert d.out("network", "rm", "app") == "app"
    assert not [n for n in links() if n.startswith(f"{PREFIX}br-")]


def test_published_port_on_loopback_serves_the_host(net: Net) -> None:
    d = net.docker
    port = free_port()
    net.httpd("web", "published", "-p", f"127.0.0.1:{port}:80")
    assert fetch(port) == "published\n"
    ps = d.out("ps", "--format", "{{.Names}} {{.Ports}} {{.Networks}}")
    assert ps == f"web 127.0.0.1:{port}->80/tcp bridge"
    assert d.out("port", "web") == f"80/tcp -> 127.0.0.1:{port}"
    assert d.out("port", "web", "80") == f"127.0.0.1:{port}"
    s = net.state("web")
    bound = [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    assert s["NetworkSettings"]["Ports"] == {"80/tcp": bound}
    assert s["HostConfig"]["PortBindings"] == {"80/tcp": bound}
    assert s["HostConfig"]["NetworkMode"] == "bridge"
    assert s["Config"]["ExposedPorts"] == {"80/tcp": {}}
    ip = d.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web")
    assert IPv4Address(ip) in IPv4Network(os.environ["LAYERLAB_BRIDGE_SUBNET"])

    # another container on the default bridge reaches it by address
    assert d.out("run", "--rm", "busybox", "wget", "-q", "-O", "-",
                 f"http://{ip}/") == "published"

    d("stop", "-t", "1", "web")
    assert refused(port)
    assert net.leases() == [] and net.veths() == []
    assert d.out("ps", "-a", "--format", "{{.Ports}}") == ""
    stopped = net.state("web")["NetworkSettings"]
    assert stopped["Ports"] == {} and stopped["Networks"]["bridge"]["IPAddress"] == ""
    with pytest.raises(AssertionError, match="No public port"):
        d("port", "web", "80")

    # a restart gets its endpoint back
    d("start", "web")
    net.watch("web")
    net.wait_listening("web", 80)
    assert fetch(port) == "published\n"
    assert d.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web") == ip
    d("rm", "-f", "web")
    assert refused(port)


def test_publish_all_takes_ephemeral_ports_and_a_taken_port_fails_cleanly(net: Net) -> None:
    d = net.docker
    net.httpd("web", "any port", "--expose", "80", "-P")
    line = d.out("port", "web")
    assert line.startswith("80/tcp -> 0.0.0.0:")
    port = int(line.rsplit(":", 1)[1])
    assert fetch(port) == "any port\n"

    # the same host port again: the start fails with Docker's words and leaves nothing
    taken = d("run", "-d", "--name", "late", "-p", f"{port}:80", "busybox", "true", check=False)
    assert taken.returncode == 125 and "port is already allocated" in taken.stderr
    assert not net.state("late")["State"]["Running"]
    assert net.leases() == [next(iter(net.leases()))]  # only web's
    assert len(net.veths()) == 1
    d("rm", "-f", "web", "late")


def test_host_none_and_container_modes_behave_as_dockers(net: Net) -> None:
    d = net.docker
    host = d.out("run", "--rm", "--network", "host", "busybox", "sh", "-c",
                 "readlink /proc/self/ns/net; hostname")
    assert host.splitlines() == [netns_of(os.getpid()), os.uname().nodename]
    assert d.out("run", "--rm", "--network", "host", "--add-host", "db:10.213.0.9", "busybox",
                 "grep", "db", "/etc/hosts") == "10.213.0.9\tdb"

    none = d.out("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                 "ls /sys/class/net; cat /proc/net/route | wc -l")
    assert none.splitlines() == ["lo", "1"]  # only lo, and no route but the header

    net.httpd("web", "shared netns")
    web_pid = net.state("web")["State"]["Pid"]
    shared = d.out("run", "--rm", "--network", "container:web", "busybox", "sh", "-c",
                   "readlink /proc/self/ns/net; hostname; wget -q -O - http://127.0.0.1/")
    assert shared.splitlines() == [netns_of(web_pid), net.state("web")["Config"]["Hostname"],
                                   "shared netns"]
    for flags, words in ((["-p", "80"], "port publishing"), (["--hostname", "x"], "hostname"),
                         (["--dns", "10.213.0.1"], "dns")):
        p = d("run", "--rm", "--network", "container:web", *flags, "busybox", "true",
              check=False)
        assert p.returncode == 125 and f"conflicting options: {words}" in p.stderr
    d("stop", "-t", "1", "web")
    p = d("run", "--rm", "--network", "container:web", "busybox", "true", check=False)
    assert p.returncode == 125 and "non running container" in p.stderr

    modes = {m: net.state(c) for m, c in (
        ("host", d.out("create", "--network", "host", "busybox", "true")),
        ("none", d.out("create", "--network", "none", "busybox", "true")))}
    for mode, s in modes.items():
        assert s["HostConfig"]["NetworkMode"] == mode
        assert list(s["NetworkSettings"]["Networks"]) == [mode]
    assert "network nowhere not found" in d("create", "--network", "nowhere", "busybox",
                                            check=False).stderr
    d("rm", "-f", "web")


def test_a_killed_monitor_leaves_no_lease_veth_proxy_or_netns(net: Net) -> None:
    d = net.docker
    d("network", "create", "--subnet", net.subnet(), "app")
    port = free_port()
    net.httpd("web", "before the crash", "--network", "app", "-p", f"127.0.0.1:{port}:80")
    state = json.loads((net.root / "containers" / net.state("web")["Id"] /
                        "state.json").read_text())
    init, monitor = os.pidfd_open(state["Pid"]), os.pidfd_open(state["MonitorPid"])
    try:
        os.kill(state["MonitorPid"], signal.SIGKILL)
        # the whole monitor (its proxy thread too) and, through PDEATHSIG, the init
        for fd, who in ((monitor, "monitor"), (init, "init")):
            assert select.select([fd], [], [], 30)[0], f"the {who} outlived the kill"
    finally:
        os.close(init)
        os.close(monitor)
    assert refused(port)  # the proxy died with the monitor
    assert "Exited (255)" in d.out("ps", "-a", "--format", "{{.Status}}")
    # a command that looks at the network notices the dead container and cleans up
    assert json.loads(d.out("network", "inspect", "app"))[0]["Containers"] == {}
    assert net.leases() == [] and net.veths() == []
    d("start", "web")
    net.watch("web")
    net.wait_listening("web", 80)
    assert fetch(port) == "before the crash\n"
    d("rm", "-f", "web")
    d("network", "rm", "app")


def test_connect_and_disconnect_a_running_container(net: Net) -> None:
    d = net.docker
    subnet = net.subnet()
    d("network", "create", "--subnet", subnet, "back")
    net.httpd("db", "db here", "--network", "back")
    app = net.running("--name", "app", "busybox", "sleep", "60")
    d("network", "connect", "--alias", "front", "back", "app")
    ip = d.out("inspect", "-f", "{{.NetworkSettings.Networks.back.IPAddress}}", app)
    assert IPv4Address(ip) in IPv4Network(subnet)
    inside = d.out("exec", "app", "sh", "-c", "ls /sys/class/net; cat /etc/hosts")
    assert "eth1" in inside.split() and f"{ip}\t{app[:12]}" in inside
    db_ip = net.state("db")["NetworkSettings"]["Networks"]["back"]["IPAddress"]
    assert d.out("exec", "app", "wget", "-q", "-O", "-",
                 f"http://{db_ip}/") == "db here"
    assert d.out("ps", "--filter", "name=app", "--format", "{{.Networks}}") == "bridge,back"
    d("network", "disconnect", "back", "app")
    assert "eth1" not in d.out("exec", "app", "ls", "/sys/class/net").split()
    assert len(net.veths()) == 2  # app's eth0 and db's
    again = d("network", "disconnect", "back", "app", check=False)
    assert again.returncode == 1 and "is not connected to network back" in again.stderr
    d("rm", "-f", "db", "app")
    d("network", "rm", "back")


def test_hosts_and_resolv_conf_as_docker_writes_them(net: Net) -> None:
    d = net.docker
    out = d.out("run", "--rm", "--hostname", "box", "--add-host", "db:10.213.0.7",
                "--add-host", "gw:host-gateway", "--dns", "10.213.0.53", "--dns-search",
                "lab.test", "busybox", "sh", "-c", "cat /etc/hosts; echo ==; "
                "cat /etc/resolv.conf; echo ==; hostname -i")
    hosts, resolv, own = out.split("==\n")
    lines = hosts.splitlines()
    assert lines[:2] == ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    gateway = str(IPv4Network(os.environ["LAYERLAB_BRIDGE_SUBNET"]).network_address + 1)
    assert lines[-3:] == ["10.213.0.7\tdb", f"{gateway}\tgw", f"{own.strip()}\tbox"]
    assert resolv.startswith("# Generated by Docker Engine.")
    assert "nameserver 10.213.0.53\nsearch lab.test\n" in resolv
    assert "# Overrides: [nameservers search]" in resolv
    bad = d("run", "--rm", "--dns", "nonsense", "busybox", "true", check=False)
    assert bad.returncode == 125 and "nonsense is not an ip address" in bad.stderr
    bad = d("run", "--rm", "--add-host", "nocolon", "busybox", "true", check=False)
    assert bad.returncode == 125 and "bad format for add-host" in bad.stderr


def test_network_commands(net: Net) -> None:
    d = net.docker
    assert d.out("network", "ls", "--format", "{{.Name}} {{.Driver}}").splitlines() == [
        "bridge bridge", "host host", "none null"]
    subnet = net.subnet()
    nid = d.out("network", "create", "--subnet", subnet, "--gateway",
                str(IPv4Network(subnet).network_address + 9), "--internal", "--label", "k=v",
                "lab")
    assert d.out("network", "ls", "-q", "--filter", "name=lab") == nid[:12]
    assert d.out("network", "ls", "--filter", "type=custom", "--format", "{{.Name}}") == "lab"
    assert d.out("network", "ls", "--filter", "label=k=v", "--format", "{{.Name}}") == "lab"
    info = json.loads(d.out("network", "inspect", "lab"))[0]
    assert info["Internal"] is True and info["Labels"] == {"k": "v"}
    assert info["IPAM"]["Config"][0]["Gateway"].endswith(".9")
    assert json.loads(d.out("inspect", "--type", "network", "lab"))[0]["Id"] == nid
    # an internal network: no default route inside, neighbours still reachable
    routes = d.out("run", "--rm", "--network", "lab", "busybox", "cat", "/proc/net/route")
    assert "00000000" not in [r.split()[1] for r in routes.splitlines()[1:]]

    for args, words in ((["network", "create", "lab"], "already exists"),
                        (["network", "create", "--subnet", subnet, "twin"], "overlaps"),
                        (["network", "rm", "bridge"], "pre-defined network"),
                        (["network", "rm", "nothing"], "not found")):
        p = d(*args, check=False)
        assert p.returncode != 0 and words in p.stderr, (args, p.stderr)
    assert d("network", "rm", "-f", "nothing").returncode == 0
    d("network", "create", "--subnet", net.subnet(), "spare")
    pruned = d.out("network", "prune", "-f").splitlines()
    assert pruned[0] == "Deleted Networks:" and sorted(pruned[1:]) == ["lab", "spare"]
    assert d.out("network", "ls", "--format", "{{.Name}}").splitlines() == [
        "bridge", "host", "none"]


def test_clean_leftovers_removes_strays_of_ours_only(net: Net) -> None:
    engine = Engine(net.root, "overlay")
    stray_bridge, stray_veth = f"{PREFIX}br-0123ab", f"{PREFIX}veth0123ab"
    try:
        subprocess.run(["ip", "link", "add", stray_bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "link", "add", stray_veth, "type", "veth", "peer", "name",
                        f"{PREFIX}peer"], check=True)
        # a lease whose container died without its monitor releasing it
        records = engine.networks.records
        engine.networks.all()
        records.connect("bridge", "f" * 64, "ghost")
        done = engine.networks.clean_leftovers()
        assert any("ghost" not in line and "ffffffffffff" in line for line in done)
        assert f"interface {stray_bridge} (bridge) claimed by no record" in done
        assert f"interface {stray_veth} (veth) claimed by no record" in done
        assert net.leases() == []
        assert f"{PREFIX}peer" not in links()  # went with its veth pair
        assert engine.networks.clean_leftovers() == []
    finally:
        for name in (stray_bridge, stray_veth):
            subprocess.run(["ip", "link", "del", name], capture_output=True)


def test_a_bridge_gone_since_the_network_was_made_is_made_again_at_start(net: Net) -> None:
    """A host reboot removes the bridges while the network records stay: the next start
    makes the bridge again, with its gateway, instead of failing."""
    d = net.docker
    subnet = net.subnet()
    d("network", "create", "--subnet", subnet, "again")
    gateway = json.loads(d.out("network", "inspect", "again"))[0]["IPAM"]["Config"][0]
    d("run", "--rm", "--network", "again", "busybox", "true")  # the bridge exists now
    bridge = [n for n in links() if n.startswith(f"{PREFIX}br-")]
    assert len(bridge) == 1
    subprocess.run(["ip", "link", "del", bridge[0]], check=True)  # ours: the test's prefix
    got = d.out("run", "--rm", "--network", "again", "busybox", "sh", "-c",
                "ip -4 -o addr show eth0; ip route; ping -c 1 -W 5 " + gateway["Gateway"])
    assert bridge[0] in links()
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", bridge[0]], capture_output=True,
                         text=True, check=True).stdout
    assert f"{gateway['Gateway']}/{subnet.split('/')[1]}" in out
    assert f"default via {gateway['Gateway']}" in got and "1 packets received" in got
    assert d.out("network", "rm", "again") == "again"
