"""Property test of the extractor (issue 11): whatever members an archive holds, extraction
either refuses it with a one-line error or writes only below its root, and a layer that
``check`` (registration) accepts is one extraction never refuses."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from layerlab.engine.errors import InvalidArgument
from layerlab.engine.oci import layertar

NAMES = st.sampled_from(["a", "b", "c", ".wh.a", ".wh..wh..opq", "..", "."])
PATHS = st.lists(NAMES, min_size=1, max_size=4).map("/".join)
TARGETS = st.sampled_from(["a", "../a", "/tmp", "../../outside", "a/b", "/", "b/c"])


@st.composite
def members(draw: st.DrawFn) -> list[tuple[str, bytes, str, int]]:
    kinds = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE,
                             tarfile.LNKTYPE, tarfile.FIFOTYPE])
    out = []
    for _ in range(draw(st.integers(1, 12))):
        prefix = draw(st.sampled_from(["", "/", "./"]))
        out.append((prefix + draw(PATHS), draw(kinds), draw(TARGETS),
                    draw(st.sampled_from([0o644, 0o4777, 0o000, 0o755]))))
    return out


def archive(spec: list[tuple[str, bytes, str, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, target, mode in spec:
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode = kind, mode
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                ti.linkname = target
            data = b"x" if kind == tarfile.REGTYPE else None
            ti.size = len(data) if data else 0
            tf.addfile(ti, io.BytesIO(data) if data else None)
    return buf.getvalue()


def digest(path: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st_ = os.lstat(p)
            h.update(f"{p} {st_.st_mode} {st_.st_size} {st_.st_mtime_ns}".encode())
    return h.hexdigest()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(members(), st.sampled_from(["overlay", "apply", "plain"]))
def test_extraction_stays_inside_its_root(spec: list[tuple[str, bytes, str, int]],
                                          mode: str) -> None:
    base = Path(tempfile.mkdtemp(prefix="llfuzz-"))
    try:
        outside = base / "outside"
        outside.mkdir()
        (outside / "a").write_bytes(b"host\n")
        (outside / "a").chmod(0o644)
        dest = base / "deep" / "dest"
        dest.mkdir(parents=True)
        before = digest(outside)
        data = archive(spec)
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                accepted = layertar.check(tf.getmembers(), plain=mode == "plain")
        except InvalidArgument:
            accepted = None
        try:
            layertar.extract(io.BytesIO(data), dest, mode)  # type: ignore[arg-type]
            extracted = True
        except InvalidArgument as e:
            assert "\n" not in str(e)
            extracted = False
        if accepted is not None and mode == "overlay":
            assert extracted, "registration accepted a layer that extraction refuses"
        assert digest(outside) == before
        assert sorted(os.listdir(base)) == ["deep", "outside"]
        assert os.listdir(base / "deep") == ["dest"]
        assert not Path("/tmp/a").exists() or Path("/tmp/a").is_symlink() is False
    finally:
        # os.walk lists a symlink to a directory among ``dirnames`` (the archive's own
        # symlinks to /tmp and / are there): chmod would follow it and lock the host's
        # /tmp or / to 0700. Only real directories are opened up for the removal.
        for dirpath, dirnames, _ in os.walk(base):
            for d in dirnames:
                p = os.path.join(dirpath, d)
                if not os.path.islink(p):
                    with __import__("contextlib").suppress(OSError):
                        os.chmod(p, 0o700)
        shutil.rmtree(base, ignore_errors=True)
