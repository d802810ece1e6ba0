"""The real Docker CLI on the service's socket for volumes, mounts and ``cp``: the
``/volumes`` endpoints, ``HostConfig.Binds/Mounts/Tmpfs/ReadonlyRootfs`` and
``Config.Volumes`` on create, and ``/containers/{id}/archive`` (HEAD, GET, PUT)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import needs_root
from dockerapi_kit import DOCKER, Clients, clients

pytestmark = [needs_root, pytest.mark.skipif(DOCKER is None, reason="no Docker CLI on PATH")]


@pytest.fixture(scope="module")
def pair() -> Iterator[Clients]:
    with clients() as c:
        yield c


def ok(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 0, p
    return p.stdout.strip()


def test_volumes_and_mounts_through_the_docker_cli(pair: Clients, tmp_path: Path) -> None:
    d = pair.docker
    assert ok(d("volume", "create", "--label", "k=v", "apivol")) == "apivol"
    assert json.loads(ok(d("volume", "inspect", "apivol")))[0]["Labels"] == {"k": "v"}
    ok(d("run", "--rm", "-v", "apivol:/data", "busybox", "sh", "-c", "echo api > /data/f"))
    # the same volume, seen by LayerLab's own CLI on the same store
    assert ok(pair.layerlab("run", "--rm", "-v", "apivol:/data", "busybox", "cat",
                            "/data/f")) == "api"
    host = tmp_path / "bind"
    host.mkdir()
    out = ok(d("run", "--rm", "--read-only", "--tmpfs", "/t", "-v", f"{host}:/b",
               "--mount", f"type=bind,source={host},target=/ro,readonly", "-v", "/anon",
               "busybox", "sh", "-c",
               "echo b > /b/f; touch /ro/x 2>&1; touch /x 2>&1; touch /t/ok && echo tmpfs"))
    assert out.count("Read-only file system") == 2 and out.endswith("tmpfs")
    assert (host / "f").read_text() == "b\n" and not (host / "x").exists()
    p = d("run", "--rm", "--mount", f"type=bind,source={tmp_path}/missing,target=/x",
          "busybox", "true")
    assert p.returncode == 125 and "bind source path does not exist" in p.stderr
    ok(d("create", "--name", "holder", "-v", "apivol:/data", "busybox"))
    p = d("volume", "rm", "apivol")
    assert p.returncode == 1 and "volume is in use" in p.stderr
    ok(d("rm", "holder"))
    assert "apivol" in ok(d("volume", "ls", "--format", "{{.Name}}")).split()
    ok(d("volume", "prune", "-f", "-a"))
    assert ok(d("volume", "ls", "-q")) == ""


def test_cp_through_the_docker_cli(pair: Clients, tmp_path: Path) -> None:
    d = pair.docker
    ok(d("run", "-d", "--name", "cpapi", "busybox", "sh", "-c",
         "mkdir /d; echo inside > /d/f; ln -s / /esc; exec sleep 600"))
    try:
        ok(d("cp", "cpapi:/d", str(tmp_path)))
        assert (tmp_path / "d/f").read_text() == "inside\n"
        (tmp_path / "up").write_text("up\n")
        ok(d("cp", str(tmp_path / "up"), "cpapi:/esc/tmp/"))
        assert ok(d("exec", "cpapi", "cat", "/tmp/up")) == "up"
        p = d("cp", "cpapi:/nope", str(tmp_path))
        assert p.returncode == 1 and "nope" in p.stderr
    finally:
        d("rm", "-f", "cpapi")
