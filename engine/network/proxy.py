"""The userland port proxy (LayerLab's docker-proxy) behind ``-p [IP:]HOST:CONTAINER``.

It listens on the host address and, for each TCP connection (or each UDP client), opens a
socket *inside the container's network namespace* (``netns.socket_in_netns``) and connects
it to the container's port, then relays both ways. Reaching into the namespace instead of
routing to the container's bridge address means ``-p`` needs no bridge, no forwarding, no
NAT and no root: rootless containers publish on the host's loopback the same way, as long
as the proxy runs in the store's user namespace.

It runs in the container's monitor (``publish`` → ``service.Background``) or as a process of
its own (``python -m layerlab.engine.network.proxy``). Listening sockets are opened before
serving starts, so the bound port (ephemeral ones included) is known and connections
arriving early wait in the backlog. TCP half-closes are passed on (a client's EOF reaches
the server as EOF, and the reply still comes back); UDP clients get a flow each, dropped
after 90 s of silence as docker-proxy does.

The network namespace fd given to a proxy pins that namespace (not whatever process later
reuses the PID); whoever opened it closes it after stopping the proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import Conflict, EngineError, Unsupported
from .netns import open_netns, socket_in_netns
from .ports import ALL_IPV4, PortBinding, Published
from .service import NetService, run_forever

BUFSIZE = 65536
UDP_IDLE = 90.0  # docker-proxy's UDPConnTrackTimeout
KINDS = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}
# accept(2) errors about one pending connection, not the listener: accept(2) says to retry
TRANSIENT_ACCEPT = {errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ENETDOWN,
                    errno.ENOPROTOOPT, errno.EHOSTDOWN, errno.ENONET, errno.EHOSTUNREACH,
                    errno.EOPNOTSUPP, errno.ENETUNREACH}


def _family(ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def open_listener(host_ip: str, host_ports: Iterable[int] | None, proto: str) -> socket.socket:
    """A socket bound on the host (listening, for TCP) to the first free port of
    ``host_ports``, or to an ephemeral one when None."""
    if proto not in KINDS:
        raise Unsupported(f"cannot publish {proto} ports: the userland proxy relays tcp "
                          "and udp")
    ip = host_ip or ALL_IPV4
    last = 0
    for port in host_ports if host_ports is not None else [0]:
        last = port
        sock = socket.socket(_family(ip), KINDS[proto])
        try:
            if proto == "tcp":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((ip, port))
            if proto == "tcp":
                sock.listen(128)
            return sock
        except OSError as e:
            sock.close()
            if e.errno == errno.EADDRINUSE:
                continue
            if e.errno == errno.EADDRNOTAVAIL:
                raise Conflict(f"Bind for {ip}:{port} failed: cannot assign requested "
                               "address (no such address on this host)") from None
            if e.errno == errno.EACCES:
                raise Unsupported(f"Bind for {ip}:{port} failed: permission denied (ports "
                                  "below 1024 need root)") from None
            raise
    raise Conflict(f"Bind for {ip}:{last} failed: port is already allocated")


@dataclass
class _Target:
    ns_fd: int | None
    ip: str
    port: int

    def socket(self, kind: int) -> socket.socket:
        sock = socket_in_netns(self.ns_fd, _family(self.ip), kind)
        sock.setblocking(False)
        return sock


def _close(*socks: socket.socket) -> None:
    for s in socks:
        with contextlib.suppress(OSError):
            s.close()


class TcpProxy:
    """Accepts on ``listener``; each connection is relayed to ``target`` in the netns."""

    def __init__(self, listener: socket.socket, target: _Target) -> None:
        self.listener = listener
        self.target = target

    async def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await loop.sock_recv(src, BUFSIZE):
                await loop.sock_sendall(dst, data)
        except OSError:  # a reset on one side ends both directions
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            return
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)  # pass the EOF on; the other direction goes on

    async def _relay(self, client: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        inner: socket.socket | None = None
        try:
            inner = self.target.socket(socket.SOCK_STREAM)
            await loop.sock_connect(inner, (self.target.ip, self.target.port))
            await asyncio.gather(self._pipe(client, inner), self._pipe(inner, client))
        except OSError:  # nothing listens in the container (yet): drop the client
            pass
        finally:
            _close(client, *([inner] if inner is not None else []))

    async def serve(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self.listener.setblocking(False)
        relays: set[asyncio.Task[None]] = set()

        async def accept() -> None:
            while True:
                try:
                    client, _ = await loop.sock_accept(self.listener)
                except OSError as e:
                    if e.errno in TRANSIENT_ACCEPT:  # that one client is gone; go on
                        continue
                    raise  # e.g. out of descriptors: fail visibly (Background.stop raises)
                client.setblocking(False)
                task = asyncio.create_task(self._relay(client))
                relays.add(task)
                task.add_done_callback(relays.discard)

        acceptor = asyncio.create_task(accept())
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({acceptor, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if acceptor.done():
                acceptor.result()
        finally:
            for task in (acceptor, stopped, *relays):
                task.cancel()
            await asyncio.gather(acceptor, stopped, *relays, return_exceptions=True)
            _close(self.listener)


@dataclass
class _Flow:
    sock: socket.socket
    last: float  # time.monotonic() of the last datagram either way


class UdpProxy:
    """One flow per client address: a socket in the netns connected to ``target``."""

    def __init__(self, listener: socket.socket, target: _Target) -> None:
        self.listener = listener
        self.target = target
        self.flows: dict[tuple[str, int], _Flow] = {}

    def _from_client(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                data, addr = self.listener.recvfrom(BUFSIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            flow = self.flows.get(addr)
            if flow is None:
                try:
                    sock = self.target.socket(socket.SOCK_DGRAM)
                    sock.connect((self.target.ip, self.target.port))
                except OSError:
                    continue
                flow = self.flows[addr] = _Flow(sock, time.monotonic())
                loop.add_reader(sock.fileno(), self._from_container, addr)
            flow.last = time.monotonic()
            with contextlib.suppress(OSError):
                flow.sock.send(data)

    def _from_container(self, addr: tuple[str, int]) -> None:
        flow = self.flows.get(addr)
        if flow is None:
            return
        while True:
            try:
                data = flow.sock.recv(BUFSIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ICMP port unreachable from the container: keep the flow
                return
            flow.last = time.monotonic()
            with contextlib.suppress(OSError):
                self.listener.sendto(data, addr)

    def _drop(self, addr: tuple[str, int]) -> None:
        flow = self.flows.pop(addr)
        asyncio.get_running_loop().remove_reader(flow.sock.fileno())
        _close(flow.sock)

    async def serve(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self.listener.setblocking(False)
        loop.add_reader(self.listener.fileno(), self._from_client)
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), UDP_IDLE / 3)
                idle = time.monotonic() - UDP_IDLE
                for addr in [a for a, f in self.flows.items() if f.last < idle]:
                    self._drop(addr)
        finally:
            loop.remove_reader(self.listener.fileno())
            for addr in list(self.flows):
                self._drop(addr)
            _close(self.listener)


def proxy(listener: socket.socket, proto: str, ns_fd: int | None, container_ip: str,
          container_port: int) -> NetService:
    """A proxy for one bound ``listener`` to ``container_ip:container_port`` in ``ns_fd``."""
    target = _Target(ns_fd, container_ip, container_port)
    return TcpProxy(listener, target) if proto == "tcp" else UdpProxy(listener, target)


def publish(bindings: Iterable[PortBinding], ns_fd: int | None,
            container_ip: str = "127.0.0.1") -> tuple[list[Published], list[NetService]]:
    """Bind every ``-p`` binding on the host; what got bound, and the proxies to serve it.

    Either all bind or none stays bound (a taken port fails the whole start, as in Docker).
    ``container_ip`` is the address the proxies connect to inside the namespace: the
    endpoint's address on a bridge network (what Docker's proxy reaches), 127.0.0.1 when
    the container has no bridge endpoint.
    """
    published: list[Published] = []
    services: list[NetService] = []
    listeners: list[socket.socket] = []
    try:
        for b in bindings:
            sock = open_listener(b.host_ip, b.host_ports(), b.proto)
            listeners.append(sock)
            host_ip, host_port = sock.getsockname()[:2]
            published.append(Published(b.container_port, b.proto, host_ip, host_port))
            services.append(proxy(sock, b.proto, ns_fd, container_ip, b.container_port))
    except BaseException:
        _close(*listeners)
        raise
    return published, services


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m layerlab.engine.network.proxy``: one published port as its own process.

    Prints the bound ``IP:PORT`` on stdout once listening (the ephemeral port, when
    ``--host-port 0``), then serves until SIGTERM/SIGINT and exits 0.
    """
    parser = argparse.ArgumentParser(prog="layerlab-proxy", description=main.__doc__)
    parser.add_argument("--netns", help="network namespace path, e.g. /proc/PID/ns/net "
                        "(default: connect from the proxy's own namespace)")
    parser.add_argument("--proto", choices=sorted(KINDS), default="tcp")
    parser.add_argument("--container-ip", default="127.0.0.1")
    parser.add_argument("--container-port", type=int, required=True)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen-fd", type=int, help="an already bound (and listening) socket")
    where.add_argument("--host-port", type=int, help="port to bind; 0 for an ephemeral one")
    parser.add_argument("--host-ip", default="127.0.0.1")
    args = parser.parse_args(argv)
    ns_fd = open_netns(args.netns) if args.netns else None
    try:
        if args.listen_fd is not None:
            listener = socket.socket(fileno=args.listen_fd)
        else:
            listener = open_listener(args.host_ip, [args.host_port] if args.host_port else None,
                                     args.proto)
        ip, port = listener.getsockname()[:2]
        print(f"{ip}:{port}", flush=True)
        run_forever([proxy(listener, args.proto, ns_fd, args.container_ip,
                           args.container_port)])
    except EngineError as e:
        print(f"layerlab-proxy: {e}", file=sys.stderr)
        return 1
    finally:
        if ns_fd is not None:
            os.close(ns_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
