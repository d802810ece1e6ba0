"""The embedded DNS of user-defined networks: containers find each other by name.

Docker answers on 127.0.0.11 inside each container on a user-defined network; so does this.
The container's monitor creates a UDP and a TCP socket *inside* the container's network
namespace bound to 127.0.0.11:53 (``open_dns_sockets``: a socket keeps the namespace it was
born in, so no iptables redirect is needed, unlike Docker's), and serves them from its
network thread (``service.Background``). ``/etc/resolv.conf`` in the container then says
``nameserver 127.0.0.11`` with ``options ndots:0``, as Docker writes it.

Answers come from the network records at query time (``ContainerNames``), so containers
that join or leave are seen at once:

* ``A`` for a container's name, its ``--network-alias``\\ es and its short ID on any
  user-defined network the asking container is on, and for ``NAME.NETWORK``; several
  containers sharing an alias all answer;
* ``PTR`` for their addresses (``NAME.NETWORK.``);
* a known name asked for another type (``AAAA``): no error and no answer, so resolvers do
  not give up on the ``A`` they also asked for;
* anything else: ``NXDOMAIN``. Nothing is forwarded upstream — this machine has no route
  to the internet, and containers here get no outbound connectivity to need it.

dnspython does the wire format (names, compression, EDNS, truncation): it is typed,
actively maintained, and keeps this module to the policy above. The default bridge has no
embedded DNS, as in Docker (containers there use addresses, or ``--add-host``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Callable
from ipaddress import IPv4Address

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from .model import Network, NetworkStore
from .netns import socket_in_netns

DNS_ADDRESS = "127.0.0.11"
DNS_PORT = 53
TTL = 600  # Docker's respTTL
TCP_IDLE = 30.0  # seconds a TCP client may stay silent before we hang up

Resolve = Callable[[str], list[IPv4Address]]
Reverse = Callable[[IPv4Address], str | None]


def open_dns_sockets(ns_fd: int | None, address: str = DNS_ADDRESS,
                     port: int = DNS_PORT) -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets bound to ``address:port`` inside the namespace ``ns_fd``.

    The namespace's ``lo`` must be up (127.0.0.11 is local only then). Created here, served
    anywhere: the sockets stay in that namespace whichever thread uses them.
    """
    udp = socket_in_netns(ns_fd, socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket_in_netns(ns_fd, socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind((address, port))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((address, port))
        tcp.listen(64)
    except OSError:
        udp.close()
        tcp.close()
        raise
    return udp, tcp


def _reverse_ip(name: str) -> IPv4Address | None:
    """``4.0.213.10.in-addr.arpa`` → 10.213.0.4."""
    labels = name.split(".")
    if len(labels) != 6 or labels[4:] != ["in-addr", "arpa"]:
        return None
    try:
        return IPv4Address(".".join(reversed(labels[:4])))
    except ipaddress.AddressValueError:
        return None


def answer(query: bytes, resolve: Resolve, reverse: Reverse | None = None,
           max_size: int = 512) -> bytes | None:
    """The response to one DNS message, or None when it is not even a DNS header."""
    try:
        msg = dns.message.from_wire(query)
    except dns.exception.DNSException:
        if len(query) < 12:
            return None
        header = query[:2] + bytes([0x80 | (query[2] & 0x78), dns.rcode.FORMERR]) + bytes(8)
        return header
    response = dns.message.make_response(msg)
    response.flags |= dns.flags.AA
    if msg.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
    elif len(msg.question) != 1 or msg.question[0].rdclass != dns.rdataclass.IN:
        response.set_rcode(dns.rcode.FORMERR if not msg.question else dns.rcode.REFUSED)
    else:
        _fill(response, msg.question[0], resolve, reverse)
    if msg.edns >= 0:
        max_size = max(max_size, msg.payload)
    return response.to_wire(max_size=max_size, prefer_truncation=True)


def _fill(response: dns.message.Message, question: dns.rrset.RRset, resolve: Resolve,
          reverse: Reverse | None) -> None:
    qname = question.name
    name = qname.to_text(omit_final_dot=True).lower()
    if question.rdtype == dns.rdatatype.PTR and reverse is not None:
        ip = _reverse_ip(name)
        target = reverse(ip) if ip is not None else None
        if target is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return
        response.answer.append(dns.rrset.from_text(qname, TTL, "IN", "PTR", target + "."))
        return
    found = resolve(name)
    if not found:
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype == dns.rdatatype.A:
        response.answer.append(
            dns.rrset.from_text_list(qname, TTL, "IN", "A", [str(ip) for ip in found]))
    # other types of a known name: NOERROR with an empty answer (NODATA)


class ContainerNames:
    """What one container can resolve: the endpoints of the user-defined networks it is on,
    read from the records at each query."""

    def __init__(self, store: NetworkStore, container_id: str) -> None:
        self.store = store
        self.container_id = container_id

    def _networks(self) -> list[Network]:
        return [n for n in self.store.all()
                if n.user_defined and self.container_id in n.Endpoints]

    def resolve(self, name: str) -> list[IPv4Address]:
        name = name.lower()
        nets = self._networks()
        found: list[IPv4Address] = []
        for net in nets:
            for ep in net.Endpoints.values():
                if ep.IPv4Address and name in (n.lower() for n in ep.dns_names()):
                    found.append(IPv4Address(ep.IPv4Address))
        if not found and "." in name:  # NAME.NETWORK
            head, _, net_name = name.partition(".")
            for net in nets:
                if net.Name.lower() == net_name:
                    found = [IPv4Address(ep.IPv4Address) for ep in net.Endpoints.values()
                             if ep.IPv4Address and head in (n.lower() for n in ep.dns_names())]
        return sorted(set(found))

    def reverse(self, ip: IPv4Address) -> str | None:
        for net in self._networks():
            for ep in net.Endpoints.values():
                if ep.IPv4Address == str(ip):
                    return f"{ep.Name}.{net.Name}"
        return None


class DNSResponder:
    """Serves ``answer`` on an open UDP and TCP socket pair until stopped."""

    def __init__(self, udp: socket.socket, tcp: socket.socket, resolve: Resolve,
                 reverse: Reverse | None = None) -> None:
        self.udp = udp
        self.tcp = tcp
        self.resolve = resolve
        self.reverse = reverse

    def _answer(self, query: bytes, max_size: int) -> bytes | None:
        try:
            return answer(query, self.resolve, self.reverse, max_size)
        except Exception:  # a broken record must not kill the responder: SERVFAIL
            if len(query) < 12:
                return None
            return query[:2] + bytes([0x80 | (query[2] & 0x78), dns.rcode.SERVFAIL]) + bytes(8)

    async def serve(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        responder = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                reply = responder._answer(data, 512)
                if reply is not None:
                    self.transport.sendto(reply, addr)  # type: ignore[attr-defined]

        clients: set[asyncio.Task[None]] = set()

        async def tcp_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            clients.add(task)
            try:
                while True:
                    size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2),
                                                                 TCP_IDLE), "big")
                    query = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE)
                    reply = self._answer(query, 65535)
                    if reply is None:
                        break
                    writer.write(len(reply).to_bytes(2, "big") + reply)
                    await writer.drain()
            except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                pass
            finally:
                clients.discard(task)
                writer.close()

        transport, _ = await loop.create_datagram_endpoint(Udp, sock=self.udp)
        server = await asyncio.start_server(tcp_client, sock=self.tcp)
        try:
            await stop.wait()
        finally:
            server.close()
            transport.close()
            for task in list(clients):
                task.cancel()
            await asyncio.gather(*clients, return_exceptions=True)
            with contextlib.suppress(Exception):
                await server.wait_closed()
