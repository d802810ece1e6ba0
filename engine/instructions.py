"""Dockerfile metadata instructions applied to an image config (``commit -c``, ``import -c``).

Only instructions that change configuration, not the filesystem, are accepted here, as in
Docker: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from typing import Any

from .errors import InvalidArgument

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
        env = list(config.get("Env") or [])
        for key, value in key_values(rest, ins):
            env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
        config["Env"] = env
    elif ins == "LABEL":
        labels = dict(config.get("Labels") or {})
        labels.update(key_values(rest, ins))
        config["Labels"] = labels
    elif ins == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        for p in rest.split():
            ports[p if "/" in p else f"{p}/tcp"] = {}
        config["ExposedPorts"] = ports
    elif ins == "VOLUME":
        vols = dict(config.get("Volumes") or {})
        paths = json.loads(rest) if rest.startswith("[") else rest.split()
        vols.update({p: {} for p in paths})
        config["Volumes"] = vols
    elif ins == "WORKDIR":
        config["WorkingDir"] = posixpath.join(config.get("WorkingDir") or "/", rest)
    elif ins == "USER":
        config["User"] = rest
    elif ins == "STOPSIGNAL":
        config["StopSignal"] = rest
    elif ins == "ONBUILD":
        config["OnBuild"] = [*(config.get("OnBuild") or []), rest]
