"""Every notebook in ``notebooks/`` runs top to bottom as Binder's user would run it:
uid 65534 under ``setpriv --no-new-privs``, HOME in a temp dir, the kernel installed for
that user (in the world-readable venv), with the mode auto-probed and with rootless and
PRoot forced. Every cell behaves as the notebook intends: errors only in cells tagged
``raises-exception``. Nothing of the user is left afterwards (``kit.session``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
import unprivileged_kit as kit
from conftest import needs_root
from kernelkit import pending

pytestmark = needs_root
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(p.relative_to(NOTEBOOKS) for p in NOTEBOOKS.rglob("*.ipynb")
             if ".ipynb_checkpoints" not in p.parts)

# Runs as nobody with the venv's Python: nbclient starts the kernel from the venv's
# kernelspec, as JupyterLab on Binder does.
EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
src, dst = sys.argv[1], sys.argv[2]
nb = nbformat.read(src, as_version=4)
NotebookClient(nb, timeout=300, kernel_name="layerlab", allow_errors=True,
               resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, dst)
"""


def auto_mode(python: Path) -> str:
    with kit.session(python) as n:
        return json.loads(n.docker("info", "--format", "{{json .}}").stdout)["Isolation"]


@pytest.mark.parametrize("mode", ["auto", "rootless", "proot"])
@pytest.mark.parametrize("name", [str(p) for p in ALL])
def test_notebook_runs_unprivileged(name: str, mode: str, nobody_python: Path) -> None:
    if mode == "rootless" and auto_mode(nobody_python) == "rootless":
        pytest.skip("the auto-probed mode is rootless here: the [auto] run is this one")
    if mode == "proot" and shutil.which("proot") is None:
        pytest.skip("proot is not installed")
    if pending(nbformat.read(NOTEBOOKS / name, as_version=4)):
        pytest.skip("pending (tests/test_kernel_notebooks.py checks it says so)")
    env = {} if mode == "auto" else {"LAYERLAB_RUNTIME": mode}
    with kit.session(nobody_python, **env) as n:
        folder = n.home / "notebooks" / Path(name).parent
        folder.mkdir(parents=True)
        shutil.copy(NOTEBOOKS / name, folder)
        for path in [n.home / "notebooks", *(n.home / "notebooks").rglob("*")]:
            shutil.chown(path, kit.NOBODY, kit.NOBODY)
        src = folder / Path(name).name
        out = n.home / "executed.ipynb"
        p = n.run([str(n.python), "-c", EXECUTE, str(src), str(out), str(folder)],
                  timeout=900)
        assert p.returncode == 0, p.stderr.decode(errors="replace")[-3000:]
        nb = nbformat.read(out, as_version=4)
        ids = n.docker("ps", "-aq").stdout.split()  # the notebook cleans up after itself
        if ids:
            n.docker("rm", "-f", *ids)
    assert nb.metadata.kernelspec.name == "layerlab"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        expected = "raises-exception" in cell.metadata.get("tags", [])
        assert bool(errors) == expected, (mode, cell.source, errors)
        assert cell.outputs or cell.source.startswith("%%file"), (mode, cell.source)
