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
from ..runtime.limits import Resources
from ..runtime.ulimits import Ulimit
from ..services.containers import CreateOptions
from ..services.mounts import parse_mount, parse_tmpfs, parse_volume
from ..services.network_request import NetworkRequest

# Fields whose non-zero values ask for something LayerLab does not do yet, and the flag
# a user typed to ask for it (for the message).
FLAGS = {
    "Links": "--link", "Memory": "--memory",
    "MemorySwap": "--memory-swap", "MemoryReservation": "--memory-reservation",
    "NanoCpus": "--cpus", "CpuShares": "--cpu-shares", "CpusetCpus": "--cpuset-cpus",
    "PidsLimit": "--pids-limit", "Ulimits": "--ulimit", "Devices": "--device",
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
                "Image", "OpenStdin", "AttachStdin", "Tty", "Volumes", "ExposedPorts"}
IGNORED_CONFIG = {"AttachStdout", "AttachStderr", "StdinOnce", "ArgsEscaped",
                  "NetworkDisabled"}
TAKEN_HOST = {"AutoRemove", "CapAdd", "CapDrop", "Privileged", "SecurityOpt", "NetworkMode",
              "Binds", "Mounts", "Tmpfs", "ReadonlyRootfs", "VolumesFrom",
              "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares",
              "CpuPeriod", "CpuQuota",
              "CpusetCpus", "PidsLimit", "OomKillDisable", "Ulimits",
              "PortBindings", "PublishAllPorts", "Dns", "DnsSearch", "DnsOptions", "ExtraHosts",
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


def _mount_flag(m: Any) -> str:
    """An API ``Mount`` object as the ``--mount`` value that makes it (one parser for
    both, so the checks and their wording are the same)."""
    if not isinstance(m, dict):
        raise InvalidArgument("HostConfig.Mounts must be a list of objects")
    fields = [f"type={m.get('Type') or 'volume'}", f"target={m.get('Target') or ''}"]
    if m.get("Source"):
        fields.append(f"source={m['Source']}")
    if m.get("ReadOnly"):
        fields.append("readonly")
    if (m.get("VolumeOptions") or {}).get("NoCopy"):
        fields.append("volume-nocopy")
    for k, v in ((m.get("VolumeOptions") or {}).get("Labels") or {}).items():
        fields.append(f"volume-label={k}={v}")
    if (m.get("BindOptions") or {}).get("Propagation"):
        fields.append(f"bind-propagation={m['BindOptions']['Propagation']}")
    tmpfs = m.get("TmpfsOptions") or {}
    if tmpfs.get("SizeBytes"):
        fields.append(f"tmpfs-size={tmpfs['SizeBytes']}")
    if tmpfs.get("Mode"):
        fields.append(f"tmpfs-mode={tmpfs['Mode']:o}")
    return ",".join(f'"{f}"' if "," in f or '"' in f else f for f in fields)


def _mounts(config: dict[str, Any], host: dict[str, Any]) -> dict[str, Any]:
    """The CreateOptions fields of ``-v`` (``Binds``, and ``Config.Volumes`` for ``-v
    /path``), ``--mount``, ``--tmpfs``, ``--read-only`` and ``--volumes-from``."""
    binds = _strings(host.get("Binds"), "Binds")
    binds += [path for path in (config.get("Volumes") or {})]
    flags = [_mount_flag(m) for m in host.get("Mounts") or []]
    tmpfs = host.get("Tmpfs") or {}
    if not isinstance(tmpfs, dict):
        raise InvalidArgument("HostConfig.Tmpfs must be an object")
    for target, opts in tmpfs.items():
        parse_tmpfs(f"{target}:{opts}" if opts else target)
    return {"mounts": [*map(parse_volume, binds), *map(parse_mount, flags)],
            "binds": _strings(host.get("Binds"), "Binds"), "mount_flags": flags,
            "tmpfs": {str(k): str(v) for k, v in tmpfs.items()},
            "read_only": bool(host.get("ReadonlyRootfs")),
            "volumes_from": _strings(host.get("VolumesFrom"), "VolumesFrom")}


def _network(config: dict[str, Any], host: dict[str, Any],
             networking: dict[str, Any]) -> NetworkRequest:
    """``--network``/``--ip``/``--network-alias``/``-p``/``-P``/``--expose``/``--dns*``/
    ``--add-host`` as the CLI sent them, back in the flags' form: the networks service
    then checks and plans them exactly as for ``docker run``."""
    mode = host.get("NetworkMode") or ""
    endpoints = networking.get("EndpointsConfig") or {}
    if not isinstance(endpoints, dict):
        raise InvalidArgument("NetworkingConfig.EndpointsConfig must be an object")
    names = [mode] if mode not in ("", "default") else []
    names += [n for n in endpoints if n not in names and n != "default"]
    first = endpoints.get(mode) or (next(iter(endpoints.values())) if endpoints else {}) or {}
    publish = []
    for port, bindings in (host.get("PortBindings") or {}).items():
        for b in bindings or [{}]:
            ip, hport = (b or {}).get("HostIp") or "", (b or {}).get("HostPort") or ""
            publish.append(f"{ip}:{hport}:{port}" if ip else f"{hport}:{port}" if hport
                           else port)
    return NetworkRequest(
        networks=names, ip=((first.get("IPAMConfig") or {}).get("IPv4Address") or ""),
        aliases=_strings(first.get("Aliases"), "Aliases"), publish=publish,
        publish_all=bool(host.get("PublishAllPorts")),
        expose=list(config.get("ExposedPorts") or {}),
        dns=_strings(host.get("Dns"), "Dns"), dns_search=_strings(host.get("DnsSearch"),
                                                                   "DnsSearch"),
        dns_option=_strings(host.get("DnsOptions"), "DnsOptions"),
        add_host=_strings(host.get("ExtraHosts"), "ExtraHosts"))


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
        network=_network(config, host, networking),
        **_mounts(config, host),
        resources=Resources.from_host_config(host),  # checked by the route (limits.check)
        ulimits=[Ulimit.from_record(u) for u in host.get("Ulimits") or []],
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
