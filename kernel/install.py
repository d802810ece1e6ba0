"""``python -m layerlab.kernel.install [--user|--sys-prefix|--prefix DIR]``.

``pip install`` already puts the kernelspec in ``<prefix>/share/jupyter/kernels/layerlab``;
this installs it elsewhere (a user's Jupyter, another prefix), pointing at this Python.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

NAME = "layerlab"


def spec(python: str = sys.executable) -> dict[str, object]:
    """The kernel.json shipped with the package, launching ``python``."""
    data = json.loads(resources.files(__package__).joinpath("resources/kernel.json")
                      .read_text())
    data["argv"][0] = python
    return data


def install(user: bool = False, prefix: str | None = None) -> str:
    """Install the kernelspec (with its logos); returns the directory it went to."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = resources.files(__package__).joinpath("resources")
        for item in folder.iterdir():
            if item.name.startswith("logo"):
                shutil.copyfile(str(item), Path(tmp) / item.name)
        (Path(tmp) / "kernel.json").write_text(json.dumps(spec(), indent=2) + "\n")
        return KernelSpecManager().install_kernel_spec(tmp, NAME, user=user, prefix=prefix)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m layerlab.kernel.install",
                                description="Install the LayerLab (Docker) kernelspec.")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="into ~/.local/share/jupyter")
    where.add_argument("--sys-prefix", action="store_true",
                       help=f"into {sys.prefix}/share/jupyter (this venv; the default)")
    where.add_argument("--prefix", help="into PREFIX/share/jupyter")
    args = p.parse_args(argv)
    prefix = args.prefix or (None if args.user else sys.prefix)
    path = install(user=args.user, prefix=prefix)
    print(f"Installed kernelspec {NAME} (LayerLab (Docker)) in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
