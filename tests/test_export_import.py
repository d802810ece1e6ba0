"""S20: export gives one flat tar of the union view; import of it gives a one-layer image."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from conftest import Docker, needs_root

pytestmark = needs_root


@pytest.mark.unprivileged("rootless", "proot")
def test_s20_export_is_flat_union_view(docker: Docker, tmp_path: Path) -> None:
    docker("run", "--name", "ee", "busybox", "sh", "-c",
           "echo hello > /root/greeting; rm /etc/group; ln -s /root/greeting /link")
    out = tmp_path / "e.tar"
    docker("export", "ee", "-o", str(out))
    with tarfile.open(out) as tf:
        names = set(tf.getnames())
        assert tf.extractfile("root/greeting").read() == b"hello\n"  # type: ignore[union-attr]
        assert tf.getmember("link").issym()
        assert max(m.size for m in tf.getmembers() if m.name.startswith("bin/")) > 100_000
    assert "etc/group" not in names  # the union view: deletions applied
    assert not any(".wh." in n for n in names)  # no whiteouts, no metadata
    assert "manifest.json" not in names and "proc/self" not in names


@pytest.mark.unprivileged("rootless")
def test_s20_import_gives_one_layer_one_history_entry(docker: Docker, tmp_path: Path) -> None:
    docker("run", "--name", "ee", "busybox", "sh", "-c", "echo v > /v")
    docker("commit", "ee", "two:1")
    flat = tmp_path / "flat.tar"
    docker("export", "ee", "-o", str(flat))
    image_id = docker.out("import", "-m", "from export", "-c", "CMD [\"cat\", \"/v\"]",
                          str(flat), "flat:1")
    img = json.loads(docker.out("inspect", image_id))[0]
    assert len(img["RootFS"]["Layers"]) == 1
    assert img["RepoTags"] == ["flat:1"]
    hist = docker.out("history", "--format", "{{.Comment}}", "flat:1").splitlines()
    assert hist == ["from export"]
    assert docker.out("run", "--rm", "flat:1") == "v"
    # whereas the committed image keeps both layers and its whole history
    assert len(json.loads(docker.out("inspect", "two:1"))[0]["RootFS"]["Layers"]) == 2
    assert len(docker.out("history", "-q", "two:1").splitlines()) == 3


def test_s20_import_from_stdin(docker: Docker, tmp_path: Path) -> None:
    docker("create", "--name", "ee", "busybox")
    flat = tmp_path / "flat.tar"
    docker("export", "ee", "-o", str(flat))
    image_id = docker("import", "-", "stdin:1", input=flat.read_bytes()).stdout.strip()
    assert image_id.startswith("sha256:")
    assert docker.out("history", "--format", "{{.Comment}}", "stdin:1") == "Imported from -"
    assert docker.out("run", "--rm", "stdin:1", "echo", "ok") == "ok"
