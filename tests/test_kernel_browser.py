"""JupyterLab in headless Chromium: every notebook run with Run All, as a learner runs it,
then saved and reopened in a JupyterLab that has neither the kernel nor the notebook's
trust, where every output must still show. Screenshots go to tests/output/.

Checked in the page: the notebook does not open "modified"; errors only where a cell is
meant to fail; every check cell says ✔; each layer graph fits its output's width without
shrinking its fonts; the inspect tree's search marks matches; the layer explorer opens.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import needs_root
from kernelkit import CHROMIUM, Lab, chromium, jupyterlab, kernel_environment
from test_kernel_notebooks import assert_as_intended

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
OUTPUT = REPO / "tests" / "output"
# The browser sees the kernel's mime bundles, and these three notebooks hold every kind
# the kernel renders (tables, inspect trees, diffs, build logs, layer graphs, networks)
# in both scripts (Latin, CJK). test_kernel_notebooks.py runs every notebook through the
# kernel; a browser pass over each topic notebook would render the same bundles again.
IN_BROWSER = ("tutorial.ipynb", "zh/tutorial.ipynb", "topics/01-images-and-layers.ipynb")

# the notebook's kernel is connected and idle (the status bar alone shows "idle" too early)
KERNEL_IDLE = ("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
               " const k = w && w.sessionContext && w.sessionContext.session &&"
               " w.sessionContext.session.kernel;"
               " return !!k && k.connectionStatus === 'connected' && k.status === 'idle'; }")
DIRTY = "() => window.jupyterapp.shell.currentWidget.context.model.dirty"
SAVED = "() => !window.jupyterapp.shell.currentWidget.context.model.dirty"
# every code cell has run: its prompt shows an execution count, not "[*]" or "[ ]"
ALL_RUN = ("() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))"
           ".every(p => /\\[\\d+\\]/.test(p.textContent))")
# each drawn graph: (its width, its output area's width, its natural width) in px
GRAPH_SIZES = ("() => Array.from(document.querySelectorAll('.layerlab-graph')).map(g => "
               "[g.getBoundingClientRect().width, g.closest('.jp-OutputArea-output')"
               ".getBoundingClientRect().width, parseFloat(g.style.maxWidth)])")
GRAPHS_SETTLED = (f"() => ({GRAPH_SIZES})().every(([w, room, natural]) => "
                  "w <= room + 1 && w >= 0.85 * natural)")
OUTPUTS = ".jp-Notebook .jp-OutputArea-output"

pytestmark = [needs_root, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                             reason="Debian's chromium is not installed")]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab over a copy of the notebooks, its kernels on a temporary engine root."""
    with kernel_environment(tmp_path):
        folder = tmp_path / "notebooks"
        shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns("*.sh"))
        with jupyterlab(tmp_path / "lab", folder) as server:
            yield server


def _artifact(name: str, suffix: str) -> str:
    OUTPUT.mkdir(exist_ok=True)
    return str(OUTPUT / f"{name.replace('/', '-').removesuffix('.ipynb')}-{suffix}.png")


def _screenshot_notebook(page: Any, path: str) -> None:
    """The whole notebook: the window made as tall as its cells (no windowing, see
    kernelkit), capped so a long tutorial stays a sane image."""
    height = page.evaluate("() => document.querySelector('.jp-Notebook').scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 200, 24000)})
    page.screenshot(path=path, full_page=True)


def _open(page: Any, lab: Lab, name: str) -> None:
    page.goto(lab.page_url(name))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)


def _run_all(page: Any, lab: Lab, name: str) -> None:
    _open(page, lab, name)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    assert not page.evaluate(DIRTY), "the notebook opened already modified"
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(ALL_RUN, timeout=300_000, polling=500)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)


def _graphs_fit(page: Any) -> None:
    """Within the output's width, and at ≥ 85 % of its natural size: fonts stay legible.
    Read once JupyterLab's layout has settled (a loaded machine may measure an output
    area mid-resize), or after 10 s, when the assertions say what is wrong."""
    from playwright.sync_api import TimeoutError as Unsettled

    with contextlib.suppress(Unsettled):  # the assertions below then say what is wrong
        page.wait_for_function(GRAPHS_SETTLED, timeout=10_000, polling=250)
    for width, room, natural in page.evaluate(GRAPH_SIZES):
        assert width <= room + 1, (width, room)
        assert width >= 0.85 * natural, (width, natural, room)


def _search_inspect(page: Any) -> None:
    tree = page.locator(".layerlab-inspect").first
    box = tree.locator("input.ll-search")
    assert box.is_enabled()  # the script ran: the output is trusted
    box.fill("UpperDir")
    page.wait_for_selector(".layerlab-inspect mark", timeout=10_000)
    assert tree.locator("mark").first.inner_text() == "UpperDir"
    tree.scroll_into_view_if_needed()


def _open_explorer(page: Any, name: str) -> None:
    view = page.locator(".layerlab-explore").first
    layers = view.locator(":scope > div > details")
    layers.last.locator(":scope > summary").click()
    layers.last.locator("details > summary").first.click()  # the files after the layer
    assert "Changes" in layers.last.inner_text()
    view.screenshot(path=_artifact(name, "explorer"))


def _reopen_without_kernel(tmp_path: Path, saved: Path, name: str) -> None:
    """A fresh JupyterLab: no layerlab kernelspec, no notebook signatures (untrusted)."""
    folder = tmp_path / "reopened"
    (folder / Path(name).parent).mkdir(parents=True, exist_ok=True)
    shutil.copy(saved, folder / name)
    nb = json.loads(saved.read_text())
    count = sum(len(c.get("outputs", [])) for c in nb["cells"])
    env = {"JUPYTER_PATH": str(tmp_path / "no-kernels")}
    with _env(env), jupyterlab(tmp_path / "lab2", folder) as lab, \
            chromium(tmp_path / "b2") as page:
        _open(page, lab, name)
        page.wait_for_selector(".jp-Dialog", timeout=30_000)  # "Select Kernel"
        page.keyboard.press("Escape")  # no kernel
        page.wait_for_function(f"() => document.querySelectorAll('{OUTPUTS}').length >= "
                               f"{count}", timeout=30_000)
        text = " ".join(page.locator(OUTPUTS).all_inner_texts())
        assert "model not found" not in text and "Cannot display" not in text
        assert "Error displaying widget" not in text
        if nb["cells"] and "docker images --tree" in "".join(
                "".join(c["source"]) for c in nb["cells"]):
            assert page.locator(".layerlab-graph").count() > 0  # drawn, untrusted
            _graphs_fit(page)
        if page.locator(".layerlab-inspect").count():
            assert page.locator(".layerlab-inspect details").count() > 0
            assert not page.locator(".layerlab-inspect input.ll-search").first.is_enabled()
        _screenshot_notebook(page, _artifact(name, "reopened"))


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("name", IN_BROWSER)
def test_run_all_then_reopen_without_kernel(lab: Lab, tmp_path: Path, name: str) -> None:
    with chromium(tmp_path) as page:
        try:
            _run_all(page, lab, name)
            _graphs_fit(page)
            if page.locator(".layerlab-inspect").count():
                _search_inspect(page)
            if page.locator(".layerlab-explore").count():
                _open_explorer(page, name)
            graph = page.locator(".layerlab-graph").last
            if graph.count():
                graph.screenshot(path=_artifact(name, "graph"))
            page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
            page.wait_for_function(SAVED, timeout=30_000)
            _screenshot_notebook(page, _artifact(name, "run-all"))
        except Exception:
            page.screenshot(path=_artifact(name, "failure"), full_page=True)
            raise
    # what JupyterLab saved: errors only where meant, every check ✔ (as with nbclient)
    assert_as_intended(nbformat.read(lab.folder / name, as_version=4))
    _reopen_without_kernel(tmp_path, lab.folder / name, name)
