"""Container networking: Docker's networks, names and published ports, on plain Linux.

The pieces, each usable alone (the container runtime wires them together):

* ``model``   — network records and endpoints (leases), as ``docker network`` shows them;
* ``ipam``    — subnets, gateways and addresses, from Docker's default pools;
* ``netlink`` — bridges, veth pairs, addresses and routes through pyroute2;
* ``bridge``  — the bridge driver: records put into the kernel;
* ``netns``   — sockets created inside a container's network namespace;
* ``dns``     — the embedded DNS on 127.0.0.11 for user-defined networks;
* ``proxy``   — the userland port proxy behind ``-p``;
* ``ports``   — ``-p`` parsing and the port shapes of inspect, ``ps`` and ``port``;
* ``service`` — running DNS and proxies in the monitor (or as a process).

No IP forwarding, NAT or firewall rule is ever set: containers on one bridge talk at layer
2, the host reaches published ports through the proxy, and nothing reaches beyond the
machine.
"""
