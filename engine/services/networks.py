"""Networks: ``docker network``'s records, a container's endpoints around its life, and
the clean-up after crashes (issue 9).

The records are ``engine/network``'s (``NetworkStore`` under ``<root>/networks``, each
change under the network directory's lock, taken after the store lock). Interface names
start with ``LAYERLAB_NET_PREFIX`` (default ``ll``): the default bridge is ``<prefix>br0``,
user networks ``<prefix>br-<ID>``, endpoints ``<prefix>veth<ID>``. A prefix belongs to one
store, which is what lets ``clean_leftovers`` call every such interface no record claims a
leftover of its own. ``LAYERLAB_BRIDGE_SUBNET`` fixes the default bridge's subnet
(Docker's ``--bip``), otherwise the first of Docker's pools the host does not use.

A container's leases exist only while it runs: ``start`` takes them (the caller holds the
store lock) and hands a ``Session`` to the monitor, which releases them at exit. An
endpoint whose container's monitor is gone (a crash, a killed monitor) is a leftover:
``reap`` releases it and removes its veth, and every command that looks at endpoints
calls it first.

Where the bridges live follows the isolation mode: the host's network namespace (root); the
network namespace of the store's keeper, inside its user namespace (rootless: the monitor's
sidecar joins it, and the CLI's own netlink changes run in a keeper-joined child,
``_where_bridges``);
nowhere in PRoot mode, which has no namespaces at all. There a container on a bridge network
shares the host's network: names of the other containers on its user networks resolve to
127.0.0.1 through its ``/etc/hosts``, and ``-p HOST:CONTAINER`` relays 127.0.0.1:HOST to
127.0.0.1:CONTAINER (``docker info`` and ``run`` say so).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import Conflict, InvalidArgument, NotFound, Unsupported
from ..network import etcfiles, ipam, ports
from ..network.model import DEFAULT_BRIDGE, Endpoint, Network, NetworkStore, network_settings
from ..network.sandbox import (
    EndpointConfig,
    NetworkMode,
    forget_published,
    read_endpoints,
    read_published,
    write_endpoints,
    write_published,
)
from .network_request import NetworkRequest

if TYPE_CHECKING:
    from ..network.session import Session
    from ..store.containers import Container
    from .engine import Engine

T = TypeVar("T")
PREFIX_ENV = "LAYERLAB_NET_PREFIX"
SUBNET_ENV = "LAYERLAB_BRIDGE_SUBNET"


@dataclass
class Planned:
    """What ``create`` records: HostConfig fields, exposed ports, endpoints to join."""

    host_config: dict[str, Any]
    exposed: dict[str, dict[str, Any]]
    endpoints: list[EndpointConfig]
    mode: NetworkMode


@dataclass
class NetworkGraphData:
    """Networks and the containers on them, for ``network ls --graph``.

    ``networks``: {id, name, driver, subnet, gateway, bridge, internal}; ``containers``:
    {id, name, state, mode, endpoints: [{network, ip, aliases}], ports: [str]}.
    """

    networks: list[dict[str, Any]]
    containers: list[dict[str, Any]]


def net_prefix() -> str:
    return os.environ.get(PREFIX_ENV) or "ll"


def mode_of(c: Container) -> NetworkMode:
    """The container's ``--network`` as recorded; containers made before networking
    existed had only ``none``."""
    return NetworkMode(c.HostConfig.get("NetworkMode") or "none")


class Networks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.records = NetworkStore(engine.root / "networks", bridge_prefix=net_prefix())
        self._builtins = False

    def _ready(self) -> NetworkStore:
        """The records, with Docker's ``bridge``, ``host`` and ``none`` present."""
        if not self._builtins:
            self.records.ensure_builtins(os.environ.get(SUBNET_ENV) or None)
            self._builtins = True
        return self.records

    # -- docker network ------------------------------------------------------------------
    def create(self, name: str, *, driver: str = "bridge", subnet: str | None = None,
               gateway: str | None = None, internal: bool = False,
               labels: dict[str, str] | None = None) -> Network:
        with self.store.lock():
            net = self._ready().create(name, driver=driver, subnet=subnet, gateway=gateway,
                                       internal=internal, labels=labels)
        self._event(net, "create")
        return net

    def _event(self, net: Network, action: str) -> None:
        """moby's LogNetworkEvent: the network's ``name`` and ``type`` (its driver)."""
        self.engine.events.log("network", action, net.ID, {"name": net.Name,
                                                           "type": net.Driver})

    def all(self) -> list[Network]:
        return self._ready().all()

    def matching(self, filters: dict[str, list[str]]) -> list[Network]:
        """Docker's network filters (``network ls -f``, ``GET /networks?filters=``): every
        given key must match, values of one key are alternatives."""
        for key in filters:
            if key not in NETWORK_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}' (supported: "
                                      f"{', '.join(sorted(NETWORK_FILTERS))})")
        for value in filters.get("type", []):
            if value not in ("custom", "builtin"):
                raise InvalidArgument(f"invalid filter: 'type'='{value}'")
        return [n for n in self.all()
                if all(any(_network_matches(n, key, v) for v in values)
                       for key, values in filters.items())]

    def get(self, ref: str) -> Network:
        return self._ready().get(ref)

    def inspect(self, ref: str) -> dict[str, Any]:
        with self.store.lock():
            self._reap()
            return self._ready().get(ref).inspect()

    def remove(self, ref: str) -> Network:
        """``network rm``: its bridge goes with the record (endpoints of dead containers
        are released first; live ones refuse the removal)."""
        with self.store.lock():
            self._reap()
            net = self._ready().remove(ref)
        self._bridge_down(net)
        self._event(net, "destroy")
        return net

    def prune(self, select: Callable[[str, dict[str, str]], bool] | None = None,
              ) -> list[Network]:
        """Unused custom networks go (those ``select(created, labels)`` lets go)."""
        with self.store.lock():
            self._reap()
            gone = self._ready().prune(select)
        for net in gone:
            self._bridge_down(net)
            self._event(net, "destroy")
        return gone

    def _bridge_down(self, net: Network) -> None:
        if net.Driver == "bridge":
            from ..network import bridge

            self._where_bridges(bridge.network_down, net)

    def connect(self, net_ref: str, container: str, aliases: list[str] | None = None,
                ip: str | None = None) -> None:
        """``network connect``: a running container gets the interface at once (the next
        ``ethN``), a stopped one when it starts."""
        with self.store.lock():
            records = self._ready()
            c = self.engine.containers.get(container)
            net = records.get(net_ref)
            mode = mode_of(c)
            if not mode.private:
                raise Conflict("container sharing network namespace with another container "
                               "or host cannot be connected to any other network")
            if mode.is_none:
                raise Conflict("container cannot be connected to multiple networks with one "
                               "of the networks in private (none) mode")
            if net.Driver != "bridge":
                raise Conflict("container cannot be disconnected from host network or "
                               "connected to host network")
            d = self.engine.containers.state_dir(c)
            wanted = read_endpoints(d)
            if any(w.NetworkID == net.ID for w in wanted):
                raise Conflict(f"endpoint with name {c.Name} already exists in network "
                               f"{net.Name}")
            want = self._endpoint_config(net, list(aliases or []), ip or "")
            if c.State.Running:
                self._reap()
                self._hotplug(c, want)
            write_endpoints(d, [*wanted, want])

    def disconnect(self, net_ref: str, container: str, force: bool = False) -> None:
        with self.store.lock():
            records = self._ready()
            c = self.engine.containers.get(container)
            net = records.get(net_ref)
            d = self.engine.containers.state_dir(c)
            wanted = read_endpoints(d)
            kept = [w for w in wanted if w.NetworkID != net.ID]
            if len(kept) == len(wanted) and not force:
                raise NotFound(f"container {c.ID[:12]} is not connected to network {net.Name}")
            if net.Driver != "bridge" and not force:
                raise Conflict("container cannot be disconnected from host network or "
                               "connected to host network")
            if c.State.Running and c.ID in net.Endpoints:
                _, ep = records.disconnect(net.ID, c.ID)
                from ..network import bridge

                self._where_bridges(bridge.endpoint_down, ep)
                self._write_etc(c, in_place=True)
            write_endpoints(d, kept)

    # -- containers: create, start, views -------------------------------------------------
    def plan(self, req: NetworkRequest, image_exposed: dict[str, Any],
             hostname: str) -> Planned:
        """Check ``create``'s network flags against the records, in Docker's words, and
        say what to record. Runs under the store lock."""
        modes = req.networks or ["bridge"]
        mode = NetworkMode.parse(modes[0])
        bindings = [b for spec in req.publish for b in ports.parse_publish(spec)]
        exposed = dict(image_exposed)
        for spec in req.expose:
            exposed.update({key: {} for key in ports.parse_exposed(spec)})
        exposed.update({b.key: {} for b in bindings})
        extra = [etcfiles.parse_extra_host(h) for h in req.add_host]
        dns = [etcfiles.check_nameserver(ns) for ns in req.dns]
        if mode.container:
            for flag, given in (("hostname", bool(hostname)), ("dns", bool(dns)),
                                ("custom host-to-IP mapping", bool(extra))):
                if given:
                    raise InvalidArgument(f"conflicting options: {flag} and the network mode")
            if bindings or req.publish_all:
                raise InvalidArgument("conflicting options: port publishing and the "
                                      "container type network mode")
            if req.expose:
                raise InvalidArgument("conflicting options: port exposing and the "
                                      "container type network mode")
        endpoints: list[EndpointConfig] = []
        special = [m for m in modes if m in ("host", "none") or m.startswith("container:")]
        if len(modes) > 1 and special:
            raise InvalidArgument("conflicting options: cannot attach both user-defined and "
                                  "non-user-defined network-modes")
        if not special:
            records = self._ready()
            for i, name in enumerate(modes):
                try:
                    net = records.get("bridge" if name == "default" else name)
                except NotFound:
                    raise NotFound(f"network {name} not found") from None
                if net.Driver != "bridge":
                    raise InvalidArgument(f"network {name} is not a bridge network")
                endpoints.append(self._endpoint_config(
                    net, req.aliases if i == 0 else [], req.ip if i == 0 else ""))
        elif req.ip or req.aliases:
            raise InvalidArgument("invalid endpoint settings: user-specified IP address and "
                                  "network-scoped aliases are only supported on "
                                  "user-defined networks")
        host_config = {
            "NetworkMode": mode.value,
            "PortBindings": ports.port_bindings(bindings),
            "PublishAllPorts": req.publish_all,
            "Dns": dns,
            "DnsOptions": list(req.dns_option),
            "DnsSearch": list(req.dns_search),
            "ExtraHosts": [f"{n}:{ip}" for n, ip in extra] or None,
        }
        return Planned(host_config, exposed, endpoints, mode)

    @staticmethod
    def _endpoint_config(net: Network, aliases: list[str], ip: str) -> EndpointConfig:
        if (ip or aliases) and not net.user_defined:
            what = "user-specified IP address is" if ip else "network-scoped aliases are"
            raise InvalidArgument(f"invalid endpoint settings: {what} only supported on "
                                  "user-defined networks")
        if ip:
            addr = ipam.parse_address(ip)
            if addr not in net.subnet:
                raise InvalidArgument(f"invalid endpoint settings: no configured subnet "
                                      f"contains IP address {addr}")
        return EndpointConfig(net.ID, net.Name, list(dict.fromkeys(aliases)), ip)

    def record(self, c: Container, planned: Planned) -> None:
        """Write the container's endpoints and its first /etc files (at ``create``; ``start``
        writes them again with the addresses it got)."""
        write_endpoints(self.engine.containers.state_dir(c), planned.endpoints)
        user = any(self.records.get(e.NetworkID).user_defined for e in planned.endpoints)
        self._write_etc(c, in_place=False, user=user)

    def start(self, c: Container) -> Session:
        """Take the container's leases, bind its published ports, write its /etc files;
        the returned session is finished by the monitor. The caller holds the store lock."""
        from ..network.session import Session  # sockets: for starts, not for listings

        records = self._ready()
        self._reap(c.ID)
        d = self.engine.containers.state_dir(c)
        session = Session(records, c.ID, d)
        try:
            mode = mode_of(c)
            session.private = mode.private
            if mode.container:
                self._join(c, mode.container, session)
                return session
            if mode.is_host or mode.is_none:
                records.connect(mode.value, c.ID, c.Name)
            elif self.shares_host():  # recorded, not leased: there is no address of its own
                for want in read_endpoints(d):
                    if want.NetworkID not in {n.ID for n in records.all()}:
                        raise NotFound(f"network {want.Name} not found")
                session.shared_host = True
                self._bind_ports(c, session)
            else:
                for want in read_endpoints(d):
                    try:
                        net = records.get(want.NetworkID)
                    except NotFound:
                        raise NotFound(f"network {want.Name} not found") from None
                    session.attachments.append(records.connect(
                        net.ID, c.ID, c.Name, aliases=want.Aliases,
                        ip=want.IPv4Address or None))
                session.dns = any(net.user_defined for net, _ in session.attachments)
                self._bind_ports(c, session)
            self._write_etc(c, in_place=False)
            session.preload()
            return session
        except BaseException:
            session.abort()
            raise

    def _join(self, c: Container, ref: str, session: Session) -> None:
        """``--network container:NAME``: that container's namespace, hostname and files."""
        try:
            other = self.engine.containers.get(ref)
        except NotFound as e:
            raise NotFound(f"joining network namespace of container: {e}") from None
        if other.ID == c.ID:
            raise InvalidArgument("cannot join own network namespace")
        if not other.State.Running:
            raise Conflict(f"cannot join network namespace of a non running container: "
                           f"container {other.Name} is {other.State.Status}")
        fd = os.open(f"/proc/{other.State.Pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        if not self.store.containers.monitor_alive(other.ID):  # its PID may be reused now
            os.close(fd)
            raise Conflict(f"cannot join network namespace of a non running container: "
                           f"container {other.Name} is exited")
        session.netns_fd = fd
        session.hostname = other.Config["Hostname"]
        session.etc_dir = self.engine.containers.state_dir(other)

    def _bind_ports(self, c: Container, session: Session) -> None:
        from ..network.proxy import open_listener

        bindings = self.bindings(c)
        published = []
        for b in bindings:
            sock = open_listener(b.host_ip, b.host_ports(), b.proto)
            ip, port = sock.getsockname()[:2]
            p = ports.Published(b.container_port, b.proto, ip, port)
            session.listeners.append((sock, p))
            published.append(p)
        if published:
            write_published(session.state_dir, published)

    @staticmethod
    def bindings(c: Container) -> list[ports.PortBinding]:
        """The ports to publish: ``-p`` as recorded, and with ``-P`` every other exposed
        port on an ephemeral host port."""
        hc = c.HostConfig
        out = []
        for key, binds in (hc.get("PortBindings") or {}).items():
            port, _, proto = key.partition("/")
            for b in binds or [{}]:
                out.append(ports.PortBinding(int(port), proto or "tcp", b.get("HostIp", ""),
                                             b.get("HostPort", "")))
        if hc.get("PublishAllPorts"):
            bound = set(hc.get("PortBindings") or {})
            exposed = [k for k in (c.Config.get("ExposedPorts") or {}) if k not in bound]
            out += ports.publish_all(exposed)
        return out

    def _write_etc(self, c: Container, in_place: bool, user: bool | None = None) -> None:
        """The container's /etc/hosts and /etc/resolv.conf from its current endpoints;
        ``user`` says whether it is on a user-defined network when it has no lease yet."""
        hc = c.HostConfig
        mode = mode_of(c)
        d = self.engine.containers.state_dir(c)
        extra = [self._extra_host(h) for h in hc.get("ExtraHosts") or []]
        dns_args = (hc.get("Dns") or [], hc.get("DnsSearch") or [], hc.get("DnsOptions") or [])
        if mode.is_host:
            hosts, resolv = etcfiles.host_mode_hosts(extra), etcfiles.resolv_conf("host",
                                                                                  *dns_args)
        elif self.shares_host() and not mode.is_none:
            hosts = etcfiles.hosts_file(c.Config["Hostname"], [], extra + self._peers(c))
            resolv = etcfiles.resolv_conf("host", *dns_args)
        else:
            attached = self.records.attachments(c.ID)
            addrs = [ep.IPv4Address for _, ep in attached if ep.IPv4Address]
            hosts = etcfiles.hosts_file(c.Config["Hostname"], addrs, extra)
            if user is None:
                user = any(net.user_defined for net, _ in attached)
            kind = "embedded" if user else ("host" if mode.is_none else "legacy")
            resolv = etcfiles.resolv_conf(kind, *dns_args)
        etcfiles.write(d / "hosts", hosts, in_place)
        etcfiles.write(d / "resolv.conf", resolv, in_place)

    def shares_host(self) -> bool:
        """PRoot mode: no network namespaces, every container is on the host's network."""
        return self.engine.isolation().mode == "proot"

    def _peers(self, c: Container) -> list[tuple[str, str]]:
        """PRoot: the running containers that share a user network with ``c``, by name and
        alias, at 127.0.0.1 (where their ports are, on the host's network)."""
        d = self.engine.containers.state_dir
        mine = {w.NetworkID for w in read_endpoints(d(c))
                if self.records.get(w.NetworkID).user_defined}
        out = []
        for other in self.engine.containers.all():
            if other.ID == c.ID or not other.State.Running:
                continue
            shared = [w for w in read_endpoints(d(other)) if w.NetworkID in mine]
            names = dict.fromkeys([other.Name, *(a for w in shared for a in w.Aliases)])
            out += [(name, "127.0.0.1") for name in names] if shared else []
        return out

    def _where_bridges(self, fn: Callable[..., T], *args: Any) -> T | None:
        """``fn(*args)`` in the network namespace of this store's bridges: the host's
        (root), the keeper's (rootless; none while no keeper runs: nothing is left in it
        then); PRoot has no bridges."""
        mode = self.engine.isolation().mode
        if mode == "root":
            return fn(*args)
        if mode != "rootless":
            return None
        from ..runtime.keeper import Keeper

        keeper = Keeper(self.engine.root)
        return keeper.call(fn, *args) if keeper.read() is not None else None

    def _extra_host(self, entry: str) -> tuple[str, str]:
        name, _, ip = entry.partition(":")
        if ip == "host-gateway":
            ip = self._ready().get(DEFAULT_BRIDGE).Gateway
        return name, ip

    def _hotplug(self, c: Container, want: EndpointConfig) -> None:
        """Plug a running container into one more network, as Docker does on connect."""
        from ..network import bridge

        if self.shares_host():
            raise Unsupported(f"network connect: container {c.Name} runs in PRoot mode, on "
                              "the host's network: connect it while it is stopped")
        records = self._ready()
        netns = f"/proc/{c.State.Pid}/ns/net"
        net, ep = records.connect(want.NetworkID, c.ID, c.Name, aliases=want.Aliases,
                                  ip=want.IPv4Address or None)
        try:
            first = len(records.attachments(c.ID)) == 1
            self._where_bridges(_plug, net, ep, netns, first)
        except BaseException:
            with contextlib.suppress(Exception):
                records.disconnect(net.ID, c.ID)
                self._where_bridges(bridge.endpoint_down, ep)
            raise
        self._write_etc(c, in_place=True)

    def settings(self, c: Container) -> dict[str, Any]:
        """The container's ``NetworkSettings`` as Docker shows them."""
        mode = mode_of(c)
        d = self.engine.containers.state_dir(c)
        running = c.State.Running
        pairs: list[tuple[Network, Endpoint]] = []
        if running:
            pairs = self.records.attachments(c.ID)
        elif mode.is_host or mode.is_none:
            with contextlib.suppress(NotFound):
                pairs = [(self.records.get(mode.value), Endpoint(c.ID, c.Name, ""))]
        elif not mode.container:
            for want in read_endpoints(d):
                with contextlib.suppress(NotFound):
                    pairs.append((self.records.get(want.NetworkID),
                                  Endpoint(c.ID, c.Name, "", Aliases=list(want.Aliases),
                                           RequestedIPv4=want.IPv4Address)))
        published = self.port_settings(c)
        out = network_settings(pairs, published)
        if running and mode.private:
            out["SandboxKey"] = f"/proc/{c.State.Pid}/ns/net"
            out["SandboxID"] = c.ID
        return out

    def port_settings(self, c: Container) -> dict[str, list[dict[str, str]] | None]:
        """``NetworkSettings.Ports``: bound ports while it runs (exposed-only as null)."""
        mode = mode_of(c)
        if not c.State.Running or not mode.private or mode.is_none:
            return {}
        d = self.engine.containers.state_dir(c)
        return ports.ports_settings(c.Config.get("ExposedPorts") or {}, read_published(d))

    def names(self, c: Container) -> list[str]:
        """The ``Networks`` column of ``ps``."""
        mode = mode_of(c)
        if mode.container:
            return []
        if mode.is_host or mode.is_none:
            return [mode.value]
        return [w.Name for w in read_endpoints(self.engine.containers.state_dir(c))]

    def forget(self, cid: str) -> None:
        """A container is being removed: nothing of its networking may stay (caller holds
        the store lock)."""
        self._reap(cid)

    # -- clean-up ------------------------------------------------------------------------
    def _alive(self, cid: str) -> bool:
        return self.store.containers.monitor_alive(cid)

    def _reap(self, only: str | None = None) -> list[str]:
        """Release endpoints whose container's monitor is gone, removing their veths and
        ``ports.json``; what was released. Caller holds the store lock (a start takes its
        leases before its monitor holds its lock)."""
        done = []
        for net in self.records.all():
            for cid, ep in list(net.Endpoints.items()):
                if (only is not None and cid != only) or self._alive(cid):
                    continue
                with contextlib.suppress(NotFound):
                    self.records.disconnect(net.ID, cid)
                if ep.HostIfname:
                    from ..network import bridge

                    self._where_bridges(bridge.endpoint_down, ep)
                done.append(f"lease {ep.IPv4Address or '-'} of container {cid[:12]} on "
                            f"network {net.Name}")
                with contextlib.suppress(OSError):
                    forget_published(self.store.containers.dir(cid))
        return done

    def clean_leftovers(self) -> list[str]:
        """Find and remove what dead containers and removed networks left: leases (with
        their veths and published-port files) of containers whose monitor is gone, and
        interfaces named with this store's prefix that no record claims. Returns one line
        per thing removed. Takes the store lock: never call it with the lock held."""
        with self.store.lock():
            done = self._reap()
            for c in self.store.containers.all():
                if not c.State.Running and forget_published(self.store.containers.dir(c.ID)):
                    done.append(f"published-port record of stopped container {c.ID[:12]}")
            claimed = {n.Bridge for n in self.records.all() if n.Bridge}
            claimed |= {ep.HostIfname for n in self.records.all()
                        for ep in n.Endpoints.values() if ep.HostIfname}
            done += self._where_bridges(_sweep, self.records.prefix, claimed) or []
        return done

    # -- the graph -----------------------------------------------------------------------
    def graph(self) -> NetworkGraphData:
        """Networks, the containers on them (running ones with their addresses), and the
        ports they publish."""
        with self.store.lock():
            self._reap()
        nets = self.all()
        networks = [{"id": n.ID, "name": n.Name, "driver": n.Driver, "subnet": n.Subnet,
                     "gateway": n.Gateway, "bridge": n.Bridge, "internal": n.Internal}
                    for n in nets]
        containers = []
        for c in self.engine.containers.all():
            mode = mode_of(c)
            live = {net.ID: ep for net, ep in self.records.attachments(c.ID)}
            endpoints = []
            by_name = {n.Name: n for n in nets}
            for name in self.names(c):
                net = by_name.get(name)
                if net is None:
                    continue
                ep = live.get(net.ID)
                endpoints.append({"network": net.ID, "ip": ep.IPv4Address if ep else "",
                                  "aliases": list(ep.Aliases) if ep else []})
            shown = ports.displayable_ports(ports.summary_ports(self.port_settings(c)))
            containers.append({"id": c.ID, "name": c.Name, "state": c.State.Status,
                               "mode": mode.value, "endpoints": endpoints,
                               "ports": [p for p in shown.split(", ") if p]})
        return NetworkGraphData(networks, containers)


def _plug(net: Network, ep: Endpoint, netns: str, first: bool) -> None:
    """One more endpoint into a running container's namespace (the next ``ethN``)."""
    from ..network import bridge, netlink

    bridge.endpoint_up(net, ep, netns, ifname=netlink.free_ifname(netns), default_route=first)


def _sweep(prefix: str, claimed: set[str]) -> list[str]:
    """Remove the bridges and veths named with ``prefix`` that no record claims."""
    from ..network import netlink

    ours = re.compile(rf"^{re.escape(prefix)}(br0|br-[0-9a-f]+|veth[0-9a-f]+)$")
    done = []
    for name, kind in netlink.links_named(prefix):
        if name in claimed or not ours.match(name) or kind not in ("bridge", "veth"):
            continue
        if kind == "bridge":
            netlink.remove_bridge(name)
        else:
            netlink.detach(name)
        done.append(f"interface {name} ({kind}) claimed by no record")
    return done


NETWORK_FILTERS = frozenset({"driver", "id", "label", "name", "scope", "type", "dangling"})


def _network_matches(net: Network, key: str, value: str) -> bool:
    if key == "driver":
        return net.Driver == value
    if key == "id":
        return net.ID.startswith(value)
    if key == "name":
        return value in net.Name
    if key == "label":
        k, has_value, v = value.partition("=")
        return k in net.Labels and (not has_value or net.Labels[k] == v)
    if key == "scope":
        return value == "local"
    if key == "type":
        return net.user_defined == (value == "custom")
    return (value.lower() in ("true", "1")) == (net.user_defined and not net.Endpoints)
