"""JupyterLab in headless Chromium runs the quickstart notebook: the layer-graph SVG and
the inspect widget must render in the page (a screenshot goes to tests/output/)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import needs_root
from kernelkit import kernel_environment

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "tests" / "output"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

# the notebook's kernel is connected and idle (the status bar alone shows "idle" too early)
KERNEL_IDLE = ("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
               " const k = w && w.sessionContext && w.sessionContext.session &&"
               " w.sessionContext.session.kernel;"
               " return !!k && k.connectionStatus === 'connected' && k.status === 'idle'; }")
# every code cell has run: its prompt shows an execution count, not "[*]" or "[ ]"
ALL_RUN = ("() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))"
           ".every(p => /\\[\\d+\\]/.test(p.textContent))")
# the layer graph image has loaded and has a size: the SVG is valid and drawn
GRAPH_DRAWN = ("() => Array.from(document.querySelectorAll("
               "\".jp-OutputArea-output[data-mime-type='image/svg+xml'] img\"))"
               ".some(i => i.complete && i.naturalWidth > 100)")

pytestmark = [needs_root, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                             reason="Debian's chromium is not installed")]


@dataclass
class Lab:
    url: str
    token: str
    folder: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 (random port and token) over a copy of the notebooks,
    with its own config, settings and runtime dirs; stopped, with its kernels, after."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(kernel_environment(tmp_path))
        folder = tmp_path / "notebooks"
        folder.mkdir()
        shutil.copy(REPO / "notebooks" / "quickstart.ipynb", folder)
        settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        port, token = _free_port(), secrets.token_hex(16)
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
               "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
        log = stack.enter_context(open(tmp_path / "lab.log", "wb"))
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True",
             f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
             f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"],
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
                    assert server.poll() is None, (tmp_path / "lab.log").read_text()
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


def test_quickstart_renders_graph_and_inspect_widget(lab: Lab, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 1600})
        page = browser.new_page()
        try:
            page.goto(f"{lab.url}/lab/tree/quickstart.ipynb?token={lab.token}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

            # JupyterLab shows SVG outputs as <img src="data:image/svg+xml,…">
            graph = page.locator(".jp-OutputArea-output[data-mime-type='image/svg+xml'] img")
            graph.first.wait_for(timeout=60_000)
            page.wait_for_function(GRAPH_DRAWN, timeout=30_000)
            src = unquote(graph.first.get_attribute("src") or "")
            assert "greeting:1" in src and "busybox:latest" in src and "shared by" in src

            widget = page.locator(".layerlab-inspect")
            widget.wait_for(timeout=60_000)
            assert '"Id"' in widget.inner_text()
            box = widget.locator("input[placeholder^='Search']")
            box.fill("UpperDir")
            page.wait_for_selector(".layerlab-inspect mark", timeout=20_000)
            assert widget.locator("mark").first.inner_text() == "UpperDir"
            page.wait_for_function(ALL_RUN, timeout=60_000)
            widget.scroll_into_view_if_needed()
            page.screenshot(path=str(OUTPUT / "kernel-browser.png"), full_page=True)
            errors = page.locator(".jp-OutputArea-output[data-mime-type="
                                  "'application/vnd.jupyter.stderr']")
            assert "Error" not in " ".join(errors.all_inner_texts())
        except Exception:
            page.screenshot(path=str(OUTPUT / "kernel-browser-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
