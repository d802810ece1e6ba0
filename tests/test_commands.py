"""The rest of the command surface: --format, inspect, logs, prune, system df, info, version."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import Docker, needs_root

pytestmark = needs_root


def test_format_json_fields_and_table(docker: Docker) -> None:
    docker("create", "--name", "fmt", "--label", "tier=web", "busybox", "echo", "x")
    row = json.loads(docker.out("ps", "-a", "--format", "{{json .}}"))
    assert row["Names"] == "fmt" and row["State"] == "created" and row["Labels"] == "tier=web"
    table = docker.out("ps", "-a", "--format", "table {{.Names}}\\t{{.Status}}").splitlines()
    assert table[0].split() == ["NAMES", "STATUS"] and table[1].split() == ["fmt", "Created"]
    assert docker.out("images", "--format", "{{.Repository}}:{{.Tag}}") == "busybox:latest"
    assert docker.out("inspect", "--format", "{{.Config.Cmd}}", "fmt") == "[echo x]"
    assert docker.out("inspect", "-f", "{{.State.Status}} {{.Name}}", "fmt") == "created /fmt"
    assert docker.out("inspect", "--format", "{{index .Config.Labels \"tier\"}}", "fmt") == "web"
    assert docker.out("inspect", "--format", "{{json .RootFS.Layers}}", "busybox").startswith(
        '["sha256:')
    p = docker("ps", "--format", "{{.Nope", check=False)
    assert p.returncode != 0


def test_no_trunc_and_quiet(docker: Docker) -> None:
    cid = docker.out("create", "busybox", "sh", "-c", "echo a long command line here")
    assert docker.out("ps", "-a", "-q") == cid[:12]
    assert docker.out("ps", "-a", "-q", "--no-trunc") == cid
    assert "…" in docker.out("ps", "-a")
    assert "echo a long command line here" in docker.out("ps", "-a", "--no-trunc")
    image_id = json.loads(docker.out("inspect", "busybox"))[0]["Id"]
    assert docker.out("images", "-q") == image_id[7:19]
    assert docker.out("images", "-q", "--no-trunc") == image_id


def test_inspect_type_and_both_kinds(docker: Docker) -> None:
    docker("create", "--name", "busybox-box", "busybox")
    both = json.loads(docker.out("inspect", "busybox-box", "busybox"))
    assert "State" in both[0] and "RootFS" in both[1]
    p = docker("inspect", "--type", "image", "busybox-box", check=False)
    assert p.returncode == 1 and "No such object" in p.stderr


def test_logs_tail_and_follow(docker: Docker) -> None:
    docker("run", "--name", "lines", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo $i; done")
    assert docker.out("logs", "--tail", "2", "lines") == "4\n5"
    assert docker.out("logs", "-n", "0", "lines") == ""
    docker("run", "-d", "--name", "talker", "busybox", "sh", "-c",
           "echo first; read x < /dev/zero & sleep 0.3; echo second")
    follow = subprocess.run([sys.executable, "-m", "layerlab.engine.cli", "logs", "-f", "talker"],
                            capture_output=True, text=True, env=docker.env, timeout=30)
    assert follow.stdout == "first\nsecond\n"  # -f returns when the container stops


def test_container_prune(docker: Docker) -> None:
    docker("create", "--name", "made", "busybox")
    docker("run", "--name", "done", "busybox", "sh", "-c", "echo data > /f")
    docker("run", "-d", "--name", "alive", "busybox", "sleep", "30")
    p = docker("container", "prune", check=False)  # no -f, no answer on stdin: nothing
    assert p.returncode == 0 and "nothing removed" in p.stderr
    assert len(docker.out("ps", "-aq").split()) == 3
    out = docker.out("container", "prune", "-f")
    assert out.startswith("Deleted Containers:") and "Total reclaimed space:" in out
    assert docker.out("ps", "-a", "--format", "{{.Names}}") == "alive"
    docker("rm", "-f", "alive")


def test_image_prune_removes_dangling_only(docker: Docker) -> None:
    docker("run", "--name", "src", "busybox", "sh", "-c", "echo 1 > /one")
    dangling = docker.out("commit", "src")
    docker("commit", "src", "kept:1")
    docker("rm", "src")
    out = docker.out("image", "prune", "-f")
    assert f"deleted: {dangling}" in out
    ids = docker.out("images", "-a", "-q", "--no-trunc").split()
    assert dangling not in ids and len(ids) == 2
    out = docker.out("image", "prune", "-a", "-f")
    assert "untagged: kept:1" in out and "untagged: busybox:latest" in out
    assert docker.out("images", "-a", "-q") == ""


def test_system_df(docker: Docker) -> None:
    docker("run", "--name", "big", "busybox", "sh", "-c",
           "dd if=/dev/zero of=/big bs=1000 count=100")
    lines = docker.out("system", "df").splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    images, containers = lines[1].split(), lines[2].split()
    assert images[:3] == ["Images", "1", "1"] and images[3] == "1.98MB"
    assert containers[:3] == ["Containers", "1", "0"] and containers[3] == "100kB"
    assert containers[4] == "100kB" and containers[5] == "(100%)"


def test_info_and_version(docker: Docker, driver: str) -> None:
    info = docker.out("info")
    assert f"Storage Driver: {driver}" in info and "Isolation: root" in info
    assert docker.out("info", "--format", "{{.Driver}}") == driver
    assert docker.out("version", "--format", "{{.Server.Engine}}") == "LayerLab"
    assert "Server: LayerLab Engine" in docker.out("version")


def test_help(docker: Docker) -> None:
    out = docker.out("run", "--help")
    assert out.startswith("usage: docker run [OPTIONS] IMAGE") and "--rm" in out
    assert docker.out("run", "--rm", "busybox", "ls", "--help") != out  # goes to ls


def test_entrypoint_and_cmd_overrides(docker: Docker) -> None:
    assert docker.out("run", "--rm", "--entrypoint", "echo", "busybox", "a", "b") == "a b"
    assert docker.out("run", "--rm", "--entrypoint", "hostname", "--hostname", "eh",
                      "busybox") == "eh"
    docker("run", "--name", "ep", "busybox", "true")
    docker("commit", "-c", 'ENTRYPOINT ["echo", "from-entrypoint"]', "-c", 'CMD ["x"]',
           "ep", "ep:1")
    assert docker.out("run", "--rm", "ep:1") == "from-entrypoint x"
    assert docker.out("run", "--rm", "ep:1", "y") == "from-entrypoint y"


def test_images_reference_filter(docker: Docker) -> None:
    docker("tag", "busybox", "other/thing:v2")
    assert docker.out("images", "--format", "{{.Repository}}:{{.Tag}}", "other/thing") == \
        "other/thing:v2"
    assert docker.out("images", "-q", "busybox:nope") == ""


def test_pull_progress_on_stdout(docker: Docker) -> None:
    p = docker("pull", "busybox")
    assert "busybox" in p.stdout and p.stderr == ""
    assert docker("pull", "-q", "busybox").stdout.strip() == "busybox:latest"
