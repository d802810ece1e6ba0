"""Rootless mode as the Binder user (uid 65534, no_new_privs): the store's keeper, owners
in layer tars, ``-u`` through a nested user namespace, and Podman loading what we saved.

Owners are the point of most of these: without root every file on disk is ours, so a
layer must record our files as 0:0 and keep an image's other owners (kept in the
``user.containers.override_stat`` xattr, or an index for symlinks) through commits and
exports, so that an image committed here loads into Podman with root-built owners.
"""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import unprivileged_kit as kit
from conftest import needs_root
from test_archives import podman, podman_store, run_podman

pytestmark = needs_root
__all__ = ["podman", "podman_store"]  # fixtures, imported for pytest to find


@pytest.fixture(params=["overlay", "vfs"])
def rootless(request: pytest.FixtureRequest, nobody_python: Path) -> Iterator[kit.Nobody]:
    with kit.session(nobody_python, LAYERLAB_RUNTIME="rootless",
                     LAYERLAB_STORAGE_DRIVER=request.param) as n:
        n.docker("pull", "busybox")
        yield n
        ids = n.docker("ps", "-aq").stdout.split()
        if ids:
            n.docker("rm", "-f", *ids)


def owned_image(n: kit.Nobody) -> str:
    """busybox's files plus /data owned by 100:101 (a dir, a file, a symlink), as an image
    built by root would have them: a flat tar imported on top of busybox's export."""
    n.docker("create", "--name", "base", "busybox")
    flat = n.home / "base.tar"
    n.docker("export", "-o", str(flat), "base")
    n.docker("rm", "base")
    out = n.home / "owned.tar"
    with tarfile.open(flat) as src, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        for m in src.getmembers():
            tf.addfile(m, src.extractfile(m) if m.isreg() else None)

        def add(name: str, kind: bytes, mode: int, data: bytes = b"", link: str = "",
                owner: tuple[int, int] = (100, 101)) -> None:
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime = kind, mode, 1700000000
            ti.uid, ti.gid = owner
            ti.size, ti.linkname = len(data), link
            tf.addfile(ti, io.BytesIO(data) if data else None)

        add("data", tarfile.DIRTYPE, 0o750)
        add("data/owned", tarfile.REGTYPE, 0o640, b"app data\n")
        add("data/link", tarfile.SYMTYPE, 0o777, link="owned")
        add("data/unrelated", tarfile.REGTYPE, 0o644, b"x\n", owner=(0, 0))
    os.chmod(out, 0o644)
    n.docker("import", "-c", "CMD sh", str(out), "owned:1")
    return "owned:1"


def owners(tar: Path, prefix: str = "") -> dict[str, tuple[int, int]]:
    with tarfile.open(tar) as tf:
        return {m.name.rstrip("/"): (m.uid, m.gid) for m in tf.getmembers()
                if m.name.startswith(prefix)}


def layer_owners(n: kit.Nobody, image: str) -> list[dict[str, tuple[int, int]]]:
    """Each layer's members and owners, from a ``save`` of ``image``."""
    archive = n.home / f"{image.replace(':', '-')}.tar"
    n.docker("save", "-o", str(archive), image)
    with tarfile.open(archive) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        out = []
        for name in manifest[0]["Layers"]:
            with tarfile.open(fileobj=tf.extractfile(name)) as layer:
                out.append({m.name.rstrip("/"): (m.uid, m.gid) for m in layer.getmembers()})
    return out


def test_owners_survive_commit_and_export_and_ours_are_root(rootless: kit.Nobody) -> None:
    n = rootless
    image = owned_image(n)
    # inside, the image's owners are not mapped: they show as root (said in info)
    shown = n.docker("run", "--rm", image, "stat", "-c", "%u:%g", "/data/owned").stdout
    assert shown.strip() == "0:0"
    n.docker("run", "--name", "c1", image, "sh", "-c",
             "echo new > /new; chmod 600 /data/unrelated")
    n.docker("commit", "c1", "step:1")
    top = layer_owners(n, "step:1")[-1]
    assert top["new"] == (0, 0)  # our file: root's in the layer
    assert top["data/unrelated"] == (0, 0)
    assert top.get("data", (100, 101)) == (100, 101)  # overlay copies the dir up, vfs not
    assert "data/owned" not in top  # an unrelated change leaves it in the layer below
    # a second container on the commit changes the owned file: the owner goes along
    n.docker("run", "--name", "c2", "step:1", "sh", "-c", "echo more >> /data/owned")
    n.docker("commit", "c2", "step:2")
    assert layer_owners(n, "step:2")[-1]["data/owned"] == (100, 101)
    flat = n.home / "c2.tar"
    n.docker("export", "-o", str(flat), "c2")
    seen = owners(flat)
    assert seen["data"] == seen["data/owned"] == seen["data/link"] == (100, 101)
    assert seen["new"] == seen["bin/busybox"] == (0, 0)
    assert {uid for uid, _ in seen.values()} == {0, 100}  # never our own uid 65534


def test_committed_layer_loads_into_podman_root_owned(rootless: kit.Nobody,
                                                     podman_store: list[str]) -> None:
    n = rootless
    image = owned_image(n)
    n.docker("run", "--name", "ww", image, "sh", "-c",
             "echo hi > /made-here; mkdir -p /srv/app; echo x > /srv/app/f; "
             "echo more >> /data/owned")
    n.docker("commit", "ww", "binder:1")
    archive = n.home / "binder.tar"
    n.docker("save", "-o", str(archive), "binder:1")
    loaded = run_podman(podman_store, "load", "-i", str(archive))
    name = next(line.split(": ", 1)[1] for line in loaded.splitlines()
                if line.startswith("Loaded image"))
    assert name.endswith("binder:1")
    got = run_podman(podman_store, "run", "--rm", "--network", "none", name,
                     "stat", "-c", "%u:%g %n", "/made-here", "/srv/app/f", "/data/owned",
                     "/bin/busybox").split("\n")
    assert got[:4] == ["0:0 /made-here", "0:0 /srv/app/f", "100:101 /data/owned",
                       "0:0 /bin/busybox"]


def test_user_flag_runs_as_that_uid_in_a_nested_namespace(rootless: kit.Nobody) -> None:
    n = rootless
    out = n.docker("run", "--rm", "-u", "nobody", "busybox", "sh", "-c",
                   "id -un; id -u; grep Cap[EP] /proc/self/status").stdout.split("\n")
    assert out[:2] == ["nobody", "65534"]
    assert "CapPrm:\t0000000000000000" in out and "CapEff:\t0000000000000000" in out
    n.docker("run", "-d", "--name", "uu", "-u", "1000:1000", "busybox", "sleep", "60")
    assert n.docker("exec", "uu", "id", "-u").stdout.strip() == "1000"  # the container's
    assert n.docker("exec", "-u", "0", "uu", "id", "-u").stdout.strip() == "0"
    notes = json.loads(n.docker("inspect", "--format", "{{json .Isolation}}", "uu").stdout)
    assert any("nested user namespace" in note for note in notes["Notes"])


def test_unreadable_files_are_read_through_the_keeper(rootless: kit.Nobody) -> None:
    """A container can leave files its own uid cannot read (mode 000): commit and export
    read them in the keeper's namespace, with CAP_DAC_OVERRIDE over our own files."""
    n = rootless
    n.docker("run", "--name", "locked", "busybox", "sh", "-c",
             "mkdir /vault; echo secret > /vault/key; chmod 000 /vault/key /vault")
    assert "A /vault/key" in n.docker("diff", "locked").stdout
    n.docker("commit", "locked", "locked:1")
    top = layer_owners(n, "locked:1")[-1]
    assert top["vault/key"] == (0, 0)
    assert n.docker("run", "--rm", "locked:1", "cat", "/vault/key").stdout == "secret\n"


def test_stale_keeper_is_replaced(rootless: kit.Nobody) -> None:
    n = rootless
    n.docker("run", "--rm", "busybox", "true")
    first = json.loads((n.store / "keeper.json").read_text())
    os.kill(first["pid"], signal.SIGKILL)
    kit._wait_gone(first["pid"], 10)
    kit.reap_orphans()
    assert n.docker("run", "--rm", "busybox", "echo", "again").stdout == "again\n"
    second = json.loads((n.store / "keeper.json").read_text())
    assert second["pid"] != first["pid"] and second["boot_id"] == first["boot_id"]
    # a record naming a live process that is not the keeper (a reused PID) is stale too
    (n.store / "keeper.json").write_text(json.dumps({**second, "pid": os.getpid()}))
    assert n.docker("run", "--rm", "busybox", "echo", "third").stdout == "third\n"
    third = json.loads((n.store / "keeper.json").read_text())
    assert third["pid"] not in (os.getpid(), second["pid"])
    os.kill(second["pid"], signal.SIGKILL)  # the replaced one lives until killed
    kit._wait_gone(second["pid"], 10)
    kit.reap_orphans()
