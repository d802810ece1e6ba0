"""The Binder path: no root. Image, layer and archive commands work on the vfs driver;
``run`` says plainly why it cannot, and ``info`` explains the isolation mode."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import needs_root

pytestmark = [needs_root, pytest.mark.skipif(shutil.which("setpriv") is None,
                                             reason="setpriv (util-linux) is needed")]
NOBODY = 65534


REPO = Path(__file__).resolve().parent.parent
# root's interpreter may live where nobody cannot look (pyenv under /root): prefer the
# system Python, which Binder-like users have too.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


@pytest.fixture
def home() -> Iterator[Path]:
    """A home for nobody, outside root-only pytest dirs, with the package importable."""
    top = Path(tempfile.mkdtemp(prefix="ll-nobody-"))
    try:
        os.chmod(top, 0o755)
        pkg = top / "pylib" / "layerlab"
        pkg.mkdir(parents=True)
        (pkg / "engine").symlink_to(REPO / "engine")
        h = top / "home"
        h.mkdir()
        os.chown(h, NOBODY, NOBODY)
        yield h
    finally:
        shutil.rmtree(top, ignore_errors=True)


def as_nobody(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home),
           "XDG_DATA_HOME": str(home / ".local/share"),
           "PYTHONPATH": str(home.parent / "pylib"), "PYTHONDONTWRITEBYTECODE": "1",
           "LAYERLAB_CGROUP_ROOT": os.environ.get("LAYERLAB_CGROUP_ROOT", "layerlab")}
    p = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "--no-new-privs", PYTHON, "-m", "layerlab.engine.cli", *args],
                       capture_output=True, text=True, env=env, cwd=home, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} exited {p.returncode}: {p.stdout}{p.stderr}")
    return p


def test_unprivileged_image_commands_work_and_run_explains(home: Path) -> None:
    info = as_nobody(home, "info").stdout
    assert "Storage Driver: vfs" in info and "Isolation: none" in info
    assert "not running as root" in info
    as_nobody(home, "pull", "busybox")
    assert (home / ".local/share/layerlab").is_dir()  # $XDG_DATA_HOME/layerlab
    assert "busybox" in as_nobody(home, "images").stdout
    cid = as_nobody(home, "create", "--name", "box", "busybox", "echo", "hi").stdout.strip()
    assert len(cid) == 64
    p = as_nobody(home, "run", "--rm", "busybox", "echo", "hi", check=False)
    assert p.returncode == 125
    assert "cannot start containers here: not running as root" in p.stderr
    assert p.stderr.count("\n") == 1
    p = as_nobody(home, "start", "box", check=False)
    assert p.returncode == 1 and "cannot start containers here" in p.stderr
    as_nobody(home, "commit", "-c", "CMD echo hi", "box", "mine:1")
    assert len(as_nobody(home, "history", "-q", "mine:1").stdout.split()) == 3
    as_nobody(home, "save", "-o", str(home / "mine.tar"), "mine:1")
    as_nobody(home, "rmi", "mine:1")
    assert "Loaded image: mine:1" in as_nobody(home, "load", "-i", str(home / "mine.tar")).stdout
    as_nobody(home, "export", "-o", str(home / "flat.tar"), "box")
    image_id = as_nobody(home, "import", str(home / "flat.tar"), "flat:1").stdout.strip()
    assert image_id.startswith("sha256:")
    assert as_nobody(home, "diff", "box").stdout == ""
    as_nobody(home, "rm", "box")
    assert as_nobody(home, "ps", "-a", "-q").stdout == ""
