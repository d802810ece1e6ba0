"""``--ulimit name=soft[:hard]``: process resource limits (setrlimit) of the container's
command, set by its init before the uid change (raising a hard limit needs
CAP_SYS_RESOURCE, which the command will not have). Docker's names and rules (go-units
``ParseUlimit``); ``HostConfig.Ulimits`` holds ``{"Name", "Soft", "Hard"}`` records.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument

# Docker's names (go-units ulimitNameMapping) → the setrlimit resource.
NAMES = {
    "core": resource.RLIMIT_CORE, "cpu": resource.RLIMIT_CPU, "data": resource.RLIMIT_DATA,
    "fsize": resource.RLIMIT_FSIZE, "locks": 10,  # RLIMIT_LOCKS: Python lacks the name
    "memlock": resource.RLIMIT_MEMLOCK, "msgqueue": resource.RLIMIT_MSGQUEUE,
    "nice": resource.RLIMIT_NICE, "nofile": resource.RLIMIT_NOFILE,
    "nproc": resource.RLIMIT_NPROC, "rss": resource.RLIMIT_RSS,
    "rtprio": resource.RLIMIT_RTPRIO, "rttime": resource.RLIMIT_RTTIME,
    "sigpending": resource.RLIMIT_SIGPENDING, "stack": resource.RLIMIT_STACK,
}


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int

    def record(self) -> dict[str, Any]:
        return {"Name": self.name, "Hard": self.hard, "Soft": self.soft}

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Ulimit:
        return cls(rec["Name"], int(rec["Soft"]), int(rec["Hard"]))


def parse(text: str) -> Ulimit:
    """``nofile=100:200`` (hard defaults to soft), refused in go-units' words."""
    name, sep, values = text.partition("=")
    if not sep:
        raise InvalidArgument(f"invalid ulimit argument: {text}")
    if name not in NAMES:
        raise InvalidArgument(f"invalid ulimit type: {name}")
    soft_text, _, hard_text = values.partition(":")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError:
        raise InvalidArgument(f"invalid ulimit argument: {text}") from None
    if soft > hard and hard != -1:
        raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: "
                              f"{soft} > {hard}")
    return Ulimit(name, soft, hard)


def apply(ulimits: list[Ulimit]) -> None:
    """setrlimit each one in the calling process (the init, still privileged); -1 is
    unlimited, as runc reads it."""
    for u in ulimits:
        def value(n: int) -> int:
            return resource.RLIM_INFINITY if n < 0 else n

        resource.setrlimit(NAMES[u.name], (value(u.soft), value(u.hard)))
