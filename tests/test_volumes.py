"""Volumes and mounts through the real CLI: bind mounts, named and anonymous volumes,
copy-up, tmpfs, a read-only rootfs, ``--volumes-from``, ``docker volume``, and the same
as the Binder user (rootless, uid 65534).

Every mount is made by the container's init in its own mount namespace, so it goes with
the container's last process; the ``root`` fixture unmounts whatever a failure leaves
below the store, and the unprivileged session kills whatever nobody left.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import unprivileged_kit as kit
from conftest import Docker, needs_root

pytestmark = needs_root
overlay_only = pytest.mark.parametrize("driver", ["overlay"])  # the driver does not matter


def _volumes(docker: Docker) -> set[str]:
    return set(docker.out("volume", "ls", "-q").split())


@overlay_only
def test_binds_volumes_tmpfs_and_read_only_rootfs(docker: Docker, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "from-host").write_text("host data\n")
    # a bind shows the host's files, and what the container writes lands on the host
    out = docker.out("run", "--rm", "-v", f"{host}:/h", "busybox", "sh", "-c",
                     "cat /h/from-host; echo written > /h/from-ctr")
    assert out == "host data"
    assert (host / "from-ctr").read_text() == "written\n"
    # :ro is a real read-only mount: EROFS, and nothing written
    p = docker("run", "--rm", "-v", f"{host}:/h:ro", "busybox", "sh", "-c",
               "echo no > /h/nope", check=False)
    assert p.returncode != 0 and "Read-only file system" in p.stderr
    assert not (host / "nope").exists()
    # -v creates a missing bind source directory, as Docker does
    made = tmp_path / "made" / "here"
    docker("run", "--rm", "-v", f"{made}:/m", "busybox", "true")
    assert made.is_dir()
    # --read-only: the rootfs refuses writes, a --tmpfs (a real tmpfs) takes them
    out = docker.out("run", "--rm", "--read-only", "--tmpfs", "/scratch:size=1m",
                     "busybox", "sh", "-c",
                     "touch /x 2>&1; touch /scratch/y && grep ' /scratch ' /proc/mounts")
    assert "Read-only file system" in out
    assert "tmpfs /scratch tmpfs" in out and "noexec" in out


@overlay_only
def test_named_volume_outlives_its_container_and_commit_leaves_volumes_out(
        docker: Docker, tmp_path: Path) -> None:
    docker("run", "--name", "writer", "-v", "data:/data", "busybox", "sh", "-c",
           "echo kept > /data/k")
    until = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert docker.out("events", "--since", "0", "--until", until, "--filter", "type=volume",
                      "--format", "{{.Action}} {{.Actor.ID}}").split("\n") == [
        "create data", "mount data", "unmount data"]
    docker("rm", "writer")
    assert "data" in _volumes(docker)
    assert docker.out("run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/k") == "kept"
    # copy-up: a volume first mounted empty gets the image's files at that path
    docker("run", "--rm", "-v", "etcvol:/etc", "busybox", "true")
    info = json.loads(docker.out("volume", "inspect", "etcvol"))[0]
    assert (Path(info["Mountpoint"]) / "passwd").read_text().startswith("root:")
    # a volume's data is not in the RW layer: commit and export leave it out
    before = _volumes(docker)
    docker("run", "--name", "ctr", "-v", "/anon", "-v", "data:/data:ro", "busybox", "sh", "-c",
           "echo secret > /anon/s; echo layer > /in-layer; echo x > /data/ro 2>/dev/null;"
           " true")
    mounts = json.loads(docker.out("inspect", "-f", "{{json .Mounts}}", "ctr"))
    anon = next(m for m in mounts if m["Destination"] == "/anon")
    assert anon["Type"] == "volume" and anon["RW"] is True and len(anon["Name"]) == 64
    assert next(m for m in mounts if m["Destination"] == "/data")["RW"] is False
    docker("commit", "ctr", "snap:1")
    out = docker.out("run", "--rm", "snap:1", "sh", "-c", "cat /in-layer; ls -A /anon")
    assert out == "layer"
    docker("export", "-o", str(tmp_path / "c.tar"), "ctr")
    with tarfile.open(tmp_path / "c.tar") as tf:
        names = tf.getnames()
    assert "in-layer" in names and "anon" in names and "anon/s" not in names
    # --volumes-from gets the same volume; rm -v takes the anonymous one, not "data"
    assert docker.out("run", "--rm", "--volumes-from", "ctr", "busybox", "cat",
                      "/anon/s") == "secret"
    p = docker("volume", "rm", anon["Name"], check=False)
    assert p.returncode == 1
    assert p.stderr.strip().endswith(f"volume is in use - [{_id(docker, 'ctr')}]")
    docker("rm", "-v", "ctr")
    assert _volumes(docker) == before


def _id(docker: Docker, name: str) -> str:
    return docker.out("inspect", "-f", "{{.Id}}", name)


@overlay_only
def test_image_volume_is_an_anonymous_volume_with_copy_up(docker: Docker,
                                                         tmp_path: Path) -> None:
    # a build step after VOLUME writes into the step's anonymous volume: discarded, as
    # with Docker's classic builder, and the steps' volumes go with their containers
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN mkdir /app && echo seed > "
                                         "/app/f\nVOLUME /app\nRUN echo lost > /app/x\n")
    docker("build", "-q", "-t", "withvol:1", str(tmp_path))
    assert _volumes(docker) == set()
    out = docker.out("run", "--name", "vc", "withvol:1", "sh", "-c",
                     "ls /app; echo more > /app/g")
    assert out == "f"
    [m] = json.loads(docker.out("inspect", "-f", "{{json .Mounts}}", "vc"))
    assert m["Type"] == "volume" and m["Destination"] == "/app"
    assert sorted(os.listdir(m["Source"])) == ["f", "g"]
    assert "A /app/g" not in docker.out("diff", "vc")
    docker("rm", "-v", "vc")
    assert not Path(m["Source"]).exists()


@overlay_only
def test_bad_mounts_fail_in_one_line_and_create_nothing(docker: Docker,
                                                        tmp_path: Path) -> None:
    cases = {
        ("--mount", f"type=bind,source={tmp_path}/missing,target=/x"):
            f'Error response from daemon: invalid mount config for type "bind": bind source '
            f"path does not exist: {tmp_path}/missing",
        ("--mount", "bogus"):
            'invalid argument "bogus" for "--mount" flag: invalid field \'bogus\' must be a '
            "key=value pair",
        ("--mount", "type=tmpfs,source=x,target=/t"):
            'Error response from daemon: invalid mount config for type "tmpfs": field Source '
            "must not be specified",
        ("-v", "a/b:/x"): 'Error response from daemon: create a/b: "a/b" includes invalid '
                          "characters for a local volume name",
        ("-v", "/x:rel"): "Error response from daemon: invalid volume specification: "
                          "'/x:rel'",
        ("-v", "x:/a", "-v", "y:/a"): "Error response from daemon: Duplicate mount point: /a",
    }
    for flags, message in cases.items():
        p = docker("run", "--rm", *flags, "busybox", "true", check=False)
        assert p.returncode == 125, (flags, p)
        assert len(p.stderr.strip().splitlines()) == 1 and p.stderr.startswith(message), p
    assert docker.out("ps", "-aq") == ""
    assert _volumes(docker) == set()


@overlay_only
def test_volume_commands(docker: Docker) -> None:
    assert docker.out("volume", "create", "--label", "app=web", "web") == "web"
    assert docker.out("volume", "create", "web") == "web"  # exists: the same one
    docker("volume", "create", "other")
    anon = docker.out("volume", "create")
    assert len(anon) == 64
    assert docker.out("volume", "ls", "-q", "--filter", "label=app=web") == "web"
    assert docker.out("volume", "ls", "-q", "--filter", "name=oth") == "other"
    rows = [json.loads(line) for line in
            docker.out("volume", "ls", "--format", "json").splitlines()]
    assert {r["Name"] for r in rows} == {"web", "other", anon}
    assert docker.out("volume", "inspect", "-f", "{{.Driver}} {{.Labels.app}}",
                      "web") == "local web"
    docker("create", "--name", "user", "-v", "web:/w", "busybox")
    assert set(docker.out("volume", "ls", "-q", "-f", "dangling=true").split()) == {
        "other", anon}
    # prune: anonymous unused ones only; -a every unused one; "web" is in use
    out = docker.out("volume", "prune", "-f")
    assert anon in out and "other" not in out
    docker("volume", "prune", "-f", "-a")
    assert _volumes(docker) == {"web"}
    p = docker("volume", "rm", "gone", check=False)
    assert p.returncode == 1 and "get gone: no such volume" in p.stderr
    docker("volume", "rm", "-f", "gone")
    docker("rm", "user")
    assert docker.out("volume", "rm", "web") == "web"
    p = docker("volume", "create", "x", check=False)
    assert p.returncode == 1 and "volume name is too short" in p.stderr


def test_rootless_named_volume_and_bind(nobody_python: Path) -> None:
    """The Binder user: binds of its own directories and volumes under its store, made by
    the init in a mount namespace of the keeper's user namespace."""
    with kit.session(nobody_python, LAYERLAB_RUNTIME="rootless",
                     LAYERLAB_STORAGE_DRIVER="overlay") as n:
        try:
            n.docker("pull", "busybox")
            host = n.home / "shared"
            host.mkdir()
            (host / "in").write_text("mine\n")
            os.chown(host, kit.NOBODY, kit.NOBODY)
            out = n.docker("run", "--rm", "-v", f"{host}:/h", "-v", "vol:/etc", "busybox",
                           "sh", "-c", "cat /h/in; echo out > /h/out; echo v > /etc/added")
            assert out.stdout.strip() == "mine"
            assert (host / "out").read_text() == "out\n"
            assert os.stat(host / "out").st_uid == kit.NOBODY
            p = n.docker("run", "--rm", "-v", f"{host}:/h:ro", "--read-only", "--tmpfs",
                         "/t", "busybox", "sh", "-c",
                         "echo x > /h/x; echo y > /y; echo z > /t/z && echo tmpfs", check=False)
            assert p.stdout.strip() == "tmpfs", p
            assert p.stderr.count("Read-only file system") == 2
            seen = n.docker("run", "--rm", "-v", "vol:/etc", "busybox", "sh", "-c",
                            "cat /etc/added; head -c5 /etc/passwd").stdout
            assert seen == "v\nroot:"  # the second container sees the first's + copy-up
            assert "vol" in n.docker("volume", "ls", "-q").stdout.split()
            n.docker("volume", "rm", "vol")
            # cp in and out of a running container (its /proc/<pid>/root, from the keeper)
            # and of a stopped one (the snapshot view)
            n.docker("run", "-d", "--name", "live", "busybox", "sh", "-c",
                     "echo live > /f; chmod 000 /f; exec sleep 600")
            n.docker("cp", str(host / "in"), "live:/tmp/")
            assert n.docker("exec", "live", "cat", "/tmp/in").stdout == "mine\n"
            n.docker("cp", "live:/f", str(host / "got"))
            assert (host / "got").read_text() == "live\n"  # mode 000: read in the keeper
            n.docker("stop", "-t", "0", "live")
            n.docker("cp", "live:/tmp/in", str(host / "again"))
            assert (host / "again").read_text() == "mine\n"
        finally:
            ids = n.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                n.docker("rm", "-f", *ids, check=False)


def test_proot_binds_volumes_and_refuses_what_it_cannot_mount(nobody_python: Path) -> None:
    """PRoot mounts nothing: binds and volumes are its ``-b`` (read-write), and ``:ro``,
    ``--tmpfs`` and ``--read-only`` are refused before the container starts."""
    if shutil.which("proot") is None:
        pytest.skip("proot is not installed")
    with kit.session(nobody_python, LAYERLAB_RUNTIME="proot",
                     LAYERLAB_STORAGE_DRIVER="vfs") as n:
        try:
            n.docker("pull", "busybox")
            host = n.home / "shared"
            host.mkdir()
            os.chown(host, kit.NOBODY, kit.NOBODY)
            out = n.docker("run", "--rm", "-v", f"{host}:/h", "-v", "pv:/etc", "busybox", "sh",
                           "-c", "echo out > /h/out; head -c5 /etc/passwd").stdout
            assert out == "root:" and (host / "out").read_text() == "out\n"
            for flags in (["-v", f"{host}:/h:ro"], ["--tmpfs", "/t"], ["--read-only"]):
                p = n.docker("run", "--rm", *flags, "busybox", "true", check=False)
                assert p.returncode == 125 and "PRoot mode cannot make" in p.stderr, p
        finally:
            ids = n.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                n.docker("rm", "-f", *ids, check=False)
