"""Issue 11's host-write attacks, each a regression test: untrusted archives, manifests and
Dockerfiles never change anything outside the root they are unpacked into."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import uuid
from pathlib import Path

import pytest
from conftest import Docker, needs_root
from layerlab.engine.errors import InvalidArgument
from layerlab.engine.oci import layertar
from layerlab.engine.oci.imageconfig import compact, host_arch
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer import archive
from test_archives import layer_tar, make_tar, sha


def tar_of(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644,
           link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.linkname, ti.mtime = kind, mode, link, 1_700_000_000
    return ti


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    """A file outside every root, standing for /usr/bin/passwd or /etc/shadow."""
    target = tmp_path / "host" / "file"
    target.parent.mkdir()
    target.write_bytes(b"host\n")
    target.chmod(0o644)
    return target


def symlink_then_metadata(target: Path) -> bytes:
    """A directory ``d`` (setuid 4777), then ``d`` again as a symlink to the host file: the
    directory's saved mode, applied at the end, must not follow the symlink."""
    return tar_of((member("d", tarfile.DIRTYPE, 0o4777), None),
                  (member("d/inner"), b"x"),
                  (member("d", tarfile.SYMTYPE, link=str(target)), None))


@pytest.mark.parametrize("mode", ["overlay", "apply", "plain"])
def test_directory_metadata_never_follows_a_later_symlink(tmp_path: Path, host_file: Path,
                                                          mode: str) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    layertar.extract(io.BytesIO(symlink_then_metadata(host_file)), dest, mode)  # type: ignore[arg-type]
    assert stat.S_IMODE(host_file.stat().st_mode) == 0o644
    assert os.readlink(dest / "d") == str(host_file)


@needs_root
def test_create_of_an_imported_symlink_then_metadata_layer(docker: Docker, tmp_path: Path,
                                                           host_file: Path) -> None:
    """The issue's path: import the layer, then ``create`` unpacks it (overlay lowerdir, or
    the vfs copy)."""
    src = tmp_path / "evil.tar"
    src.write_bytes(symlink_then_metadata(host_file))
    docker("import", str(src), "evil:1")
    docker("create", "evil:1", "true")
    assert stat.S_IMODE(host_file.stat().st_mode) == 0o644


def test_every_mode_write_refuses_symlink_then_write(tmp_path: Path, host_file: Path) -> None:
    data = tar_of((member("esc", tarfile.SYMTYPE, link=str(host_file.parent)), None),
                  (member("esc/file"), b"evil"))
    for mode in ("overlay", "apply", "plain"):
        dest = tmp_path / f"dest-{mode}"
        dest.mkdir()
        with pytest.raises(InvalidArgument, match="through symlink"):
            layertar.extract(io.BytesIO(data), dest, mode)  # type: ignore[arg-type]
    assert host_file.read_bytes() == b"host\n"


# -- manifest fields are names, never paths ---------------------------------------------------
def test_load_refuses_a_parent_that_is_a_path(tmp_path: Path) -> None:
    """``Parent: sha256:../../../some/dir`` whose dir holds a config.json used to become the
    image's parent link, and ``rmi`` then deleted that host directory."""
    engine = Engine(tmp_path / "root", "vfs")
    layer = layer_tar({"f": b"1\n"})
    config = compact({"architecture": host_arch(), "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [sha(layer)]},
                      "history": [{"created_by": "x"}]})
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "config.json").write_bytes(compact({"rootfs": {"type": "layers",
                                                             "diff_ids": []}}))
    (victim / "precious").write_bytes(b"keep me\n")
    relative = os.path.relpath(victim, engine.store.images.root)
    data = make_tar({
        f"blobs/sha256/{sha(config)[7:]}": config,
        f"blobs/sha256/{sha(layer)[7:]}": layer,
        "manifest.json": json.dumps([{"Config": f"blobs/sha256/{sha(config)[7:]}",
                                      "RepoTags": ["evil:1"],
                                      "Layers": [f"blobs/sha256/{sha(layer)[7:]}"],
                                      "Parent": f"sha256:{relative}"}]).encode()})
    with pytest.raises(InvalidArgument, match="Parent"):
        archive.load(engine, io.BytesIO(data))
    assert engine.images.all() == []
    assert (victim / "precious").read_bytes() == b"keep me\n"


def test_stores_never_join_a_non_digest(tmp_path: Path) -> None:
    engine = Engine(tmp_path / "root", "vfs")
    for bad in ("sha256:../../..", "../x", "sha256:" + "a" * 63):
        assert not engine.store.images.exists(bad)
        assert engine.store.layers.find(bad) is None
        assert not engine.store.content.has(bad)
        with pytest.raises(InvalidArgument):
            engine.store.images.delete(bad)


# -- Dockerfiles ----------------------------------------------------------------------------
@needs_root
def test_run_heredoc_name_cannot_leave_the_rootfs(docker: Docker, tmp_path: Path) -> None:
    target = Path("/tmp") / f"layerlab-pwned-{uuid.uuid4().hex}"
    name = "x/" + "../" * 40 + target.as_posix().lstrip("/")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN mkdir /.layerlab-heredoc-x\n"
        f"RUN <<{name}\n#!/bin/sh\necho from the heredoc\n{name}\n")
    try:
        p = docker("build", "-t", "heredoc:1", str(ctx), check=False)
        assert not target.exists(), "the heredoc script was written on the host"
        assert p.returncode == 0, p.stderr
        assert "from the heredoc" in p.stdout
    finally:
        target.unlink(missing_ok=True)


@needs_root
def test_add_extracts_a_plain_archive_without_whiteouts(docker: Docker, tmp_path: Path) -> None:
    """``.wh.`` entries of an ADDed tar are not deletions of the destination's files (and,
    as names no OCI layer can hold, they do not reach the step's layer either)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "x.tar").write_bytes(tar_of((member(".wh.bin"), b"a file\n"),
                                       (member("dest/.wh..wh..opq"), b"also a file\n"),
                                       (member("dest/new"), b"new\n")))
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN mkdir /dest && echo old > /dest/old\n"
                                    "ADD x.tar /\n")
    docker("build", "-t", "plain:1", str(ctx))
    out = docker.out("run", "--rm", "plain:1", "sh", "-c",
                     "test -x /bin/sh && cat /dest/old /dest/new && ls -a /dest")
    assert out.split("\n") == ["old", "new", ".", "..", "new", "old"]


@needs_root
def test_copy_under_a_dangling_symlink_goes_inside_the_root(docker: Docker,
                                                            tmp_path: Path) -> None:
    outside = Path("/") / f"layerlab-dangling-{uuid.uuid4().hex}"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("payload\n")
    (ctx / "Dockerfile").write_text(f"FROM busybox\nRUN ln -s {outside}/deeper /app\n"
                                    "COPY f /app/sub/f\nWORKDIR /app/wd\n")
    try:
        p = docker("build", "-t", "dangling:1", str(ctx), check=False)
        assert p.returncode == 0, p.stderr
        assert not outside.exists()
        out = docker.out("run", "--rm", "dangling:1", "cat", f"{outside}/deeper/sub/f")
        assert out == "payload"
    finally:
        if outside.exists():
            import shutil

            shutil.rmtree(outside)


def test_applying_a_layer_keeps_the_times_of_lower_directories(tmp_path: Path) -> None:
    """vfs stacks layers in one tree: a file a layer adds to a lower layer's directory must
    not give that directory a new mtime the image index does not have (a later step then
    saw it "changed" and made a layer of it, depending on the clock's second)."""
    old = tarfile.TarInfo("a")
    old.type, old.mode, old.mtime = tarfile.DIRTYPE, 0o755, 1_000_000_000
    new = tarfile.TarInfo("a/new")
    new.size, new.mtime = 1, 2_000_000_000
    root = tmp_path / "root"
    root.mkdir()
    for info, data in ((old, None), (new, b"x")):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            tf.addfile(info, io.BytesIO(data) if data else None)
        layertar.extract(io.BytesIO(buf.getvalue()), root, "apply")  # type: ignore[arg-type]
    assert os.stat(root / "a").st_mtime == 1_000_000_000
    assert (root / "a" / "new").read_bytes() == b"x"
