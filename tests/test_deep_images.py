"""Images as deep as Docker allows (125 layers) on the overlay driver, as root and rootless.

One ``mount(2)`` takes a page of options, which held ~40 lowerdirs; the driver now passes
one ``lowerdir+`` per ``fsconfig`` call (Linux 6.8), and falls back to the one-string
mount where the kernel lacks it. The image is made by ``load`` of an archive of busybox
plus tiny layers (the quickest real way to a deep chain), then a container on it reads
files of its bottom, middle and top layers, and a commit of a 126th layer is refused with
Docker's "max depth exceeded", as is a load of 126 layers.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from conftest import Docker, needs_root
from layerlab.engine.errors import Unsupported
from layerlab.engine.services.containers import CreateOptions
from layerlab.engine.services.engine import Engine
from layerlab.engine.snapshot import overlay
from layerlab.engine.store.layers import MAX_DEPTH

pytestmark = needs_root


def _layer(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
        tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def deep_archive(busybox_archive: Path, depth: int, tag: str) -> bytes:
    """A docker-archive of busybox's layers topped up to ``depth`` layers, the k-th
    (from 1) adding ``/deep/k``."""
    with tarfile.open(busybox_archive) as src:
        files = {m.name: src.extractfile(m).read() for m in src.getmembers() if m.isfile()}
    manifest = json.loads(files["manifest.json"])[0]
    config = json.loads(files[manifest["Config"]])
    blobs = {path: files[path] for path in manifest["Layers"]}
    paths = list(manifest["Layers"])
    base = len(paths)
    for k in range(base + 1, depth + 1):
        data = _layer(f"deep/{k}", f"layer {k}\n".encode())
        digest = hashlib.sha256(data).hexdigest()
        paths.append(f"blobs/sha256/{digest}")
        blobs[paths[-1]] = data
        config["rootfs"]["diff_ids"].append(f"sha256:{digest}")
        config["history"].append({"created": "2024-01-01T00:00:00Z",
                                  "created_by": f"ADD deep/{k}"})
    raw_config = json.dumps(config).encode()
    config_path = f"blobs/sha256/{hashlib.sha256(raw_config).hexdigest()}"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        entries = {**blobs, config_path: raw_config, "manifest.json": json.dumps(
            [{"Config": config_path, "RepoTags": [tag], "Layers": paths}]).encode()}
        for name, data in entries.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("driver", ["overlay"])
@pytest.mark.parametrize("isolation", ["root", "rootless"])
def test_125_layers_mount_and_the_126th_is_refused(docker: Docker, tmp_path: Path) -> None:
    saved = tmp_path / "busybox.tar"
    docker("save", "-o", str(saved), "busybox")
    for depth in (MAX_DEPTH, MAX_DEPTH + 1):
        path = tmp_path / f"deep{depth}.tar"
        path.write_bytes(deep_archive(saved, depth, f"deep:{depth}"))
        os.chmod(path, 0o644)
    docker("load", "-i", str(tmp_path / f"deep{MAX_DEPTH}.tar"))
    layers = docker.out("image", "inspect", "-f", "{{len .RootFS.Layers}}", f"deep:{MAX_DEPTH}")
    assert layers == str(MAX_DEPTH)

    out = docker.out("run", "--name", "deep", f"deep:{MAX_DEPTH}", "sh", "-c",
                     f"cat /deep/2 /deep/63 /deep/{MAX_DEPTH}; echo top > /rw")
    assert out.split("\n") == ["layer 2", "layer 63", f"layer {MAX_DEPTH}"]
    assert docker.out("start", "-a", "deep") == out  # a second mount of the same stack

    refused = docker("commit", "deep", "deeper", check=False)
    assert refused.returncode == 1
    assert "max depth exceeded" in refused.stderr and "125 layers" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    refused = docker("load", "-i", str(tmp_path / f"deep{MAX_DEPTH + 1}.tar"), check=False)
    assert refused.returncode == 1 and "max depth exceeded" in refused.stderr
    assert docker.out("images", "-q", "deeper") == ""


@pytest.mark.parametrize("driver", ["overlay"])
def test_classic_mount_where_the_kernel_lacks_lowerdir_plus(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a kernel without ``lowerdir+`` (its overlayfs answers EINVAL) the driver mounts
    with one option string from then on, and an image whose lowerdirs overflow that page
    gets an error naming the way out."""
    def no_lowerdir_plus(fstype: str) -> None:
        raise OSError(errno.EINVAL, "fsconfig(overlay, lowerdir+): Unknown parameter")

    monkeypatch.setattr(overlay, "_LAYERED", True)
    monkeypatch.setattr(overlay.syscalls, "FsContext", no_lowerdir_plus)
    c = engine.containers.create("busybox", CreateOptions(cmd=["true"]))
    drv = engine.driver(c.Driver)
    assert isinstance(drv, overlay.OverlayDriver)
    chain = engine.containers.chain(c)
    with engine.containers.rootfs(c) as view:
        assert (Path(view) / "bin" / "busybox").is_file()
    assert overlay._LAYERED is False
    with pytest.raises(Unsupported, match=r"too many for one overlay mount.*vfs"):
        drv.mount_options(c.ID, drv.lowers(chain) * 200)
