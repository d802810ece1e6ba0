"""Build arguments: ``--build-arg`` values let in by ARG declarations, scoped as in Docker.

A global ARG (before the first FROM) is visible to FROM lines only; inside a stage an ARG
is visible from its declaration to the end of that stage, and ``ARG NAME`` without a
default takes the global one's value. An ENV of the same name wins over an ARG. Proxy
variables are predefined: usable without ARG, and kept out of history unless declared.
"""

from __future__ import annotations

from ..oci.imageconfig import host_arch

PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
              "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


def platform_args() -> dict[str, str]:
    """BuildKit's automatic platform ARGs: the build runs on, and for, this host."""
    arch = host_arch()
    values: dict[str, str] = {}
    for prefix in ("TARGET", "BUILD"):
        values |= {f"{prefix}PLATFORM": f"linux/{arch}", f"{prefix}OS": "linux",
                   f"{prefix}ARCH": arch, f"{prefix}VARIANT": ""}
    return values


class BuildArgs:
    def __init__(self, given: dict[str, str]) -> None:
        self.given = given
        self.platform = platform_args()
        self.meta: dict[str, str | None] = {}
        self.declared: set[str] = set()

    def declare_meta(self, name: str, default: str | None) -> None:
        self.declared.add(name)
        self.meta[name] = self.given.get(name, default)

    def meta_env(self) -> dict[str, str]:
        """What ``FROM`` lines can expand: global ARGs with a value, platform ARGs."""
        return self.platform | {k: v for k, v in self.meta.items() if v is not None}

    def stage(self) -> StageArgs:
        return StageArgs(self)

    def unused(self) -> list[str]:
        """``--build-arg`` names no ARG declared (Docker warns about them)."""
        return sorted(k for k in self.given if k not in self.declared and k not in PROXY_ARGS)


class StageArgs:
    """The ARGs declared so far in one stage, with their values."""

    def __init__(self, build: BuildArgs) -> None:
        self.build = build
        self.values: dict[str, str | None] = {}

    def declare(self, name: str, default: str | None) -> None:
        b = self.build
        b.declared.add(name)
        if name in b.given:
            value: str | None = b.given[name]
        elif default is not None:
            value = default
        elif b.meta.get(name) is not None:
            value = b.meta[name]
        else:
            value = b.platform.get(name)
        self.values[name] = value

    def env(self, image_env: dict[str, str]) -> dict[str, str]:
        """Args a step sees (in expansion and as RUN's environment), ENV winning."""
        out = {k: v for k, v in self.values.items() if v is not None}
        out |= {k: self.build.given[k] for k in PROXY_ARGS
                if k in self.build.given and k not in self.values}
        return {k: v for k, v in out.items() if k not in image_env}

    def history_prefix(self, image_env: dict[str, str]) -> list[str]:
        """``|2 A=1 B=2``: what Docker puts before a RUN's command in its history and cache
        key, so a different --build-arg value is a different step."""
        pairs = sorted(f"{k}={v}" for k, v in self.values.items()
                       if v is not None and k not in image_env)
        return [f"|{len(pairs)}", *pairs] if pairs else []
