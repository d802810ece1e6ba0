"""Filesystem steps on the real engine: every RUN, COPY, ADD and WORKDIR step is a
container over the previous step's image whose read-write layer is committed as the step's
layer, then removed — the classic builder's run, modify, commit loop (S16).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import EngineError
from ..fs.tree import opened_dir
from ..oci import imageconfig
from ..services.containers import CreateOptions
from ..services.engine import Engine
from ..store.containers import Container, now
from ..store.journal import Intent
from ..store.layers import Layer

SCRIPT_PREFIX = "/.layerlab-heredoc-"  # a RUN heredoc with #!: run as a file, removed after


def script_path(heredoc_name: str) -> str:
    """Where a ``#!`` heredoc is put for its RUN: a file directly in the root whose name
    keeps only the heredoc name's safe characters, so ``<<x/../../../../tmp/pwned`` names
    a file in the root like any other, never a path out of it."""
    return SCRIPT_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", heredoc_name)


def script_name(path: str) -> str:
    """The file name (in the root) of a ``script_path``."""
    name = path.removeprefix("/")
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"not a heredoc script path: {path!r}")
    return name


class StepRunner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.intent: Intent | None = None  # the build's: its step containers and new layers

    def _container(self, image_id: str, cmd: list[str], env: list[str] | None = None,
                   ) -> Container:
        c = self.engine.containers.create_step(image_id, CreateOptions(cmd=cmd, env=env or [],
                                                                    entrypoint=""))
        if self.intent is not None:
            self.intent.append("containers", c.ID)  # a killed build's steps are removed
        return c

    @contextlib.contextmanager
    def _rootfs(self, c: Container) -> Iterator[str]:
        with self.engine.containers.rootfs(c) as root:
            yield root

    def _in_rootfs(self, c: Container, fn: Callable[[str], object]) -> None:
        """``fn(root)`` on the step container's mounted root, where the store's files are
        fully reachable (in a rootless store's keeper: CAP_DAC_OVERRIDE, xattr owners)."""
        def body() -> None:
            with self._rootfs(c) as root:
                fn(root)
        self.engine.in_store(body)

    def commit(self, c: Container) -> Layer | None:
        """The step's changes as a layer; None when it changed nothing."""
        with self.engine.store.lock():
            layer = self.engine.containers.commit_step(self.engine.containers.get(c.ID),
                                                       self.intent)
            if layer is not None and self.intent is not None:
                # until the step's image records it, a concurrent rmi/prune must not
                # collect the layer as unused
                self.intent.append("keep", layer.chain_id)
            return layer

    def run(self, image_id: str, argv: list[str], env: list[str], script: str | None,
            started: Callable[[str], None], output: Callable[[bytes], None],
            ) -> tuple[Container, int]:
        """RUN: create, start, stream the output, wait for the exit code. ``script`` is a
        heredoc with ``#!`` to put at ``argv[0]`` for the run only."""
        c = self._container(image_id, argv, env)
        if script is not None:
            def put(root: str) -> None:
                with opened_dir(root) as root_fd:
                    fd = os.open(script_name(argv[0]), os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                 | os.O_NOFOLLOW | os.O_CLOEXEC, 0o755, dir_fd=root_fd)
                    with os.fdopen(fd, "w") as f:
                        f.write(script)
            self._in_rootfs(c, put)
        started(c.ID)
        try:
            code = self.engine.tasks.run_step(c.ID, output)
        except BaseException:
            with contextlib.suppress(EngineError):
                self.engine.containers.remove(c.ID, force=True, volumes=True)
            raise
        if script is not None:
            def drop(root: str) -> None:
                with opened_dir(root) as root_fd:
                    os.unlink(script_name(argv[0]), dir_fd=root_fd)
            self._in_rootfs(c, drop)
        return c, code

    def change(self, image_id: str, cmd: list[str], modify: Callable[[str], object],
               ) -> Layer | None:
        """COPY, ADD, WORKDIR: ``modify`` writes into the mounted root of a step container
        (never started) whose changes become the layer."""
        c = self._container(image_id, cmd)
        try:
            self._in_rootfs(c, modify)
            return self.commit(c)
        finally:
            self.remove(c)

    @contextlib.contextmanager
    def image_root(self, image_id: str) -> Iterator[str]:
        """An image's filesystem to read (COPY --from), mounted for as long as needed."""
        c = self._container(image_id, ["#(nop) COPY --from source"])
        try:
            with self._rootfs(c) as root:
                yield root
        finally:
            self.remove(c)

    def remove(self, c: Container) -> None:
        """A step's container goes with its anonymous volumes (an image's ``VOLUME``
        paths, whose changes a step discards, as Docker's classic builder does)."""
        self.engine.containers.remove(c.ID, force=True, volumes=True)

    def image(self, parent: str, parent_config: dict[str, Any], run_config: dict[str, Any],
              created_by: str, layer: Layer | None, author: str, key: str) -> tuple[str, dict]:
        """The step's image: the parent's layers and history plus this step's, the stage's
        config, parent-linked (``images -a``) and keyed for the cache."""
        config = imageconfig.append_layer(
            parent_config or None, created=now(), created_by=created_by,
            diff_id=layer.diff_id if layer else None, run_config=run_config, author=author)
        with self.engine.store.lock():
            return self.engine.images.put(config, parent=parent, build_key=key), config
