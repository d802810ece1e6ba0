"""``docker cp``: the docker CLI's half (which side is the container, where a copy lands,
how its top entry is renamed) over the engine's archive stat/get/put (``engine.cp``).

The rules are the CLI's: ``SRC/.`` copies a directory's contents; into an existing
directory the source keeps its name; otherwise it takes the destination's name, whose
parent must exist; ``-`` is a tar stream on stdin or stdout. Into a container, files are
owned by 0:0 unless ``-a``; out of one, by whoever runs ``docker cp``.
"""

from __future__ import annotations

import argparse
import os
import posixpath
from pathlib import Path
from typing import BinaryIO

from ...errors import NotFound
from ...fs import tree
from ...oci import layertar
from ...services.cp import PathStat, retar, spool
from ...services.engine import Engine
from .. import IO, human
from ..results import Lines, Result, Streamed
from .common import ClientError


def _split(arg: str) -> tuple[str, str]:
    """(container, path) of ``CONTAINER:PATH``, or ("", path) for a local path: one that
    starts with / or . (``./a:b`` is a file), or has no colon at all."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return "", arg
    container, _, path = arg.partition(":")
    return container, path


def cmd_cp(engine: Engine, args: argparse.Namespace, io: IO) -> Result:
    src_c, src = _split(args.source)
    dst_c, dst = _split(args.dest)
    if src_c and dst_c:
        raise ClientError("copying between containers is not supported")
    if not src_c and not dst_c:
        raise ClientError("must specify at least one container source")
    if (src_c and not src) or (dst_c and not dst):
        raise ClientError("filepath cannot be empty")
    if src_c:
        copied = _copy_out(engine, src_c, src, dst, io, args.follow_link)
    else:
        copied = _copy_in(engine, src, dst_c, dst, io, args.archive, args.follow_link)
    if copied is None or args.quiet:
        return Streamed()
    where = dst if src_c else f"{dst_c}:{dst}"
    io.say(f"Successfully copied {human.size(copied)} to {where}")
    return Lines([])


def _copy_out(engine: Engine, name: str, src: str, dest: str, io: IO,
              follow: bool) -> int | None:
    """Container → local; the tar's size (None for ``-``, whose bytes are the output)."""
    if dest == "-":
        io.flush()
        engine.cp.archive(name, src, io.stdout, follow)
        io.stdout.flush()
        return None
    found = engine.cp.stat(name, src, follow)
    contents = found.is_dir and (src.endswith("/.") or found.name == "/")
    if os.path.isdir(dest):
        target, new_top = dest, "" if contents else None
    else:
        if dest.endswith(("/", "/.")):
            raise ClientError(f'destination directory "{dest}" does not exist')
        if os.path.lexists(dest) and found.is_dir:
            raise ClientError(f'cannot overwrite non-directory "{dest}" with directory '
                              f'"{name}:{src}"')
        parent = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(parent):
            raise ClientError(f"lstat {parent}: no such file or directory")
        target, new_top = parent, os.path.basename(os.path.abspath(dest))
        if found.name == "/":
            os.mkdir(os.path.join(parent, new_top), 0o755)
            target, new_top = os.path.join(parent, new_top), None
    raw = spool()
    engine.cp.archive(name, src, raw, follow)
    size = raw.tell()
    raw.seek(0)
    mine = spool()
    retar(raw, mine, old_top=found.name, new_top=new_top, owner=(os.getuid(), os.getgid()))
    mine.seek(0)
    layertar.extract(mine, Path(target), "plain")
    return size


def _tar_local(path: str, arcname: str, out: BinaryIO) -> None:
    """A local file or tree as a tar whose top entry is ``arcname`` ("": its contents)."""
    w = layertar.TarWriter(out)
    try:
        parent, base = os.path.split(os.path.abspath(path))
        with tree.opened_dir(parent) as parent_fd:
            if arcname:
                w.add(parent_fd, base, arcname)
            if os.path.isdir(path) and not os.path.islink(path):
                with tree.opened_dir(path) as fd:
                    for entry in tree.walk(fd):
                        rel = f"{arcname}/{entry.rel}" if arcname else entry.rel
                        w.add(entry.dir_fd, entry.name, rel)
    finally:
        w.close()


def _stat_or_none(engine: Engine, name: str, path: str) -> PathStat | None:
    try:
        return engine.cp.stat(name, path, follow=True)
    except NotFound:
        return None


def _copy_in(engine: Engine, src: str, name: str, dest: str, io: IO, archive: bool,
             follow: bool) -> int | None:
    """Local → container; the tar's size."""
    engine.containers.get(name)
    if src == "-":
        if not engine.cp.stat(name, dest, follow=True).is_dir:
            raise ClientError(f'destination "{name}:{dest}" must be a directory')
        engine.cp.extract(name, dest, io.stdin, copy_uid_gid=archive)
        return None
    if not os.path.lexists(src):
        raise ClientError(f"lstat {os.path.abspath(src)}: no such file or directory")
    if follow and os.path.islink(src):
        src = os.path.realpath(src)
    is_dir = os.path.isdir(src) and not os.path.islink(src)
    contents = is_dir and src.endswith("/.")
    base = os.path.basename(os.path.abspath(src))
    found = _stat_or_none(engine, name, dest)
    if found is not None and found.is_dir:
        into, arcname = dest, "" if contents else base
    else:
        if found is None and dest.endswith(("/", "/.")):  # says it is a directory
            raise NotFound(f"Could not find the file {dest} in container {name}")
        if found is not None and is_dir:
            raise ClientError(f'cannot overwrite non-directory "{name}:{dest}" with '
                              f'directory "{src}"')
        trimmed = dest.rstrip("/") or "/"
        into, arcname = posixpath.dirname(trimmed) or "/", posixpath.basename(trimmed)
        parent = engine.cp.stat(name, into, follow=True)  # Docker's error if it is missing
        if not parent.is_dir:
            raise ClientError(f'destination "{name}:{into}" must be a directory')
    raw = spool()
    _tar_local(src, arcname, raw)
    size = raw.tell()
    raw.seek(0)
    engine.cp.extract(name, into, raw, copy_uid_gid=archive)
    return size
