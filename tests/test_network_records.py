"""Network records: built-ins, Docker's errors and JSON shapes, leases across processes.
No privileges needed (the host's routes are replaced by a fixed list)."""

from __future__ import annotations

import json
import multiprocessing
import re
import secrets
from ipaddress import IPv4Network
from pathlib import Path

import pytest
from layerlab.engine.errors import Conflict, InvalidArgument, NotFound
from layerlab.engine.network.model import NetworkStore, mac_for, network_settings

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _store(path: Path, host: list[str] | None = None) -> NetworkStore:
    routes = [IPv4Network(h) for h in host or []]
    return NetworkStore(path, bridge_prefix="tq", host_prefixes=lambda: routes)


@pytest.fixture
def store(tmp_path: Path) -> NetworkStore:
    s = _store(tmp_path / "networks")
    s.ensure_builtins()
    return s


def test_builtins_as_docker_lists_them(store: NetworkStore) -> None:
    nets = store.all()
    assert [(n.Name, n.Driver) for n in nets] == [("bridge", "bridge"), ("host", "host"),
                                                  ("none", "null")]
    assert all(HEX64.match(n.ID) for n in nets)
    bridge = store.get("bridge").inspect()
    assert bridge["IPAM"]["Config"] == [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]
    assert bridge["Options"]["com.docker.network.bridge.name"] == "tqbr0"
    assert bridge["Options"]["com.docker.network.bridge.default_bridge"] == "true"
    assert store.get("host").inspect()["IPAM"]["Config"] == []
    assert store.ensure_builtins() == []  # idempotent
    assert len(store.all()) == 3


def test_default_bridge_avoids_the_hosts_own_subnet(tmp_path: Path) -> None:
    s = _store(tmp_path / "n", host=["172.17.0.0/16", "192.0.2.0/24"])
    s.ensure_builtins()
    assert s.get("bridge").Subnet == "172.18.0.0/16"


def test_records_are_json_files_written_atomically(store: NetworkStore) -> None:
    net = store.create("app", labels={"tier": "web"})
    path = store.dir / f"{net.ID}.json"
    data = json.loads(path.read_text())
    assert data["Name"] == "app" and data["Labels"] == {"tier": "web"}
    assert not [p for p in store.dir.iterdir() if p.name.startswith(".tmp-")]
    assert store.get(net.ID[:6]).Name == "app"  # unique ID prefix


def test_create_picks_next_pool_and_names_the_bridge(store: NetworkStore) -> None:
    a = store.create("a")
    b = store.create("b", subnet="10.213.7.0/24", gateway="10.213.7.254", internal=True)
    assert (a.Subnet, a.Gateway) == ("172.18.0.0/16", "172.18.0.1")
    assert (b.Subnet, b.Gateway, b.Internal) == ("10.213.7.0/24", "10.213.7.254", True)
    assert a.Bridge == "tqbr-" + a.ID[:10] and len(a.Bridge) == 15
    info = b.inspect()
    assert info["Driver"] == "bridge" and info["Scope"] == "local" and info["Internal"]
    assert info["Containers"] == {} and info["Options"] == {}


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"name": "bridge"}, Conflict, "operation is not permitted on predefined bridge network"),
    ({"name": "x", "driver": "host"}, Conflict, 'only one instance of "host" network'),
    ({"name": "x", "driver": "null"}, Conflict, 'only one instance of "null" network'),
    ({"name": "x", "driver": "overlay"}, NotFound, 'plugin "overlay" not found'),
    ({"name": "x", "gateway": "10.0.0.1"}, InvalidArgument, "must have a corresponding subnet"),
    ({"name": "x", "subnet": "172.17.3.0/24"}, Conflict, "Pool overlaps"),
])
def test_create_errors(store: NetworkStore, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        store.create(**kwargs)


def test_duplicate_and_unknown_names(store: NetworkStore) -> None:
    store.create("app")
    with pytest.raises(Conflict, match="network with name app already exists"):
        store.create("app")
    with pytest.raises(NotFound, match="network nope not found"):
        store.get("nope")
    with pytest.raises(NotFound, match="network nope not found"):
        store.remove("nope")


def test_remove_refuses_builtins_and_networks_in_use(store: NetworkStore) -> None:
    for name in ("bridge", "host", "none"):
        with pytest.raises(Conflict, match=f"{name} is a pre-defined network and cannot be"):
            store.remove(name)
    store.create("app")
    _, ep = store.connect("app", "c" * 64, "web")
    with pytest.raises(Conflict, match=re.escape(
            f'error while removing network: network app has active endpoints '
            f'(name:"web" id:"{ep.EndpointID[:12]}")')):
        store.remove("app")
    store.disconnect("app", "c" * 64)
    assert store.remove("app").Name == "app"
    with pytest.raises(NotFound):
        store.get("app")


def test_prune_removes_only_unused_user_networks(store: NetworkStore) -> None:
    store.create("idle")
    store.create("busy")
    store.connect("busy", "c" * 64, "web")
    store.connect("bridge", "d" * 64, "other")
    assert [n.Name for n in store.prune()] == ["idle"]
    assert [n.Name for n in store.all()] == ["bridge", "busy", "host", "none"]


def test_connect_leases_addresses_and_macs(store: NetworkStore) -> None:
    store.create("app", subnet="10.213.9.0/24")
    _, web = store.connect("app", "a" * 64, "web", aliases=["www", "www", "front"])
    _, db = store.connect("app", "b" * 64, "db", ip="10.213.9.40")
    assert (web.IPv4Address, web.MacAddress) == ("10.213.9.2", "02:42:0a:d5:09:02")
    assert web.Aliases == ["www", "front"] and HEX64.match(web.EndpointID)
    assert web.HostIfname == "tqveth" + web.EndpointID[:9]
    assert db.IPv4Address == "10.213.9.40" and db.RequestedIPv4 == "10.213.9.40"
    with pytest.raises(Conflict, match="Address already in use"):
        store.connect("app", "e" * 64, "cache", ip="10.213.9.40")
    with pytest.raises(Conflict, match="endpoint with name web already exists in network app"):
        store.connect("app", "f" * 64, "web")
    store.disconnect("app", "a" * 64)
    _, again = store.connect("app", "e" * 64, "cache")
    assert again.IPv4Address == "10.213.9.2"  # released, so the lowest free again
    with pytest.raises(NotFound, match=f"container {'a' * 64} is not connected to network"):
        store.disconnect("app", "a" * 64)


def test_builtin_networks_refuse_ip_and_aliases(store: NetworkStore) -> None:
    with pytest.raises(InvalidArgument, match="user-defined networks only"):
        store.connect("bridge", "a" * 64, "web", ip="172.17.0.9")
    with pytest.raises(InvalidArgument, match="aliases are only supported for user-defined"):
        store.connect("bridge", "a" * 64, "web", aliases=["w"])
    _, host_ep = store.connect("host", "a" * 64, "web")
    assert (host_ep.IPv4Address, host_ep.MacAddress, host_ep.HostIfname) == ("", "", "")


def test_inspect_shapes_match_docker(store: NetworkStore) -> None:
    store.create("app", subnet="10.213.9.0/24")
    cid = secrets.token_hex(32)
    store.connect("bridge", cid, "web")
    app, ep = store.connect("app", cid, "web", aliases=["www"])
    entry = app.inspect()["Containers"][cid]
    assert entry == {"Name": "web", "EndpointID": ep.EndpointID, "MacAddress": ep.MacAddress,
                     "IPv4Address": "10.213.9.2/24", "IPv6Address": ""}
    settings = network_settings(store.attachments(cid), {"80/tcp": None})
    assert settings["IPAddress"] == "172.17.0.2"  # the default bridge's legacy fields
    assert settings["Gateway"] == "172.17.0.1" and settings["IPPrefixLen"] == 16
    assert settings["MacAddress"] == mac_for(store.get("bridge").gateway + 1)
    assert settings["Ports"] == {"80/tcp": None}
    on_app = settings["Networks"]["app"]
    assert on_app["Aliases"] == ["www"] and on_app["DNSNames"] == ["web", "www", cid[:12]]
    assert on_app["NetworkID"] == app.ID and on_app["IPAddress"] == "10.213.9.2"
    assert settings["Networks"]["bridge"]["Aliases"] is None
    assert settings["Networks"]["bridge"]["DNSNames"] is None
    only_user = network_settings([(app, ep)])
    assert only_user["IPAddress"] == "" and only_user["Networks"]["app"]["Gateway"] == "10.213.9.1"


def test_disconnect_all_releases_every_lease(store: NetworkStore) -> None:
    store.create("app")
    cid = "c" * 64
    store.connect("bridge", cid, "web")
    store.connect("app", cid, "web")
    gone = store.disconnect_all(cid)
    assert sorted(n.Name for n, _ in gone) == ["app", "bridge"]
    assert store.attachments(cid) == []
    assert store.disconnect_all(cid) == []


def _connect_many(directory: str, start: int, count: int) -> list[str]:
    store = _store(Path(directory))
    return [store.connect("app", f"{i:064x}", f"c{i}")[1].IPv4Address
            for i in range(start, start + count)]


def test_concurrent_connects_never_share_an_address(store: NetworkStore) -> None:
    """Four processes lease at once; the lock makes every address distinct."""
    store.create("app", subnet="10.213.9.0/24")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(_connect_many, [(str(store.dir), i * 10, 10) for i in range(4)])
    leased = [ip for r in results for ip in r]
    assert len(leased) == 40 and len(set(leased)) == 40
    assert len(store.get("app").Endpoints) == 40


def test_bad_bridge_prefix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="invalid bridge name prefix"):
        NetworkStore(tmp_path, bridge_prefix="toolong")
