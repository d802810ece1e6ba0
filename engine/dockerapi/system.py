"""System endpoints: ``/_ping``, ``/version``, ``/info``.

The CLI starts every command with ``HEAD /_ping`` and speaks ``min(its version, our
Api-Version)`` from then on; ``Builder-Version: 1`` makes CLI 28 use the classic builder.
``/info`` is Docker's document filled with what the engine reports plus facts about the
host; what neither knows stays at Docker's zero value rather than being made up.
"""

from __future__ import annotations

import datetime
import functools
import os
import platform
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..oci.imageconfig import host_arch
from ..version import VERSION
from .responses import JSON, Raw, Response
from .routing import API_VERSION, MIN_API_VERSION, Request, RouteTable

if TYPE_CHECKING:
    from ..services.engine import Engine

routes = RouteTable()

PING_HEADERS = [("Builder-Version", "1"), ("Swarm", "inactive"),
                ("Cache-Control", "no-cache, no-store, must-revalidate"), ("Pragma", "no-cache")]


@routes.route("GET", "/_ping")
@routes.route("HEAD", "/_ping")
def ping(req: Request) -> Response:
    return Raw(b"" if req.method == "HEAD" else b"OK", headers=PING_HEADERS)


@routes.route("GET", "/version")
def version(req: Request) -> Response:
    return JSON(version_document())


@routes.route("GET", "/info")
def info(req: Request) -> Response:
    return JSON(docker_info(engine_facts(req.engine)))


@routes.route("GET", "/system/df")
def disk_usage(req: Request) -> Response:
    """Docker's disk-usage document: the CLI sums it up (``docker system df``) from the
    image and container lists, with their shared sizes and container counts."""
    from . import containers, images

    engine = req.engine
    listed = engine.images.listed(all=True)
    users: dict[str, int] = {}
    for c in engine.containers.all():
        users[c.Image] = users.get(c.Image, 0) + 1
    shared = images.shared_sizes(req, [img for img, _ in listed])
    return JSON({
        "LayersSize": engine.system.disk_usage()[0].size,  # every layer, shared ones once
        "Images": [images.list_item(req, img, tags, shared, users) for img, tags in listed],
        "Containers": [containers.list_item(req, c, size=True)
                       for c in engine.containers.all()],
        "Volumes": [],
        "BuildCache": [],
    })


def engine_facts(engine: Engine) -> dict[str, Any]:
    """The one call into the Engine API this module makes."""
    return engine.system.info()


def version_document() -> dict[str, Any]:
    go_version = "python" + platform.python_version()  # the runtime Docker calls "Go"
    details = {"ApiVersion": API_VERSION, "Arch": host_arch(), "Experimental": "false",
               "GitCommit": git_commit(), "GoVersion": go_version,
               "KernelVersion": platform.release(), "MinAPIVersion": MIN_API_VERSION,
               "Os": "linux"}
    doc: dict[str, Any] = {
        "Platform": {"Name": "LayerLab Engine"},
        "Components": [{"Name": "Engine", "Version": VERSION, "Details": details}],
        "Version": VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": git_commit(),
        "GoVersion": go_version,
        "Os": "linux",
        "Arch": host_arch(),
        "KernelVersion": platform.release(),
    }
    # Docker omits what it does not know (``omitempty``): a copy installed from a wheel
    # has no commit, and no copy of LayerLab records when it was built.
    if not doc["GitCommit"]:
        del doc["GitCommit"], details["GitCommit"]
    return doc


@functools.cache
def git_commit() -> str:
    """The short commit of the checkout this code runs from, read from its ``.git``
    (a directory, or a worktree's ``gitdir:`` file); ``""`` when it is not a checkout."""
    top = Path(__file__).resolve().parents[2]
    dot = top / ".git"
    try:
        if not (top / "pyproject.toml").is_file():
            return ""
        gitdir = dot if dot.is_dir() else top / dot.read_text().split(":", 1)[1].strip()
        commondir = gitdir / "commondir"
        common = gitdir / commondir.read_text().strip() if commondir.is_file() else gitdir
        head = (gitdir / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head[len("ref: "):]
        for base in (gitdir, common):
            if (base / ref).is_file():
                return (base / ref).read_text().strip()[:7]
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line[:7]
    except (OSError, IndexError):
        pass
    return ""


def docker_info(facts: dict[str, Any]) -> dict[str, Any]:
    """Docker's ``/info`` as API 1.43 shapes it, from the engine's ``facts``.

    Docker-named facts are taken as they are. Resource limits (what the engine's cgroups
    can enforce here), runtimes and security options count only when the engine reports
    them; the
    engine's "Isolation" is LayerLab's mode, not Docker's Windows isolation field, so it
    appears as a warning when containers cannot run here.
    """
    warnings = list(facts.get("Warnings", []))
    if facts.get("Isolation") == "none":
        warnings.append(f"WARNING: containers cannot run on this host: "
                        f"{facts.get('IsolationReason', '')}")
    limits = {key: bool(facts.get(key, False)) for key in (
        "MemoryLimit", "SwapLimit", "CpuCfsPeriod", "CpuCfsQuota",
        "CPUShares", "CPUSet", "PidsLimit", "OomKillDisable")}
    return {
        "ID": facts.get("ID", ""),
        "Containers": facts.get("Containers", 0),
        "ContainersRunning": facts.get("ContainersRunning", 0),
        "ContainersPaused": facts.get("ContainersPaused", 0),
        "ContainersStopped": facts.get("ContainersStopped", 0),
        "Images": facts.get("Images", 0),
        "Driver": facts.get("Driver", ""),
        "DriverStatus": facts.get("DriverStatus", []),
        "Plugins": {"Volume": [], "Network": [], "Authorization": None,
                    "Log": ["json-file"]},
        **limits,
        "IPv4Forwarding": _read("/proc/sys/net/ipv4/ip_forward") == "1",
        "BridgeNfIptables": False,
        "BridgeNfIp6tables": False,
        "Debug": False,
        "NFd": len(os.listdir("/proc/self/fd")),
        "NGoroutines": threading.active_count(),
        "SystemTime": datetime.datetime.now().astimezone().isoformat(),
        "LoggingDriver": "json-file",  # container logs are kept in Docker's json-file format
        "CgroupDriver": facts.get("CgroupDriver", "cgroupfs"),
        "CgroupVersion": facts.get("CgroupVersion") or (
            "2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "1"),
        "NEventsListener": 0,
        "KernelVersion": facts.get("KernelVersion", platform.release()),
        "OperatingSystem": facts.get("OperatingSystem", ""),
        "OSVersion": _os_release().get("VERSION_ID", ""),
        "OSType": "linux",
        "Architecture": facts.get("Architecture", platform.machine()),
        "IndexServerAddress": "https://index.docker.io/v1/",  # short names pull from Hub
        "RegistryConfig": None,
        "NCPU": facts.get("NCPU", os.cpu_count()),
        "MemTotal": _mem_total(),
        "GenericResources": None,
        "DockerRootDir": facts.get("DockerRootDir", ""),
        "HttpProxy": _proxy("HTTP_PROXY"),
        "HttpsProxy": _proxy("HTTPS_PROXY"),
        "NoProxy": os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")),
        "Name": socket.gethostname(),
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": facts.get("ServerVersion", VERSION),
        "Runtimes": facts.get("Runtimes", {}),
        "DefaultRuntime": facts.get("DefaultRuntime", ""),
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": False,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": facts.get("SecurityOptions", []),
        "CDISpecDirs": [],
        "Warnings": warnings,
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


@functools.cache
def _os_release() -> dict[str, str]:
    out = {}
    for line in _read("/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        out[key] = value.strip().strip('"')
    return out


def _mem_total() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _proxy(name: str) -> str:
    """The proxy the engine's registry client uses, with any password hidden, as Docker
    shows it."""
    value = os.environ.get(name, os.environ.get(name.lower(), ""))
    parts = urlsplit(value)
    if parts.password is None:
        return value
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return parts._replace(netloc=f"xxxxx:xxxxx@{host}").geturl()
