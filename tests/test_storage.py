"""S1, S2, S4, S9, S14, S15, S21: layers, the RW layer, commit, images, rmi, history."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path

import pytest
from conftest import Docker, needs_root
from layerlab.engine.oci.digest import chain_ids
from layerlab.engine.services.engine import Engine

pytestmark = needs_root
UNPRIVILEGED = pytest.mark.unprivileged("rootless", "proot")


def tree_digest(path: Path) -> str:
    """A digest of every path, mode, owner, size, mtime, link and content under ``path``."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(f"{os.path.relpath(p, path)} {st.st_mode} {st.st_uid} {st.st_gid} "
                     f"{st.st_size} {st.st_mtime_ns} {st.st_rdev}".encode())
            if os.path.islink(p):
                h.update(os.readlink(p).encode())
            elif os.path.isfile(p):
                h.update(Path(p).read_bytes())
    return h.hexdigest()


def layer_state(engine: Engine) -> dict[str, str]:
    """Digests of every stored layer blob and every unpacked layer directory."""
    out = {}
    for layer in engine.store.layers.all():
        blob = engine.store.content.path(layer.diff_id).read_bytes()
        out[layer.diff_id] = hashlib.sha256(blob).hexdigest()
        unpacked = engine.driver("overlay").root / "lower" / layer.chain_id[7:]
        if unpacked.exists():
            out[layer.chain_id + "/diff"] = tree_digest(unpacked)
    return out


def inspect(docker: Docker, name: str) -> dict:
    return json.loads(docker.out("inspect", name))[0]


def test_s1_image_lists_diffids_and_layers_never_change(docker: Docker, engine: Engine) -> None:
    img = inspect(docker, "busybox")
    assert img["RootFS"]["Type"] == "layers"
    diff_ids = img["RootFS"]["Layers"]
    assert len(diff_ids) == 1 and diff_ids[0].startswith("sha256:")
    # the diffID is the sha256 of the stored uncompressed tar
    blob = engine.store.content.path(diff_ids[0]).read_bytes()
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == diff_ids[0]
    docker("create", "--name", "warm", "busybox")  # unpacks layers for overlay
    before = layer_state(engine)
    docker("run", "--name", "busy", "busybox", "sh", "-c",
           "echo new > /bin/busybox-note; rm /bin/ls; echo x >> /etc/passwd; "
           "chmod 700 /etc; mkdir -p /a/b; rm -rf /usr")
    docker("run", "-d", "--name", "live", "busybox", "sleep", "30")
    docker("exec", "live", "sh", "-c", "rm -rf /bin/vi /etc; echo y > /root/z")
    docker("commit", "busy", "busy:1")
    docker("export", "live", "-o", os.devnull)
    docker("rm", "-f", "busy", "live")
    after = layer_state(engine)
    assert {k: v for k, v in after.items() if k in before} == before


@UNPRIVILEGED
def test_s2_container_has_lower_upper_merged_and_writes_land_in_upper(
        docker: Docker, driver: str, isolation: str, root: Path) -> None:
    docker("run", "-d", "--name", "rw", "busybox", "sh", "-c", "echo data > /root/file; sleep 30")
    docker("exec", "rw", "sh", "-c", "test -f /root/file")  # the write has happened
    data = inspect(docker, "rw")["GraphDriver"]
    assert data["Name"] == driver
    if driver == "overlay":
        d = data["Data"]
        assert set(d) >= {"LowerDir", "UpperDir", "MergedDir", "WorkDir"}
        assert Path(d["UpperDir"], "root/file").read_text() == "data\n"
        merged = d["MergedDir"]
        if isolation == "rootless":  # mounted in the keeper's mount namespace only
            assert not os.path.ismount(merged)
            keeper = json.loads((root / "keeper.json").read_text())["pid"]
            merged = f"/proc/{keeper}/root{merged}"
        assert Path(merged, "root/file").read_text() == "data\n"
        assert Path(merged, "bin/busybox").exists()
        assert not Path(d["UpperDir"], "bin/busybox").exists()
        for lower in d["LowerDir"].split(":"):
            assert not Path(lower, "root/file").exists()
    else:
        assert Path(data["Data"]["Dir"], "root/file").read_text() == "data\n"
    docker("rm", "-f", "rw")


def _root_mount(docker: Docker, name: str) -> str:
    lines = docker.out("exec", name, "cat", "/proc/self/mountinfo").splitlines()
    return next(line for line in lines if line.split()[4] == "/")


@pytest.mark.parametrize(("isolation", "driver"), [("root", "overlay"), ("rootless", "overlay")])
def test_rm_containers_are_mounted_volatile_and_remount_within_a_boot(
        docker: Docker, driver: str, root: Path) -> None:
    """--rm: its layer is thrown away at exit, so the overlay is volatile (no sync of the
    store's filesystem at unmount); a restart mounts it again, but not after a reboot."""
    docker("run", "-d", "--name", "kept", "busybox", "sleep", "30")
    docker("run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "30")
    assert "volatile" not in _root_mount(docker, "kept")
    assert "volatile" in _root_mount(docker, "gone")
    docker("rm", "-f", "kept")
    docker("restart", "-t", "0", "gone")  # the kernel's mark of the last volatile mount
    assert "volatile" in _root_mount(docker, "gone")
    cid = docker.out("inspect", "-f", "{{.Id}}", "gone")
    (root / "overlay" / cid / ".volatile-boot").write_text("another-boot")  # as after a crash
    p = docker("restart", "-t", "0", "gone", check=False)
    assert p.returncode != 0
    assert "was mounted volatile when the machine went down" in p.stderr
    assert "Traceback" not in p.stderr
    assert docker.out("ps", "-aq") == ""  # --rm: a start that failed removes it


@pytest.mark.parametrize(("isolation", "driver"), [("root", "overlay"), ("rootless", "overlay")])
def test_build_steps_are_mounted_volatile_and_their_layers_kept(
        docker: Docker, tmp_path: Path) -> None:
    """A build step's container goes once its layer is committed: its view is volatile
    too, and what the step wrote still becomes the layer."""
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN grep ' / ' /proc/self/mountinfo | grep -q volatile && echo kept > /made\n")
    docker("build", "-t", "volatile-step", str(tmp_path))
    assert docker.out("run", "--rm", "volatile-step", "cat", "/made") == "kept"


@UNPRIVILEGED
def test_s4_diff_shows_added_changed_deleted(docker: Docker, engine: Engine,
                                             tmp_path: Path) -> None:
    docker("run", "--name", "dd", "busybox", "sh", "-c",
           "echo hi > /tmp/new; echo more >> /etc/passwd; rm /etc/group; rm -rf /var/spool")
    lines = docker.out("diff", "dd").splitlines()
    assert "A /tmp/new" in lines
    assert "C /etc/passwd" in lines
    assert "D /etc/group" in lines
    assert "D /var/spool" in lines
    assert "D /var/spool/mail" not in lines  # only the topmost deleted path
    assert "C /etc" in lines and "C /tmp" in lines
    # committing writes OCI whiteouts into the layer tar
    image_id = docker.out("commit", "dd")
    diff_id = inspect(docker, image_id)["RootFS"]["Layers"][-1]
    with tarfile.open(engine.store.content.path(diff_id)) as tf:
        names = tf.getnames()
    assert "etc/.wh.group" in names and "var/.wh.spool" in names and "tmp/new" in names
    # and a container of the new image sees the deletions
    out = docker.out("run", "--rm", image_id, "sh", "-c",
                     "ls /etc/group /var/spool 2>&1; cat /tmp/new")
    assert "No such file" in out and out.endswith("hi")


@UNPRIVILEGED
def test_s4_opaque_directory_roundtrip(docker: Docker, engine: Engine) -> None:
    docker("run", "--name", "oo", "busybox", "sh", "-c",
           "rm -rf /var && mkdir /var && echo only > /var/only")
    image_id = docker.out("commit", "oo", "opaque:1")
    out = docker.out("run", "--rm", "opaque:1", "ls", "/var")
    assert out == "only"
    assert image_id


@UNPRIVILEGED
def test_s15_commit_adds_one_layer_and_leaves_container(docker: Docker) -> None:
    docker("run", "--name", "src", "busybox", "sh", "-c", "echo v1 > /version")
    before_diff = docker.out("diff", "src")
    image_id = docker.out("commit", "-m", "add version", "-a", "Ada", "-c", "CMD cat /version",
                          "-c", "ENV STAGE=one", "src", "myapp:v1")
    assert image_id.startswith("sha256:") and len(image_id) == 71
    parent = inspect(docker, "busybox")
    img = inspect(docker, "myapp:v1")
    assert img["RootFS"]["Layers"][:-1] == parent["RootFS"]["Layers"]
    assert len(img["RootFS"]["Layers"]) == len(parent["RootFS"]["Layers"]) + 1
    assert img["Parent"] == parent["Id"]
    assert img["Author"] == "Ada" and img["Comment"] == "add version"
    assert img["Config"]["Cmd"] == ["/bin/sh", "-c", "cat /version"]
    assert "STAGE=one" in img["Config"]["Env"]
    assert docker.out("run", "--rm", "myapp:v1") == "v1"
    assert docker.out("diff", "src") == before_diff  # the container is untouched
    assert inspect(docker, "src")["State"]["Status"] == "exited"


@UNPRIVILEGED
def test_s15_commit_of_running_container_pauses_and_resumes(docker: Docker) -> None:
    docker("run", "-d", "--name", "live", "busybox", "sh", "-c", "echo a > /a; sleep 30")
    docker("exec", "live", "test", "-f", "/a")
    docker("commit", "live", "live:1")
    assert inspect(docker, "live")["State"]["Status"] == "running"
    assert docker.out("run", "--rm", "live:1", "cat", "/a") == "a"
    docker("rm", "-f", "live")


def test_s9_images_hides_intermediates_images_a_shows_them(docker: Docker) -> None:
    docker("run", "--name", "s1", "busybox", "sh", "-c", "echo 1 > /one")
    mid = docker.out("commit", "s1")
    docker("run", "--name", "s2", mid, "sh", "-c", "echo 2 > /two")
    docker("commit", "s2", "final:1")
    docker("rm", "s1", "s2")
    top = docker.out("images", "-q", "--no-trunc").split()
    every = docker.out("images", "-a", "-q", "--no-trunc").split()
    assert mid not in top and mid in every
    assert len(every) == len(top) + 1
    table = docker.out("images", "-a")
    assert table.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert "<none>" in table and "final" in table
    tree = docker.out("images", "--tree")
    assert "busybox:latest" in tree and "final:1" in tree and "<intermediate>" in tree
    # final's layer hangs below the intermediate's, which hangs below busybox's
    lines = tree.splitlines()
    assert lines[0].split()[0] != lines[-1].split()[0]


def test_s14_rmi_rules(docker: Docker, engine: Engine) -> None:
    docker("run", "--name", "aa", "busybox", "sh", "-c", "echo 1 > /one")
    mid = docker.out("commit", "aa", "mid:1")
    docker("run", "--name", "bb", "mid:1", "sh", "-c", "echo 2 > /two")
    docker("commit", "bb", "top:1")
    docker("rm", "aa", "bb")
    # a second tag is only untagged
    docker("tag", "top:1", "alias:1")
    assert docker.out("rmi", "alias:1") == "Untagged: alias:1"
    # refuses an image a container uses
    docker("create", "--name", "user", "top:1")
    p = docker("rmi", "top:1", check=False)
    assert p.returncode == 1 and "container" in p.stderr
    assert "is using its referenced image" in p.stderr
    docker("rm", "user")
    # refuses an image with children unless -f (after untagging, mid is an intermediate)
    p = docker("rmi", mid, check=False)
    assert p.returncode == 1 and "image has dependent child images" in p.stderr
    # rmi top deletes its layer but keeps layers mid still needs
    layers_before = {lay.chain_id for lay in engine.store.layers.all()}
    out = docker.out("rmi", "top:1")
    assert out.splitlines()[0] == "Untagged: top:1"
    gone = [line.split()[1] for line in out.splitlines()[1:]]
    layers_after = {lay.chain_id for lay in engine.store.layers.all()}
    assert layers_before - layers_after == {g for g in gone if g in layers_before}
    assert len(layers_before - layers_after) == 1
    mid_chain = chain_ids(json.loads(docker.out("inspect", "mid:1"))[0]["RootFS"]["Layers"])
    assert set(mid_chain) <= layers_after
    # a running container's image cannot be removed even with -f: by ID that is refused,
    # by name Docker only untags it (the image stays, dangling, for its container)
    docker("run", "-d", "--name", "runner", "mid:1", "sleep", "30")
    p = docker("rmi", "-f", mid, check=False)
    assert p.returncode == 1 and "(cannot be forced)" in p.stderr
    assert "image is being used by running container" in p.stderr
    assert docker.out("rmi", "-f", "mid:1") == "Untagged: mid:1"
    assert docker.out("inspect", "--format", "{{.Id}}", mid) == mid
    docker("rm", "-f", "runner")
    p = docker("rmi", "nosuch:1", check=False)
    assert p.returncode == 1 and "No such image: nosuch:1" in p.stderr


def test_s14_rmi_force_with_children(docker: Docker) -> None:
    docker("run", "--name", "aa", "busybox", "sh", "-c", "echo 1 > /one")
    mid = docker.out("commit", "aa")
    docker("run", "--name", "bb", mid, "sh", "-c", "echo 2 > /two")
    docker("commit", "bb", "kid:1")
    docker("rm", "aa", "bb")
    docker("rmi", "-f", mid)
    assert docker.out("run", "--rm", "kid:1", "cat", "/one", "/two") == "1\n2"
    assert "<missing>" in docker.out("history", "kid:1")


def test_s21_history_newest_first_with_missing(docker: Docker) -> None:
    docker("run", "--name", "hh", "busybox", "sh", "-c", "dd if=/dev/zero of=/blob bs=1000 count=5")
    docker("commit", "-m", "five kB", "hh", "hist:1")
    lines = docker.out("history", "hist:1").splitlines()
    assert lines[0].split()[:2] == ["IMAGE", "CREATED"] and "CREATED BY" in lines[0]
    assert "COMMENT" in lines[0]
    rows = docker.out("history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}",
                      "hist:1").splitlines()
    assert len(rows) == 3
    top, cmd, base = (r.split("|") for r in rows)
    assert top[0] == inspect(docker, "hist:1")["Id"][7:19]
    assert top[1].startswith("sh -c dd if=/dev/zero") and top[2] == "5kB"
    assert top[3] == "five kB"
    assert cmd[1] == '/bin/sh -c #(nop)  CMD ["sh"]' and cmd[2] == "0B"
    assert base[0] == "<missing>" and "ADD file:" in base[1]
    assert docker.out("history", "-q", "hist:1").splitlines()[2] == "<missing>"
    raw = docker.out("history", "-H=false", "--format", "{{.Size}}", "hist:1").splitlines()
    assert raw[0] == "5000"
    long = docker.out("history", "--no-trunc", "--format", "{{.ID}}", "hist:1").splitlines()
    assert long[0] == inspect(docker, "hist:1")["Id"]
