"""A malicious-tar corpus (issue 11) through every way an archive gets in: ``import`` (a
flat layer), ``load`` (a docker-archive whose layer is the tar) and a Dockerfile's ``ADD``
(a local tar is unpacked into the image). Whatever the verdict — refused with one line, or
taken with every entry kept inside the container's root — nothing outside changes: the
corpus aims at a directory of the test's own (``outside``), whose listing, contents and
modes are compared before and after. Accepted archives are also unpacked (a container is
created from them), since extraction is where an escape would happen."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from conftest import Docker, needs_root
from layerlab.engine.oci.imageconfig import host_arch
from test_bad_input import make_tar, ti

pytestmark = needs_root


def corpus(outside: Path) -> dict[str, list[tuple[tarfile.TarInfo, bytes | None]]]:
    rel = os.path.relpath(outside, "/")
    chmod = ti("s", tarfile.DIRTYPE)
    chmod.mode = 0o4777
    dev = ti("dev/mem-again", tarfile.CHRTYPE)
    dev.devmajor, dev.devminor = 1, 1
    return {
        "dotdot": [(ti("../" * 12 + rel + "/dotdot"), b"x")],
        "absolute": [(ti(f"{outside}/absolute"), b"x")],
        "symlink-then-write": [(ti("esc", tarfile.SYMTYPE, str(outside)), None),
                               (ti("esc/through-symlink"), b"x")],
        "relative-symlink-then-write": [
            (ti("rel", tarfile.SYMTYPE, "../" * 12 + rel), None),
            (ti("rel/through-relative-symlink"), b"x")],
        "symlink-then-metadata": [(ti("s", tarfile.SYMTYPE, str(outside / "sentinel")), None),
                                  (chmod, None)],
        "hardlink-out": [(ti("hl", tarfile.LNKTYPE, "../" * 12 + rel + "/sentinel"), None)],
        "hardlink-to-escaping-symlink": [
            (ti("sl", tarfile.SYMTYPE, str(outside / "sentinel")), None),
            (ti("hl2", tarfile.LNKTYPE, "sl"), None), (ti("hl2"), b"overwritten")],
        "whiteout-escape": [(ti("d/.wh.." + "/.." * 12 + f"/{rel}/sentinel"), b"")],
        "device-node": [(dev, None)],
        "duplicates": [(ti("twice"), b"first"), (ti("twice"), b"second")],
    }


def snapshot(outside: Path) -> dict[str, tuple[int, bytes]]:
    out = {}
    for dirpath, dirs, files in os.walk(outside):
        for name in [*dirs, *files]:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(outside))] = (
                st.st_mode, p.read_bytes() if p.is_file() and not p.is_symlink() else b"")
    return out


def docker_archive(layer: bytes) -> bytes:
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": host_arch(), "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["evil:load"],
                            "Layers": ["layer.tar"]}]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:") as tf:
        for name, data in (("layer.tar", layer), ("config.json", config),
                           ("manifest.json", manifest)):
            t = tarfile.TarInfo(name)
            t.size = len(data)
            tf.addfile(t, io.BytesIO(data))
    return buf.getvalue()


def one_line_or_ok(p: object, build: bool = False) -> bool:
    """Success, or exit 1 with one line of error (``build -q`` first replays the steps it
    held back, as Docker's does on a failure: then the error is the last line)."""
    code, err = p.returncode, p.stderr  # type: ignore[attr-defined]
    clean = "Traceback" not in err and "internal error" not in err
    lines = err.splitlines()
    if build and lines:
        lines = [line for line in lines if not line.startswith(("Step ", " ---> "))]
    return clean and (code == 0 or (code == 1 and len(lines) == 1))


@pytest.mark.parametrize("driver", ["overlay"])
@pytest.mark.parametrize("path", ["import", "load", "add"])
def test_corpus_cannot_reach_outside(path: str, docker: Docker, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_bytes(b"untouched")
    os.chmod(outside / "sentinel", 0o644)
    before = snapshot(outside)
    for case, entries in corpus(outside).items():
        data = make_tar(entries)
        work = tmp_path / case
        work.mkdir()
        ref = f"evil-{case}:{path}"
        if path == "import":
            (work / "bad.tar").write_bytes(data)
            p = docker("import", str(work / "bad.tar"), ref, check=False)
        elif path == "load":
            (work / "bad.tar").write_bytes(docker_archive(data))
            p = docker("load", "-i", str(work / "bad.tar"), check=False)
            if p.returncode == 0:
                docker("tag", "evil:load", ref)
                docker("rmi", "evil:load")
        else:
            (work / "bad.tar").write_bytes(data)
            (work / "Dockerfile").write_text("FROM busybox\nADD bad.tar /dst/\n")
            p = docker("build", "-q", "-t", ref, str(work), check=False)
        assert one_line_or_ok(p, build=path == "add"), (case, p.returncode, p.stderr)
        if p.returncode == 0:
            c = docker("create", ref, "true", check=False)  # unpack the layer
            assert one_line_or_ok(c), (case, c.stderr)
            if c.returncode == 0:
                docker("rm", c.stdout.strip())
            docker("rmi", ref)
        assert snapshot(outside) == before, (case, path)
