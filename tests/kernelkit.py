"""Helpers for the kernel tests: a kernelspec in a temporary Jupyter path, kernels on a
temporary engine root, a client that collects every message of one execution, and
JupyterLab (its own port, token, config and settings) driven by headless Chromium."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@dataclass
class Lab:
    url: str
    token: str
    folder: Path

    def page_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def jupyterlab(tmp: Path, folder: Path) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 (random port and token) serving ``folder``, with its own
    config, settings, workspaces and runtime dirs; stopped, with its kernels, after."""
    with ExitStack() as stack:
        settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        # every cell in the DOM (no windowing), so a test can see every output
        tracker = tmp / "settings" / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True, exist_ok=True)
        (tracker / "tracker.jupyterlab-settings").write_text(
            json.dumps({"windowingMode": "none"}))
        port, token = _free_port(), secrets.token_hex(16)
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"),
               "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
               "JUPYTER_DATA_DIR": str(tmp / "data")}
        log = stack.enter_context(open(tmp / "lab.log", "ab"))
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True",
             f"--LabApp.user_settings_dir={tmp / 'settings'}",
             f"--LabApp.workspaces_dir={tmp / 'workspaces'}"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=log, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                    break
                except OSError:
                    assert server.poll() is None, (tmp / "lab.log").read_text()
                    assert time.monotonic() < deadline, "JupyterLab did not start"
                    time.sleep(0.3)
            yield Lab(url, token, folder)
        finally:
            server.terminate()  # the server shuts its kernels down on SIGTERM
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


@contextmanager
def chromium(tmp: Path, width: int = 1280, height: int = 1600) -> Iterator[Any]:
    """A page in Debian's headless Chromium (Playwright drives it), with its own profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": width, "height": height})
        try:
            yield browser.new_page()
        finally:
            browser.close()


def pending(nb: Any) -> str:
    """A notebook's ``layerlab.pending`` metadata: why it cannot run yet ("" when it can)."""
    return str(nb.metadata.get("layerlab", {}).get("pending", ""))
