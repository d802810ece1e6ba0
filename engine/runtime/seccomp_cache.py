"""Compiled seccomp programs kept on disk, so a CLI start does not recompile the profile.

libseccomp builds Docker's default profile in 15–40 ms, and every ``docker run`` from a
terminal is a new process: the in-process cache of ``seccomp.program_for`` only helps a
notebook kernel. The BPF is a pure function of the profile text, the kept capabilities,
the architecture, the kernel version (``minKernel`` rules) and libseccomp's version, so
those name the file; a changed profile or an upgrade simply misses.

The cache lives in the user's own cache directory (``$XDG_CACHE_HOME/layerlab/seccomp``,
``~/.cache/…``), as root and unprivileged alike. A filter that loosened confinement
would be worth forging, so a file is used only if it and its directory belong to this
user and nobody else can write them (root's ``HOME`` may point into a user's home after
``sudo``); anything else is ignored and the program compiled as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

_MAGIC = b"LLSECCOMP1\n"
_HEADER = struct.Struct("<II")  # flags, seccomp(2)'s syscall number


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "layerlab" / "seccomp"


def key(profile_text: str, capabilities: frozenset[str], library_version: str) -> str:
    uname = os.uname()
    h = hashlib.sha256()
    for part in (profile_text, ",".join(sorted(capabilities)), uname.machine, uname.release,
                 library_version):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def _trusted(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load(name: str) -> tuple[bytes, int, int] | None:
    """(bpf, flags, syscall_nr) cached under ``name``, or None (absent, foreign, damaged)."""
    path = cache_dir() / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not (_trusted(os.fstat(fd)) and _trusted(os.stat(path.parent))):
            return None
        raw = os.read(fd, 1 << 20)
    finally:
        os.close(fd)
    head = len(_MAGIC) + _HEADER.size
    bpf = raw[head:]
    if not raw.startswith(_MAGIC) or not bpf or len(bpf) % 8:
        return None
    flags, nr = _HEADER.unpack_from(raw, len(_MAGIC))
    return bpf, flags, nr


def store(name: str, bpf: bytes, flags: int, syscall_nr: int) -> None:
    """Keep a program (whole or not at all: written aside, renamed in); best effort."""
    directory = cache_dir()
    with contextlib.suppress(OSError):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _trusted(os.stat(directory)):
            return
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_MAGIC + _HEADER.pack(flags, syscall_nr) + bpf)
            os.replace(tmp, directory / name)
        except OSError:
            os.unlink(tmp)
            raise


def cached(name: str, build: Callable[[], tuple[bytes, int, int]]) -> tuple[bytes, int, int]:
    """The program under ``name``, built (and kept) when the cache has none."""
    found = load(name)
    if found is not None:
        return found
    made = build()
    store(name, *made)
    return made
