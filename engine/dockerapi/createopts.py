"""``POST /containers/create``: Docker's ``Config``/``HostConfig``/``NetworkingConfig``
document → the engine's ``CreateOptions``, the same record ``docker run``'s flags make.

The CLI sends every field, most at their zero value. A field LayerLab implements is
taken; a field at its zero value (or at the value that means "Docker's default") is
ignored; anything else is refused with a 400 naming the field and its flag, rather than
silently creating a container that is not what was asked for.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgument
from ..services.containers import CreateOptions
from ..services.networks import NetworkRequest

# Fields whose non-zero values ask for something LayerLab does not do yet, and the flag
# a user typed to ask for it (for the message).
FLAGS = {
    "Binds": "-v", "Mounts": "--mount", "VolumesFrom": "--volumes-from", "Volumes": "-v",
    "PortBindings": "-p", "PublishAllPorts": "-P", "ExposedPorts": "--expose",
    "Links": "--link", "Dns": "--dns", "DnsSearch": "--dns-search",
    "DnsOptions": "--dns-option", "ExtraHosts": "--add-host", "Memory": "--memory",
    "MemorySwap": "--memory-swap", "MemoryReservation": "--memory-reservation",
    "NanoCpus": "--cpus", "CpuShares": "--cpu-shares", "CpusetCpus": "--cpuset-cpus",
    "PidsLimit": "--pids-limit", "Ulimits": "--ulimit", "Devices": "--device",
    "ReadonlyRootfs": "--read-only", "Tmpfs": "--tmpfs",
    "ShmSize": "--shm-size", "Sysctls": "--sysctl", "GroupAdd": "--group-add",
    "PidMode": "--pid", "IpcMode": "--ipc", "UTSMode": "--uts", "UsernsMode": "--userns",
    "CgroupnsMode": "--cgroupns", "Runtime": "--runtime",
    "LogConfig": "--log-driver", "StopSignal": "--stop-signal", "StopTimeout": "--stop-timeout",
    "Healthcheck": "--health-cmd", "Domainname": "--domainname", "MacAddress": "--mac-address",
    "OomKillDisable": "--oom-kill-disable", "OomScoreAdj": "--oom-score-adj",
    "CgroupParent": "--cgroup-parent", "VolumeDriver": "--volume-driver",
    "Isolation": "--isolation", "Shell": "SHELL", "OnBuild": "ONBUILD",
}
# Config fields read below, and fields that carry nothing for the engine.
TAKEN_CONFIG = {"Hostname", "User", "Env", "Cmd", "Entrypoint", "WorkingDir", "Labels",
                "Image", "OpenStdin", "AttachStdin", "Tty"}
IGNORED_CONFIG = {"AttachStdout", "AttachStderr", "StdinOnce", "ArgsEscaped",
                  "NetworkDisabled"}
TAKEN_HOST = {"AutoRemove", "CapAdd", "CapDrop", "Privileged", "SecurityOpt", "NetworkMode",
              "RestartPolicy", "Init", "ConsoleSize"}
IGNORED_HOST = {"ContainerIDFile", "MemorySwappiness", "Annotations"}
# Values that mean "Docker's default" for a field, beside the zero values.
DEFAULTS: dict[str, tuple[Any, ...]] = {
    "LogConfig": ({"Type": "json-file", "Config": {}},),
    "CgroupnsMode": ("private", "host"),
    "Isolation": ("default",),
    "Runtime": ("runc",),
    "PidsLimit": (-1,),
    "MemorySwap": (-1,),
}
NETWORKS = ("", "default", "bridge", "none")


STRUCTS = {"LogConfig", "Healthcheck"}  # objects, not maps


def zero(value: Any, struct: bool = False) -> bool:
    """Go's zero value, as JSON shows it: null, "", 0, false, an empty list or map (a map
    with keys asks for something: ``{"/data": {}}``), a struct of zero fields."""
    if value is None or value is False or value == 0 or value == "":
        return True
    if isinstance(value, dict):
        return not value or (struct and all(zero(v) for v in value.values()))
    if isinstance(value, list):
        return all(zero(v) for v in value)
    return False


def _refuse(where: str, key: str) -> InvalidArgument:
    flag = FLAGS.get(key)
    what = f"{where}.{key}" + (f" ({flag})" if flag else "")
    return InvalidArgument(f"LayerLab does not support {what} yet: create the container "
                           "without it")


def _check(doc: dict[str, Any], where: str, taken: set[str], ignored: set[str]) -> None:
    for key, value in doc.items():
        if key in taken or key in ignored or zero(value, key in STRUCTS):
            continue
        if key == "LogConfig" and value.get("Type") in ("", "json-file") \
                and zero(value.get("Config")):
            continue
        if value in DEFAULTS.get(key, ()):
            continue
        raise _refuse(where, key)


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # Docker's StrSlice takes one string too
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{name} must be a list of strings")
    return list(value)


def create_options(body: Any, name: str) -> tuple[str, CreateOptions]:
    """(image reference, options) from a create request's JSON body and ``name``."""
    if not isinstance(body, dict):
        raise InvalidArgument("config cannot be empty in order to create a container")
    host = body.get("HostConfig") or {}
    networking = body.get("NetworkingConfig") or {}
    config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
    if not isinstance(host, dict) or not isinstance(networking, dict):
        raise InvalidArgument("HostConfig and NetworkingConfig must be objects")
    # HostConfig first: ``-p`` also fills Config.ExposedPorts, and the message should
    # name what the user typed.
    _check(host, "HostConfig", TAKEN_HOST, IGNORED_HOST)
    _check(config, "Config", TAKEN_CONFIG, IGNORED_CONFIG)
    mode = host.get("NetworkMode") or ""
    endpoints = networking.get("EndpointsConfig") or {}
    for network in [mode, *endpoints]:
        if network not in NETWORKS:
            # 400, not 404: a 404 would make the CLI pull the image and try again
            raise InvalidArgument(f"network {network} not found (only 'none' is available until "
                           "networking lands)")
    image = config.get("Image")
    if not isinstance(image, str) or not image:
        raise InvalidArgument("config must name an Image")
    entrypoint = config.get("Entrypoint")
    labels = config.get("Labels") or {}
    if not isinstance(labels, dict):
        raise InvalidArgument("Labels must be an object")
    opts = CreateOptions(
        cmd=_strings(config.get("Cmd"), "Cmd"),
        name=name,
        env=_strings(config.get("Env"), "Env"),
        workdir=config.get("WorkingDir") or "",
        user=config.get("User") or None,
        hostname=config.get("Hostname") or "",
        entrypoint=None if entrypoint is None else _strings(entrypoint, "Entrypoint"),
        interactive=bool(config.get("OpenStdin")),
        auto_remove=bool(host.get("AutoRemove")),
        labels={str(k): str(v) for k, v in labels.items()},
        cap_add=_strings(host.get("CapAdd"), "CapAdd"),
        cap_drop=_strings(host.get("CapDrop"), "CapDrop"),
        privileged=bool(host.get("Privileged")),
        security_opt=_strings(host.get("SecurityOpt"), "SecurityOpt"),
        tty=bool(config.get("Tty")),
        restart=_restart(host.get("RestartPolicy")),
        init=bool(host.get("Init")),
        console_size=_console_size(host.get("ConsoleSize")),
        # the API's networking (EndpointsConfig, PortBindings) is not translated yet: its
        # containers stay offline, as before the engine had networks
        network=NetworkRequest(networks=["none"]),
    )
    return image, opts


def _restart(policy: Any) -> str:
    """``HostConfig.RestartPolicy`` as the ``--restart`` text the engine validates."""
    if not isinstance(policy, dict):
        return "no"
    name, count = str(policy.get("Name") or "no"), policy.get("MaximumRetryCount") or 0
    return f"{name}:{count}" if count else name


def _console_size(value: Any) -> tuple[int, int]:
    """``HostConfig.ConsoleSize``: the client's terminal (rows, cols) for a ``-t`` pty."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value[0], value[1]
    return 0, 0
