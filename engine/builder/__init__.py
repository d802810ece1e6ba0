"""``docker build`` with the classic builder's visible model (S16): a Dockerfile's steps run
one by one on the engine, each leaving an intermediate image, with a build cache.

Modules: ``parse`` (Dockerfile → stages, via BuildKit's parser), ``shell`` (variable
substitution), ``args`` (build-arg scoping), ``semantics`` (metadata instructions and their
history lines), ``context`` (the build context and .dockerignore), ``fscopy`` (COPY/ADD into
a rootfs), ``cache``, ``runner`` (step containers on the engine) and ``build`` (the stages).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .build import BuildError, BuildOptions, BuildResult, Progress, build
from .context import Ignore, from_tar, is_tar


@dataclass
class Context:
    """What ``docker build`` sends the builder: the context directory, the Dockerfile's text
    and name, and the .dockerignore rules."""

    root: Path
    dockerfile: str
    name: str
    ignore: Ignore


def _prepare_error(message: str) -> BuildError:
    return BuildError(f"unable to prepare context: {message}", daemon=False)


@contextlib.contextmanager
def open_context(path: str, dockerfile: str, stdin: BinaryIO) -> Iterator[Context]:
    """``docker build PATH|-`` with ``-f FILE|-``, as Docker's CLI reads them: ``-`` is a
    tar context or a bare Dockerfile on stdin; ``-f`` is relative to the current directory
    (or inside the tar); ``FILE.dockerignore`` wins over the context's ``.dockerignore``."""
    if path == "-":
        if dockerfile == "-":
            raise BuildError("invalid argument: can't use stdin for both build context and "
                             "dockerfile", daemon=False)
        data = stdin.read()
        if is_tar(data[:512]):
            import io

            with from_tar(io.BytesIO(data)) as root:
                yield _read(root, os.path.join(root, dockerfile or "Dockerfile"), root)
            return
        with _empty_dir() as root:
            yield Context(root, data.decode("utf-8", "replace"), "Dockerfile", Ignore([]))
        return
    if "://" in path or path.startswith("git@"):
        raise _prepare_error(f"{path}: remote build contexts need a network, and LayerLab "
                             "builds offline; clone or download it and build the directory")
    root = Path(path)
    if not root.is_dir():
        raise _prepare_error(f'path "{path}" not found')
    if dockerfile == "-":
        text = stdin.read().decode("utf-8", "replace")
        yield Context(root, text, "Dockerfile", Ignore.read(root / ".dockerignore"))
        return
    if dockerfile:
        file = os.path.abspath(dockerfile)
    else:
        file = str(root / "Dockerfile")
        if not os.path.exists(file) and os.path.exists(root / "dockerfile"):
            file = str(root / "dockerfile")
    yield _read(root, file, root)


def _read(root: Path, file: str, context: Path) -> Context:
    try:
        text = Path(file).read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        raise _prepare_error("unable to evaluate symlinks in Dockerfile path: lstat "
                             f"{file}: no such file or directory") from None
    own = Path(file + ".dockerignore")
    ignore = Ignore.read(own if own.exists() else context / ".dockerignore")
    return Context(context, text, os.path.basename(file), ignore)


@contextlib.contextmanager
def _empty_dir() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="layerlab-context-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_args(items: list[str]) -> dict[str, str]:
    """``--build-arg K=V``; a bare ``K`` takes K's value from the environment, if set."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


__all__ = ["BuildError", "BuildOptions", "BuildResult", "Context", "Progress", "build",
           "build_args", "open_context"]
