"""Dockerfile metadata instructions applied to an image config (``commit -c``, ``import -c``).

The ``set_*``/``add_*`` primitives say how each instruction changes the config; the builder
applies them too, after its own parsing and variable expansion. As ``-c`` lines, only the
instructions that change configuration, not the filesystem, are accepted, as in Docker:
CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from typing import Any

from ..errors import InvalidArgument

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
           "VOLUME", "WORKDIR")


def command_form(text: str, shell: list[str] | None = None) -> list[str]:
    """Exec form ``["a","b"]`` as is; shell form wrapped in ``/bin/sh -c``."""
    text = text.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return [*(shell or ["/bin/sh", "-c"]), text]


def key_values(text: str, instruction: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"`` pairs, or the legacy ``K V`` form (ENV/LABEL)."""
    words = shlex.split(text, posix=True)
    if words and "=" not in words[0]:
        if len(words) < 2:
            raise InvalidArgument(f"{instruction} requires at least one argument")
        return [(words[0], text.strip().split(None, 1)[1])]
    pairs = []
    for w in words:
        key, sep, value = w.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{instruction}: {w!r} is not of the form KEY=VALUE")
        pairs.append((key, value))
    return pairs


def set_env(config: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    """ENV: later values replace earlier ones of the same name, order kept otherwise."""
    env = list(config.get("Env") or [])
    for key, value in pairs:
        env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
    config["Env"] = env


def set_labels(config: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    labels = dict(config.get("Labels") or {})
    labels.update(pairs)
    config["Labels"] = labels


def exposed_ports(specs: list[str]) -> list[str]:
    """EXPOSE ``80``, ``53/udp``, ``8000-8002``: the ``port/proto`` keys Docker stores."""
    out = []
    for spec in specs:
        port, _, proto = spec.partition("/")
        proto = proto.lower() or "tcp"
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"Invalid proto: {proto}")
        first, dash, last = port.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()) or \
                int(last if dash else first) > 65535:
            raise InvalidArgument(f"Invalid containerPort: {port}")
        if dash and int(last) < int(first):
            raise InvalidArgument(f"Invalid range specified for the Port: {port}")
        out += [f"{n}/{proto}" for n in range(int(first), int(last if dash else first) + 1)]
    return out


def add_ports(config: dict[str, Any], specs: list[str]) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    ports.update({p: {} for p in exposed_ports(specs)})
    config["ExposedPorts"] = ports


def add_volumes(config: dict[str, Any], paths: list[str]) -> None:
    if any(not p.strip() for p in paths):
        raise InvalidArgument("VOLUME specified can not be an empty string")
    vols = dict(config.get("Volumes") or {})
    vols.update({p: {} for p in paths})
    config["Volumes"] = vols


def set_workdir(config: dict[str, Any], path: str) -> str:
    """WORKDIR: relative paths go on from the current one; returns the absolute result."""
    config["WorkingDir"] = posixpath.normpath(posixpath.join("/", config.get("WorkingDir")
                                                             or "/", path))
    return str(config["WorkingDir"])


def apply(config: dict[str, Any], line: str) -> None:
    """Apply one instruction line to the image's ``config`` section, in place."""
    word, _, rest = line.strip().partition(" ")
    ins = word.upper()
    if ins not in ALLOWED:
        raise InvalidArgument(
            f"{word} is not a valid change command (choose from {', '.join(ALLOWED)})"
        )
    rest = rest.strip()
    if ins in ("CMD", "ENTRYPOINT"):
        config["Cmd" if ins == "CMD" else "Entrypoint"] = command_form(rest)
        if ins == "ENTRYPOINT":
            config["Cmd"] = None  # Docker: a new ENTRYPOINT resets the inherited CMD
    elif ins == "ENV":
        set_env(config, key_values(rest, ins))
    elif ins == "LABEL":
        set_labels(config, key_values(rest, ins))
    elif ins == "EXPOSE":
        add_ports(config, rest.split())
    elif ins == "VOLUME":
        add_volumes(config, json.loads(rest) if rest.startswith("[") else rest.split())
    elif ins == "WORKDIR":
        set_workdir(config, rest)
    elif ins == "USER":
        config["User"] = rest
    elif ins == "STOPSIGNAL":
        config["StopSignal"] = rest
    elif ins == "ONBUILD":
        config["OnBuild"] = [*(config.get("OnBuild") or []), rest]
