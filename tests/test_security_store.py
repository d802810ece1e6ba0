"""Store permissions as Docker's (issue 11): the root 0710, layer and container directories
0700, so no other host user reaches unpacked layers, their setuid files or device nodes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import Docker, needs_root
from layerlab.engine.services.engine import Engine


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@needs_root
def test_store_directories_are_private(docker: Docker, engine: Engine, root: Path) -> None:
    cid = docker.out("create", "busybox", "true")
    assert mode(root) == 0o710
    for sub in ("blobs", "blobs/sha256", "layers", "images", "containers"):
        assert mode(root / sub) == 0o700, sub
    for layer in engine.store.layers.all():
        assert mode(root / "layers" / layer.chain_id[7:]) == 0o700
    assert mode(root / "containers" / cid) == 0o700
    driver = engine.driver_name
    assert mode(root / driver / cid) == 0o700
    if driver == "overlay":
        assert mode(root / "overlay" / "lower") == 0o700
    for img in engine.images.all():
        assert mode(root / "images" / img.id[7:]) == 0o700


@needs_root
def test_an_old_open_store_is_closed_on_next_use(tmp_path: Path) -> None:
    root = tmp_path / "old"
    (root / "layers").mkdir(parents=True)
    root.chmod(0o755)
    (root / "layers").chmod(0o755)
    Engine(root, "vfs")
    assert mode(root) == 0o710 and mode(root / "layers") == 0o700


def test_bad_roots_are_one_line_errors(tmp_path: Path) -> None:
    docker = Docker(tmp_path, "vfs")
    for bad in ("/dev/null", "/proc/self", str(tmp_path / "file")):
        (tmp_path / "file").write_text("x")
        docker.env["LAYERLAB_ROOT"] = bad
        p = docker("images", check=False)
        assert p.returncode == 125, p
        assert p.stderr.count("\n") == 1 and "state root" in p.stderr and bad in p.stderr
