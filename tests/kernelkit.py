"""Helpers for the kernel tests: a kernelspec in a temporary Jupyter path, kernels on a
temporary engine root, and a client that collects every message of one execution."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from conftest import cleanup_root
from jupyter_client.manager import KernelManager
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer.bootstrap import bootstrap
from layerlab.kernel.install import install


@contextmanager
def kernel_environment(tmp: Path) -> Iterator[Path]:
    """JUPYTER_PATH with the layerlab kernelspec, LAYERLAB_ROOT with busybox; yields the
    root and, on exit, removes every container and mount the kernels left there."""
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "LAYERLAB_ROOT")}
    root = tmp / "root"
    prefix = tmp / "prefix"
    install(prefix=str(prefix))
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    os.environ["LAYERLAB_ROOT"] = str(root)
    bootstrap(Engine(root))
    try:
        yield root
    finally:
        cleanup_root(root)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class Execution:
    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    def of(self, msg_type: str) -> list[dict[str, Any]]:
        return [m["content"] for m in self.messages if m["msg_type"] == msg_type]

    def stream(self, name: str = "stdout") -> str:
        return "".join(c["text"] for c in self.of("stream") if c["name"] == name)

    def bundles(self) -> list[dict[str, Any]]:
        return [c["data"] for c in self.of("display_data")]


class KernelSession:
    """One LayerLab kernel, started from the kernelspec as JupyterLab starts it."""

    def __init__(self) -> None:
        self.km = KernelManager(kernel_name="layerlab")
        self.km.start_kernel()
        self._connect()

    def _connect(self) -> None:
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code: str, timeout: float = 60,
                interrupt_after: float | None = None) -> Execution:
        """Run a cell; collect its IOPub messages until idle. ``interrupt_after``: send
        Jupyter's interrupt that many seconds in (the time it took is recorded)."""
        msg_id = self.kc.execute(code)
        messages: list[dict[str, Any]] = []
        start = time.monotonic()
        self.interrupted_at: float | None = None
        while True:
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"no idle after {timeout}s for {code!r}")
            if (interrupt_after is not None and self.interrupted_at is None
                    and time.monotonic() - start > interrupt_after):
                self.km.interrupt_kernel()
                self.interrupted_at = time.monotonic()
            try:
                msg = self.kc.get_iopub_msg(timeout=0.1)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            messages.append(msg)
        self.idle_at = time.monotonic()
        reply = self.kc.get_shell_msg(timeout=10)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=10)
        return Execution(reply, messages)

    def restart(self) -> None:
        self.kc.stop_channels()
        self.km.restart_kernel(now=True)
        self._connect()

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
