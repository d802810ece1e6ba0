"""Network endpoints (``/networks…``) and the event stream (``/events``).

Both are the engine's networks service and event log as the Docker Engine API shows them:
``/networks`` lists the same objects ``network inspect`` prints, filtered by the rules
``network ls -f`` uses (``services.networks.matching``); ``/events`` replays the store's
event log and follows it, one JSON message per line, as the daemon streams them.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import InvalidArgument
from ..services.events import EventFilter
from .responses import JSON, Progress, Raw, Response
from .routing import Request, RouteTable

routes = RouteTable()
OK = Raw(b"", 200)


@routes.route("GET", "/networks")
def list_networks(req: Request) -> Response:
    return JSON([net.inspect() for net in req.engine.networks.matching(req.query.filters())])


@routes.route("POST", "/networks/create")
def create(req: Request) -> Response:
    body = _body(req)
    name = body.get("Name") or ""
    if not name:
        raise InvalidArgument("network name is required")
    configs = (body.get("IPAM") or {}).get("Config") or [{}]
    if len(configs) > 1:
        raise InvalidArgument("LayerLab networks have one IPv4 subnet: give one IPAM config")
    if body.get("EnableIPv6"):
        raise InvalidArgument("IPv6 networks are not supported by LayerLab")
    net = req.engine.networks.create(
        name, driver=body.get("Driver") or "bridge", subnet=configs[0].get("Subnet") or None,
        gateway=configs[0].get("Gateway") or None, internal=bool(body.get("Internal")),
        labels=dict(body.get("Labels") or {}))
    return JSON({"Id": net.ID, "Warning": ""}, 201)


@routes.route("POST", "/networks/prune")
def prune(req: Request) -> Response:
    if any(req.query.filters().values()):
        raise InvalidArgument("network prune filters are not supported by the API here; "
                              "use docker network prune --filter")
    return JSON({"NetworksDeleted": [n.Name for n in req.engine.networks.prune()] or None})


@routes.route("GET", "/networks/{id}")
def inspect(req: Request) -> Response:
    return JSON(req.engine.networks.inspect(req.id))


@routes.route("DELETE", "/networks/{id}")
def remove(req: Request) -> Response:
    req.engine.networks.remove(req.id)
    return Raw(b"", 204)


@routes.route("POST", "/networks/{id}/connect")
def connect(req: Request) -> Response:
    body = _body(req)
    endpoint = body.get("EndpointConfig") or {}
    ip = (endpoint.get("IPAMConfig") or {}).get("IPv4Address") or None
    req.engine.networks.connect(req.id, _container(body), list(endpoint.get("Aliases") or []),
                                ip)
    return OK


@routes.route("POST", "/networks/{id}/disconnect")
def disconnect(req: Request) -> Response:
    body = _body(req)
    req.engine.networks.disconnect(req.id, _container(body), bool(body.get("Force")))
    return OK


@routes.route("GET", "/events")
def events(req: Request) -> Response:
    """Logged events since ``since``, then live ones until ``until`` or the client goes;
    API < 1.52 clients get the legacy ``status``/``id``/``from`` fields too."""
    start = time.time_ns()
    since, until = req.query.nanos("since"), req.query.nanos("until")
    if until and until < since:
        raise InvalidArgument("`since` time cannot be after `until` time")
    wanted = EventFilter([(k, v) for k, values in req.query.filters().items() for v in values])
    legacy = not req.api_at_least("1.52")
    stream = req.engine.events.replay_and_follow(start, since, until, stop=req.gone.is_set)
    return Progress((ev.legacy_record() if legacy else ev.record()
                     for ev in stream if wanted(ev)), eager_headers=True)


def _body(req: Request) -> dict[str, Any]:
    body = req.json() or {}
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object")
    return body


def _container(body: dict[str, Any]) -> str:
    name = body.get("Container") or ""
    if not name:
        raise InvalidArgument("a container name or ID is required (Container)")
    return str(name)
