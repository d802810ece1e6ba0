"""``/containers/{id}/stats`` and ``/containers/{id}/update``: the engine's cgroup samples
and limits in Docker's wire shapes, so the docker CLI's own ``stats`` arithmetic (CPU %
from ``cpu_stats`` against ``precpu_stats``, memory, block I/O, network, PIDs) and its
``update`` work against this engine."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidArgument
from ..runtime.limits import Resources
from ..services.engine import Engine
from ..services.stats import Sample
from ..store.containers import Container

INTERVAL = 1.0  # seconds between samples, as Docker's collector


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cpu(s: Sample) -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": s.cpu_ns, "usage_in_kernelmode": 0,
                          "usage_in_usermode": 0},
            "system_cpu_usage": s.system_ns, "online_cpus": s.online_cpus,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def stats_json(c: Container, pre: Sample | None, now: Sample, preread: str) -> dict[str, Any]:
    """Docker's ``StatsResponse`` for one interval (``pre`` None: a one-shot reading).
    ``memory_stats.usage`` is already net of the inactive page cache, so ``stats`` is
    empty and the CLI subtracts nothing."""
    return {
        "read": _now(), "preread": preread, "id": c.ID, "name": "/" + c.Name,
        "pids_stats": {"current": now.pids}, "num_procs": 0,
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 0, "minor": 0, "op": "read", "value": now.blk_read},
            {"major": 0, "minor": 0, "op": "write", "value": now.blk_write}]},
        "cpu_stats": _cpu(now), "precpu_stats": _cpu(pre or Sample(online_cpus=0)),
        "memory_stats": {"usage": now.memory, "stats": {}, "limit": now.limit},
        "networks": {"eth0": {"rx_bytes": now.net_rx, "tx_bytes": now.net_tx, "rx_packets": 0,
                              "tx_packets": 0, "rx_errors": 0, "tx_errors": 0,
                              "rx_dropped": 0, "tx_dropped": 0}},
    }


def stats_stream(engine: Engine, name: str, stream: bool, one_shot: bool) -> Iterator[bytes]:
    """One JSON document per interval (``stream``), or one: over an interval, as Docker's
    ``stream=false``, or at once without ``precpu_stats`` (``one-shot``)."""
    c = engine.containers.get(name)
    pre, preread = (None, "0001-01-01T00:00:00Z") if one_shot else (engine.stats.sample(c),
                                                                    _now())
    while True:
        if pre is not None:
            time.sleep(INTERVAL)
        c = engine.containers.get(c.ID)
        now = engine.stats.sample(c)
        yield (json.dumps(stats_json(c, pre, now, preread)) + "\n").encode()
        if not stream:
            return
        pre, preread = now, _now()


def update(engine: Engine, name: str, body: Any) -> dict[str, Any]:
    """``POST /containers/{id}/update``: the limits in ``body`` (the CLI sends every field,
    unset ones at zero); a restart policy is not LayerLab's to change here yet."""
    if not isinstance(body, dict):
        raise InvalidArgument("update: the body must be an object")
    policy = body.get("RestartPolicy") or {}
    if policy.get("Name") not in (None, "", "no"):
        raise InvalidArgument("LayerLab does not support update --restart yet")
    _, warnings = engine.limits.update(name, Resources.from_host_config(body))
    return {"Warnings": warnings}
