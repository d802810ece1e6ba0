"""Image references as Docker users type them: ``busybox``, ``repo:tag``, ``host:5000/a/b:t``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidArgument

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_REF = re.compile(
    rf"^(?P<repo>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class Reference:
    repo: str
    tag: str = "latest"
    digest: str = ""

    def __str__(self) -> str:
        return f"{self.repo}:{self.tag}"

    @property
    def domain(self) -> str:
        """The registry host, if the first path component names one (has . or : or is localhost)."""
        first, _, rest = self.repo.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            return first
        return ""

    @property
    def path(self) -> str:
        """The repository path on its registry (``library/busybox`` for Docker Hub names)."""
        if self.domain:
            return self.repo.partition("/")[2]
        return self.repo if "/" in self.repo else f"library/{self.repo}"


def parse(ref: str) -> Reference:
    """Parse and normalise a reference; ``docker.io/library/x`` is shown as ``x``, like Docker."""
    m = _REF.match(ref)
    if not m:
        raise InvalidArgument(
            f'invalid reference format: "{ref}" (repository names must be lowercase, '
            "e.g. busybox:latest)"
        )
    repo = m["repo"]
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if repo.startswith(prefix):
            repo = repo[len(prefix) :]
            break
    return Reference(repo, m["tag"] or "latest", m["digest"] or "")


def looks_like_reference(text: str) -> bool:
    return bool(_REF.match(text))


def containerd_name(tag: str) -> str:
    """``busybox:latest`` → ``docker.io/library/busybox:latest`` (containerd's image name)."""
    ref = parse(tag)
    return str(ref) if ref.domain else f"docker.io/{ref.path}:{ref.tag}"
