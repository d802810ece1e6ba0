"""The shipped notebooks run top to bottom with nbclient, as CI and a reader run them."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import needs_root
from kernelkit import kernel_environment
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

pytestmark = needs_root


@pytest.mark.parametrize("name", ["quickstart.ipynb", "tutorial.ipynb"])
def test_notebook_runs(name: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert nb.metadata.kernelspec.name == "layerlab"
    folder = tmp_path / "notebooks"  # the cells write files (archives, a build context)
    folder.mkdir()
    shutil.copy(NOTEBOOKS / name, folder)
    with kernel_environment(tmp_path):
        NotebookClient(nb, timeout=180, kernel_name="layerlab",
                       resources={"metadata": {"path": str(folder)}}).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        expected = "raises-exception" in cell.metadata.get("tags", [])
        assert bool(errors) == expected, (cell.source, errors)
        assert cell.outputs or cell.source.startswith("%%file"), cell.source
