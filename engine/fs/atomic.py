"""Crash-safe file primitives: atomic writes and the one store lock."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Write ``data`` so readers see either the old file or the whole new one.

    ``durable=False`` skips the fsync, for files that mean nothing after a power loss
    (a running process's state, /etc files made again at every start): a few ms each on
    this disk, and a container start writes several."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{os.getpid()}-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def private_dir(path: Path, mode: int = 0o700) -> Path:
    """A directory only its owner may enter (Docker keeps layer and container directories
    0700): made with ``mode``, or brought to it if it exists with another."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, mode)
    st = os.lstat(path)
    if stat.S_IMODE(st.st_mode) != mode and stat.S_ISDIR(st.st_mode):
        os.chmod(path, mode)
    return path


def write_json(path: Path, obj: Any, durable: bool = True) -> None:
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=False).encode(), durable=durable)


def read_json(path: Path) -> Any:
    return json.loads(path.read_bytes())


def publish_dir(tmp: Path, final: Path) -> None:
    """Move a fully-built directory into place in one rename (no half-made object visible)."""
    os.replace(tmp, final)


def remove_tree(path: Path) -> None:
    """Remove a directory tree (read-only and very deep ones included) without following
    any symlink in it: see ``fs.tree``."""
    from .tree import remove_tree as remove

    remove(path)


@contextlib.contextmanager
def locked(lockfile: Path, shared: bool = False) -> Iterator[None]:
    """Hold the store lock: serialises every metadata change across processes."""
    lockfile.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lockfile, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
