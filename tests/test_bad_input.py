"""Bad input: one clear Docker-like line, a non-zero exit, nothing half-made in the store,
nothing written outside it."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from conftest import Docker, needs_root
from layerlab.engine.services.engine import Engine

pytestmark = needs_root


def store_listing(root: Path) -> list[str]:
    """Every record of the store (blobs, layers, images, refs, containers)."""
    out = []
    for dirpath, _dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel.startswith(("overlay", "vfs")) or "/diff" in rel:
            continue
        for f in files:
            if f not in ("lock",):
                out.append(os.path.join(rel, f))
    refs = root / "repositories.json"
    return [*sorted(out), refs.read_text() if refs.exists() else ""]


def make_tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.PAX_FORMAT) as tf:
        for ti, data in entries:
            if data is not None:
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def ti(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.type, t.linkname, t.mode = kind, link, 0o644
    return t


ESCAPES = {
    "dotdot": [(ti("../evil"), b"xx")],
    "absolute": [(ti("/abs-evil"), b"xx")],
    "symlink-then-write": [(ti("esc", tarfile.SYMTYPE, "/tmp"), None),
                           (ti("esc/evil-through-symlink"), b"xx")],
    "hardlink-outside": [(ti("hl", tarfile.LNKTYPE, "../../etc/passwd"), None)],
    "not-a-tar": None,
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_import_refuses_escaping_archives(case: str, docker: Docker, engine: Engine,
                                          root: Path, tmp_path: Path) -> None:
    data = b"this is not a tar archive at all" * 40 if ESCAPES[case] is None else make_tar(
        ESCAPES[case])  # type: ignore[arg-type]
    src = tmp_path / "bad.tar"
    src.write_bytes(data)
    before = store_listing(root)
    p = docker("import", str(src), "bad:1", check=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and "invalid archive" in p.stderr
    assert store_listing(root) == before
    assert not Path("/tmp/evil-through-symlink").exists()
    assert not (tmp_path / "evil").exists() and not Path("/abs-evil").exists()


def test_symlink_then_write_cannot_escape_at_extract(engine: Engine, tmp_path: Path) -> None:
    from layerlab.engine.errors import InvalidArgument
    from layerlab.engine.oci import layertar

    target = tmp_path / "outside"
    target.mkdir()
    data = make_tar([(ti("esc", tarfile.SYMTYPE, str(target)), None),
                     (ti("esc/file"), b"xx")])
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="through symlink"):
        layertar.extract(io.BytesIO(data), dest, "apply")
    assert list(target.iterdir()) == []


def test_unknown_objects_and_ambiguity(docker: Docker) -> None:
    p = docker("inspect", "nothing-here", check=False)
    assert p.returncode == 1 and "No such object: nothing-here" in p.stderr
    p = docker("start", "ghost", check=False)
    assert p.returncode == 1 and "No such container: ghost" in p.stderr
    p = docker("history", "ghost:1", check=False)
    assert p.returncode == 1 and "No such image: ghost:1" in p.stderr
    p = docker("run", "Bad_Name", check=False)
    assert p.returncode == 125 and "invalid reference format" in p.stderr
    ids = {docker.out("create", "busybox") for _ in range(20)}
    first = {i[0] for i in ids}
    shared = next(c for c in first if sum(1 for i in ids if i[0] == c) > 1)
    p = docker("rm", shared, check=False)
    assert p.returncode == 1 and "multiple containers match" in p.stderr
    assert len(docker.out("ps", "-a", "-q").split()) == 20


def test_usage_errors(docker: Docker) -> None:
    p = docker("ps", "--bogus", check=False)
    assert p.returncode == 125 and "unknown flag: --bogus" in p.stderr
    p = docker("frobnicate", check=False)
    assert p.returncode == 125 and "is not a docker command" in p.stderr
    p = docker("kill", "-s", "NOTASIG", "xx", check=False)
    assert p.returncode == 1
    p = docker("import", "/nonexistent.tar", check=False)
    assert p.returncode == 1 and "no such file" in p.stderr
    docker("create", "--name", "xx", "busybox")
    p = docker("commit", "-c", "RUN rm -rf /", "xx", check=False)
    assert p.returncode == 1 and "RUN is not a valid change command" in p.stderr
    assert docker.out("images", "-q", "-a") == docker.out("images", "-q", "busybox")


def test_failed_save_leaves_no_file(docker: Docker, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    outdir.mkdir()
    p = docker("save", "-o", str(outdir / "x.tar"), "nosuch:1", check=False)
    assert p.returncode == 1 and "No such image: nosuch:1" in p.stderr
    assert list(outdir.iterdir()) == []


def test_files_that_cannot_be_archives_are_one_line_errors(docker: Docker,
                                                           tmp_path: Path) -> None:
    """Missing folders and directories named where an archive belongs: Go's one line,
    exit 1, and nothing written beside them."""
    folder = tmp_path / "files"
    folder.mkdir()
    cases = [(("save", "-o", str(folder / "missing" / "x.tar"), "busybox"),
              f"open {folder}/missing/x.tar: no such file or directory"),
             (("save", "-o", str(folder), "busybox"), f"open {folder}: is a directory"),
             (("load", "-i", str(folder)), f"read {folder}: is a directory"),
             (("import", str(folder)), f"read {folder}: is a directory")]
    for argv, message in cases:
        p = docker(*argv, check=False)
        assert p.returncode == 1 and message in p.stderr, (argv, p.stderr)
        assert "Traceback" not in p.stderr and "internal error" not in p.stderr
    assert list(folder.iterdir()) == []
    p = docker("run", "--rm", "-u", "99999999999", "busybox", "id", check=False)
    assert p.returncode == 126 and "uids and gids must be in range 0-2147483647" in p.stderr
