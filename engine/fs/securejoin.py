"""The one secure join: a path as seen inside a root, never through a symlink out of it.

Images are untrusted: ``/app`` may be a symlink to ``/etc`` or to ``../../..``. Anything
that writes into a container's or image's tree by a path that the image or a Dockerfile
chose (COPY/ADD destinations, build contexts, mount points, ``docker cp``) resolves the
path here first, as the container itself would see it: every symlink, absolute or
relative, is followed *within* the root, and ``..`` stops at the root. The answer names a
host path below the root, so the write stays inside it (like runc's and Docker's
filepath-securejoin).
"""

from __future__ import annotations

import os
import stat

from ..errors import InvalidArgument

MAX_LINKS = 255  # symlink hops before "too many levels of symbolic links", as Linux's 40×6


def resolve(root: str, path: str, follow_last: bool = True) -> str:
    """``path`` as seen inside ``root``: the canonical, "/"-rooted path with every symlink
    resolved within ``root`` (``follow_last=False`` leaves a final symlink itself).
    Missing components are kept as written."""
    todo = [p for p in path.split("/") if p and p != "."][::-1]
    done: list[str] = []
    hops = 0
    while todo:
        part = todo.pop()
        if part == "..":
            if done:
                done.pop()
            continue
        host = os.path.join(root, *done, part)
        try:
            st = os.lstat(host)
        except (FileNotFoundError, NotADirectoryError):
            done.append(part)
            continue
        if stat.S_ISLNK(st.st_mode) and (todo or follow_last):
            hops += 1
            if hops > MAX_LINKS:
                raise InvalidArgument(f"{path}: too many levels of symbolic links")
            target = os.readlink(host)
            if target.startswith("/"):
                done = []
            todo.extend([p for p in target.split("/") if p and p != "."][::-1])
            continue
        done.append(part)
    return "/" + "/".join(done)


def host_path(root: str, canonical: str) -> str:
    """The host path of a canonical in-root path (as ``resolve`` returns it)."""
    return os.path.join(root, canonical.lstrip("/")) if canonical != "/" else root


def join(root: str, path: str, follow_last: bool = True) -> str:
    """The host path that ``path`` names inside ``root``, resolved securely."""
    return host_path(root, resolve(root, path, follow_last))
