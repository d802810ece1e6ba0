"""One start of a container's networking, from its leases to its last proxy.

Made by the starter under the store lock (``services.networks.Networks.start``): the
leases are in the records, ``-p`` ports are bound on the host (so a taken port fails the
start with the engine's own error before anything runs), ``/etc/hosts`` and
``/etc/resolv.conf`` are written. The monitor inherits it across its fork and finishes it:

* ``plumb(pid)`` — the monitor's ``prepare`` hook, once the init's namespaces exist and
  before its command runs: each endpoint's veth into ``/proc/<pid>/ns/net`` (``eth0``
  first, which alone gets the default route), then the DNS responder (user-defined networks)
  and the port proxies on one ``Background`` loop, all holding one fd of that namespace;
* ``close()`` — when the container has exited (or failed to start): the services stop,
  every endpoint the records hold for the container is released (those a later
  ``network connect`` added included) and its veth removed, and ``ports.json`` goes.

Records go before the kernel: a failure half-way leaves an interface no record claims,
which ``Networks.clean_leftovers`` finds by its name, never a lease nobody frees.
The starter calls ``abort()`` if the start failed and ``starter_done()`` once the monitor
has its copies of the descriptors.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .model import Endpoint, Network, NetworkStore
from .ports import Published
from .sandbox import forget_published

if TYPE_CHECKING:
    from .service import Background

# The modules ``plumb`` and ``close`` import in the monitor. A starter loads what a
# session needs of them first (``Session.preload``), so the monitors it forks inherit
# them: pyroute2 (``bridge``) alone is 110 ms of CPU here (240 with its package init,
# which ``netlink`` skips).
WIRING = ("bridge", "netns", "proxy", "service", "dns")


def preload_wiring(names: tuple[str, ...] = WIRING) -> None:
    """Import ``names`` of ``WIRING`` (all: for a process that forks every start, the
    API's spawner)."""
    for name in names:
        importlib.import_module(f"{__package__}.{name}")


@dataclass
class Session:
    records: NetworkStore
    container_id: str
    state_dir: Path
    attachments: list[tuple[Network, Endpoint]] = field(default_factory=list)
    listeners: list[tuple[socket.socket, Published]] = field(default_factory=list)
    dns: bool = False  # the embedded DNS (the container is on a user-defined network)
    netns_fd: int | None = None  # --network container:NAME, for the init to setns into
    hostname: str | None = None  # set when the netns owner's hostname is used
    etc_dir: Path | None = None  # whose hosts/resolv.conf/hostname to bind (default: own)
    _ns_fd: int | None = None
    _background: Background | None = None

    private: bool = True  # a network namespace of its own (not host, not container:)
    shared_host: bool = False  # PRoot: on the host's network, -p relays to its loopback

    @property
    def pass_fds(self) -> list[int]:
        """Descriptors the monitor must keep across its fork."""
        fds = [sock.fileno() for sock, _ in self.listeners]
        return fds + ([self.netns_fd] if self.netns_fd is not None else [])

    @property
    def container_ip(self) -> str:
        """Where the proxies connect inside the namespace: the first endpoint's address
        (what Docker's proxy reaches), else the container's loopback."""
        for _, ep in self.attachments:
            if ep.IPv4Address:
                return ep.IPv4Address
        return "127.0.0.1"

    # -- in the monitor ------------------------------------------------------------------
    def plumb(self, pid: int) -> None:
        """Wire the init's network namespace and start its services; on failure, undo."""
        if self.netns_fd is not None:  # the init has setns'd (or will) with its own copy
            os.close(self.netns_fd)
            self.netns_fd = None
        if not self.attachments and not self.listeners and not self.dns:
            return
        if self.shared_host:  # no namespace to wire: only the proxies, on the host
            self._serve(None)
            return
        netns = f"/proc/{pid}/ns/net"
        try:
            from . import bridge

            for i, (net, ep) in enumerate(self.attachments):
                bridge.endpoint_up(net, ep, netns, ifname=f"eth{i}", default_route=i == 0)
            self._serve(netns)
        except BaseException:
            self.close()
            raise

    def _serve(self, netns: str | None) -> None:
        from .netns import open_netns
        from .proxy import proxy
        from .service import Background, NetService

        self._ns_fd = open_netns(netns) if netns is not None else None
        services: list[NetService] = []
        if self.dns:
            from .dns import ContainerNames, DNSResponder, open_dns_sockets

            udp, tcp = open_dns_sockets(self._ns_fd)
            names = ContainerNames(self.records, self.container_id)
            services.append(DNSResponder(udp, tcp, names.resolve, names.reverse))
        ip = self.container_ip
        for sock, p in self.listeners:
            services.append(proxy(sock, p.proto, self._ns_fd, ip, p.container_port))
        self._background = Background(services, name=f"net-{self.container_id[:12]}").start()

    def close(self) -> None:
        """Stop the services, release every endpoint and remove its veth; idempotent, and
        never raises (the container's exit must be recorded whatever happens here)."""
        if self._background is not None:
            with contextlib.suppress(Exception):
                self._background.stop()
            self._background = None
        self._close_fds()
        with contextlib.suppress(Exception):
            released = self.records.disconnect_all(self.container_id)
            if any(ep.HostIfname for _, ep in released):
                from . import bridge

                for _, ep in released:
                    with contextlib.suppress(Exception):
                        bridge.endpoint_down(ep)
        with contextlib.suppress(OSError):
            forget_published(self.state_dir)

    def _close_fds(self) -> None:
        for sock, _ in self.listeners:
            with contextlib.suppress(OSError):
                sock.close()
        for fd in (self._ns_fd, self.netns_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._ns_fd = self.netns_fd = None

    # -- in the starter ------------------------------------------------------------------
    def preload(self) -> None:
        """Import, here in the starter, the ``WIRING`` this session's monitor will use: a
        long-lived starter (a notebook kernel) so loads pyroute2 once, not in every
        container's monitor."""
        wanted: list[str] = []
        if self.attachments and not self.shared_host:
            wanted.append("bridge")
        if self.attachments or self.listeners or self.dns:
            wanted += ["netns", "proxy", "service"]
        if self.dns:
            wanted.append("dns")
        preload_wiring(tuple(wanted))

    def starter_done(self) -> None:
        """The monitor holds its own copies of the listeners and the netns fd now."""
        self._close_fds()

    def abort(self) -> None:
        """The start failed: give back everything the starter took."""
        self.close()
