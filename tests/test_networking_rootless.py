"""Issue 9 without root, as the Binder user (uid 65534, no_new_privs, ``tests/unprivileged_kit``).

Rootless: user networks are bridges in the network namespace of the store's keeper, which
its user namespace owns; containers find each other by name there, and ``-p`` publishes on
the host's loopback through the userland proxy. Nothing of it may show on the host's
network: no interface with the session's prefix, ever, and once the session is over no
process holds the keeper's namespace (the kit checks no process of nobody is left).

PRoot: no namespaces at all. A container on a network shares the host's: the others' names
resolve to 127.0.0.1, ``-p`` relays 127.0.0.1:HOST to 127.0.0.1:CONTAINER, and the engine
says so. The servers listen on 127.0.0.1 only, so nothing is reachable from beyond the host.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import urllib.request
import uuid
from pathlib import Path

import unprivileged_kit as kit
from conftest import needs_root
from layerlab.engine.network.netlink import links_named
from pyroute2.iproute.linux import IPRoute

pytestmark = needs_root
# a prefix of these tests' own: the root tests' default bridge may exist on the host
PREFIX = "r" + uuid.uuid4().hex[:4]


def host_links() -> list[str]:
    """Interfaces with this session's prefix in the host's (this test's) namespace."""
    with IPRoute() as ipr:
        return [name for link in ipr.get_links()
                if (name := link.get_attr("IFLA_IFNAME") or "").startswith(PREFIX)]


def keeper_links(keeper: int) -> list[tuple[str, str | None]]:
    """The same, with their kinds, in the keeper's namespace (root may look inside)."""
    return links_named(PREFIX, netns=f"/proc/{keeper}/ns/net")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return str(r.read().decode())


def netns_holders(inode: int) -> list[int]:
    """PIDs whose network namespace is the one with ``inode``."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{pid}/ns/net").st_ino == inode:
                out.append(int(pid))
    return out


def test_rootless_names_and_published_port_stay_in_the_keepers_namespace(
        nobody_python: Path) -> None:
    port = free_port()
    with kit.session(nobody_python, LAYERLAB_RUNTIME="rootless",
                     LAYERLAB_NET_PREFIX=PREFIX) as n:
        n.docker("pull", "busybox")
        n.docker("network", "create", "labnet")
        site = n.docker("run", "-d", "--name", "site", "--network", "labnet",
                        "-p", f"127.0.0.1:{port}:80", "busybox",
                        "httpd", "-f", "-p", "80", "-h", "/etc").stdout.strip()
        # by name, through the embedded DNS, from a second container on the network
        got = n.docker("run", "--rm", "--network", "labnet", "busybox",
                       "wget", "-qO-", "http://site/hostname")
        assert got.stdout.strip() == site[:12]
        assert fetch(port, "/hostname").strip() == site[:12]  # the host's loopback
        host = n.docker("run", "--rm", "--network", "host", "busybox",  # ... a host-mode one's
                        "wget", "-qO-", f"http://127.0.0.1:{port}/hostname")
        assert host.stdout.strip() == site[:12]
        assert n.docker("port", "site").stdout.strip() == f"80/tcp -> 127.0.0.1:{port}"
        info = json.loads(n.docker("inspect", "site").stdout)[0]
        ip = info["NetworkSettings"]["Networks"]["labnet"]["IPAddress"]
        assert ip and info["NetworkSettings"]["Ports"]["80/tcp"] == [
            {"HostIp": "127.0.0.1", "HostPort": str(port)}]
        keeper = json.loads((n.store / "keeper.json").read_text())["pid"]
        keeper_net = os.stat(f"/proc/{keeper}/ns/net").st_ino
        assert keeper_net != os.stat("/proc/self/ns/net").st_ino
        assert host_links() == []  # the bridge and the veths live in the keeper's namespace
        assert sorted(kind or "" for _, kind in keeper_links(keeper)) == ["bridge", "veth"]
        n.docker("rm", "-f", "site")
        n.docker("network", "rm", "labnet")
        assert keeper_links(keeper) == []  # veth gone with the container, bridge with rm
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 5):
            raise AssertionError(f"port {port} still answers after rm -f")
    assert host_links() == []
    assert netns_holders(keeper_net) == []


def test_proot_networks_share_the_host_and_say_so(nobody_python: Path) -> None:
    host_port, ctr_port = free_port(), free_port()
    with kit.session(nobody_python, LAYERLAB_RUNTIME="proot") as n:
        n.docker("pull", "busybox")
        n.docker("network", "create", "labnet")
        run = n.docker("run", "-d", "--name", "web", "--network", "labnet",
                       "-p", f"127.0.0.1:{host_port}:{ctr_port}", "busybox",
                       "httpd", "-f", "-p", f"127.0.0.1:{ctr_port}", "-h", "/etc")
        web = run.stdout.strip()
        assert "share the host's network" in run.stderr
        got = n.docker("run", "--rm", "--network", "labnet", "busybox",
                       "sh", "-c", f"grep -w web /etc/hosts; wget -qO- http://web:{ctr_port}/hostname")
        assert got.stdout.split() == ["127.0.0.1", "web", web[:12]]
        assert fetch(host_port, "/hostname").strip() == web[:12]
        assert n.docker("port", "web").stdout.strip() == f"{ctr_port}/tcp -> 127.0.0.1:{host_port}"
        limits = json.loads(n.docker("info", "--format", "{{json .}}").stdout)["IsolationLimits"]
        assert any(line.startswith("network:") for line in limits), limits
        notes = json.loads(n.docker("inspect", "web").stdout)[0]["Isolation"]["Notes"]
        assert any(line.startswith("network:") for line in notes), notes
        n.docker("rm", "-f", "web")
        n.docker("network", "rm", "labnet")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", host_port), 5):
            raise AssertionError(f"port {host_port} still answers after rm -f")
