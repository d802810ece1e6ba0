"""``docker cp`` through the real CLI: both directions, ``-`` tar streams, ``-a``, ``-L``,
running and stopped containers, and symlinks that point out of the container's root.

SAFETY: before anything is written into a container, the test proves that ``cp`` reads
the container's root (a marker only the container has comes back) and the host's marker
file outside is checked untouched after every copy through an escaping symlink.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from conftest import Docker, needs_root

pytestmark = [needs_root, pytest.mark.parametrize("driver", ["overlay"])]


def raw(docker: Docker, *args: str,
        input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """A CLI run with binary stdin/stdout (tar streams)."""
    return subprocess.run([sys.executable, "-m", "layerlab.engine.cli", *args], input=input,
                          capture_output=True, env=docker.env, timeout=60,
                          stdin=None if input is not None else subprocess.DEVNULL)


def tar_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_cp_both_ways_inside_the_root_only(docker: Docker, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = outside / "marker"
    marker.write_text("host\n")
    token = uuid.uuid4().hex
    docker("run", "-d", "--name", "cpc", "busybox", "sh", "-c",
           f"echo {token} > /marker; mkdir -p /d/sub; echo in > /d/sub/f; ln -s / /esc; "
           f"ln -s ../../../.. /up; ln -s {marker} /hostlink; ln -s {outside} /hostdir; "
           "touch /ready; exec sleep 600")
    docker("exec", "cpc", "sh", "-c", "while [ ! -e /ready ]; do sleep 0.01; done")
    # proof that cp resolves paths in the container's root, before any write
    assert raw(docker, "cp", "cpc:/esc/marker", "-").returncode == 0
    with tarfile.open(fileobj=io.BytesIO(raw(docker, "cp", "cpc:/up/marker", "-").stdout)) as tf:
        assert tf.extractfile("marker").read().decode().strip() == token  # type: ignore[union-attr]
    assert not Path("/marker").exists()

    # out: a directory into an existing one, a file to a new name, SRC/. as contents
    dest = tmp_path / "dest"
    dest.mkdir()
    docker("cp", "cpc:/d", str(dest))
    assert (dest / "d/sub/f").read_text() == "in\n"
    docker("cp", "cpc:/up/d/sub/f", str(dest / "renamed"))
    assert (dest / "renamed").read_text() == "in\n"
    docker("cp", "cpc:/d/.", str(dest / "contents"))
    assert os.listdir(dest / "contents") == ["sub"]
    # a symlink is copied as itself; -L follows it, inside the container: the host's
    # marker is never read (the container has no such file)
    docker("cp", "cpc:/hostlink", str(dest))
    assert os.readlink(dest / "hostlink") == str(marker)
    p = docker("cp", "-L", "cpc:/hostlink", str(dest / "followed"), check=False)
    assert p.returncode == 1 and p.stderr.strip() == (
        "Error response from daemon: Could not find the file /hostlink in container cpc")
    assert not (dest / "followed").exists()

    # in: through symlinks that point out of the root, the copy stays inside
    src = tmp_path / "src.txt"
    src.write_text("copied in\n")
    docker("cp", str(src), "cpc:/esc/tmp/")
    p = docker("cp", str(src), "cpc:/hostdir/", check=False)  # a path the container lacks
    assert p.returncode == 1 and "Could not find the file /hostdir/ in container" in p.stderr
    docker("cp", str(src), "cpc:/hostlink")  # its target is not in the container: the
    assert docker.out("exec", "cpc", "cat", "/hostlink") == "copied in"  # link is replaced
    assert docker.out("exec", "cpc", "cat", "/tmp/src.txt") == "copied in"
    assert marker.read_text() == "host\n" and os.listdir(outside) == ["marker"]
    # owners: 0:0 unless -a
    os.chown(src, 1234, 4321)
    docker("cp", str(src), "cpc:/tmp/owned")
    docker("cp", "-a", str(src), "cpc:/tmp/kept")
    assert docker.out("exec", "cpc", "stat", "-c", "%u:%g", "/tmp/owned",
                      "/tmp/kept").split() == ["0:0", "1234:4321"]

    # - : a tar stream each way
    p = raw(docker, "cp", "cpc:/d", "-")
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        assert sorted(tf.getnames()) == ["d", "d/sub", "d/sub/f"]
    p = raw(docker, "cp", "-", "cpc:/tmp", input=tar_of({"streamed/x": b"s\n"}))
    assert p.returncode == 0, p.stderr
    assert docker.out("exec", "cpc", "cat", "/tmp/streamed/x") == "s"

    # bad input: one line, exit 1, nothing written
    before = docker.out("exec", "cpc", "ls", "-A", "/tmp")
    for data in (b"not a tar at all" * 64, tar_of({"../../escape": b"x", "ok": b"y"}),
                 tar_of({"fine": b"z" * 4096})[:1536]):
        p = raw(docker, "cp", "-", "cpc:/tmp", input=data)
        assert p.returncode == 1 and len(p.stderr.decode().strip().splitlines()) == 1, p
    assert docker.out("exec", "cpc", "ls", "-A", "/tmp") == before
    assert not (tmp_path.parent / "escape").exists()
    for args, message in (
            (("cpc:/nope", str(dest)), "Error response from daemon: Could not find the file "
                                       "/nope in container cpc"),
            ((str(src), "cpc:/nope/x"), "Error response from daemon: Could not find the file "
                                        "/nope in container cpc"),
            (("cpc:/d", "cpc:/e"), "copying between containers is not supported"),
            ((str(src), str(dest)), "must specify at least one container source"),
            (("-", "cpc:/marker"), 'destination "cpc:/marker" must be a directory')):
        p = docker("cp", *args, check=False, input=b"")
        assert p.returncode == 1 and p.stderr.strip() == message, (args, p.stderr)
    docker("rm", "-f", "cpc")


def test_cp_on_a_stopped_container_reaches_its_layer_and_its_volumes(
        docker: Docker, tmp_path: Path) -> None:
    docker("run", "--name", "gone", "-v", "keep:/data", "busybox", "sh", "-c",
           "echo layer > /in-layer; echo vol > /data/v")
    out = tmp_path / "out"
    out.mkdir()
    docker("cp", "gone:/in-layer", str(out))
    docker("cp", "gone:/data/v", str(out))
    assert (out / "in-layer").read_text() == "layer\n" and (out / "v").read_text() == "vol\n"
    (tmp_path / "new").write_text("new\n")
    docker("cp", str(tmp_path / "new"), "gone:/data/")
    docker("cp", str(tmp_path / "new"), "gone:/etc/")
    assert "A /etc/new" in docker.out("diff", "gone")  # in the RW layer
    assert docker.out("run", "--rm", "-v", "keep:/data", "busybox", "cat",
                      "/data/new") == "new"  # in the volume, not in the layer
    assert "/data/new" not in docker.out("diff", "gone")
