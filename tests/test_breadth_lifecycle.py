"""Issue 10, command layer: the crashes (``system prune``, ``export | import``), ``rename``,
``restart``, ``rmi`` of tags with children, and the flags of ``run``/``create`` (``-w``,
``--env-file``, ``--label-file``, no abbreviations), through the real CLI as typed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Docker, needs_root

pytestmark = needs_root


@pytest.fixture
def driver() -> str:
    """The command layer does not depend on the snapshot driver: one is enough here."""
    return "overlay"


CLI = [sys.executable, "-m", "layerlab.engine.cli"]


def now() -> str:
    """A ``--since``/``--until`` value for this instant (a Unix time with nanoseconds)."""
    return f"{time.time():.9f}"


# -- crashes ----------------------------------------------------------------------------------
def test_system_prune_asks_then_removes_stopped_containers_and_dangling_images(
        docker: Docker) -> None:
    docker("run", "--name", "gone", "busybox", "sh", "-c", "echo 1 > /one")
    dangling = docker.out("commit", "gone")
    docker("commit", "gone", "kept:1")
    docker("run", "-d", "--name", "alive", "busybox", "sleep", "60")
    p = docker("system", "prune", check=False)  # no answer on stdin: nothing happens
    assert p.returncode == 0
    assert p.stdout.startswith("WARNING! This will remove:\n  - all stopped containers\n"
                               "  - all networks not used by at least one container\n"
                               "  - all dangling images\n\nAre you sure you want to continue?")
    assert "Total reclaimed space: 0B" in p.stdout
    assert len(docker.out("ps", "-aq").split()) == 2
    out = docker.out("system", "prune", "-f")
    lines = out.splitlines()
    assert lines[0] == "Deleted Containers:" and len(lines[1]) == 64
    assert f"deleted: {dangling}" in lines
    assert lines[-1].startswith("Total reclaimed space: ")
    assert docker.out("ps", "-a", "--format", "{{.Names}}") == "alive"
    assert "kept" in docker.out("images")
    out = docker.out("system", "prune", "-a", "-f", "--volumes")
    assert "untagged: kept:1" in out  # -a: unused images too; busybox is used by "alive"
    assert "busybox" in docker.out("images")
    docker("rm", "-f", "alive")


def test_system_prune_filters(docker: Docker) -> None:
    docker("create", "--name", "keepme", "-l", "keep=yes", "busybox")
    docker("create", "--name", "dropme", "busybox")
    p = docker("system", "prune", "--filter", "label!=keep=yes", "-f")
    assert docker.out("ps", "-a", "--format", "{{.Names}}") == "keepme"
    assert "Deleted Containers:" in p.stdout
    p = docker("system", "prune", "--filter", "until=10m", check=False)  # shown in the prompt
    assert "Items to be pruned will be filtered with:\n  - until=10m" in p.stdout
    p = docker("system", "prune", "-f", "--filter", "colour=red", check=False)
    assert p.returncode == 1 and p.stderr.strip() == ("Error response from daemon: invalid "
                                                      "filter 'colour'")


def test_export_piped_into_import(docker: Docker, tmp_path: Path) -> None:
    """``docker export c | docker import - flat:1``: the tar goes through a real pipe."""
    docker("run", "--name", "src", "busybox", "sh", "-c", "mkdir /data && echo piped > /data/f")
    export = subprocess.Popen([*CLI, "export", "src"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=docker.env)
    imported = subprocess.run([*CLI, "import", "-", "flat:1"], stdin=export.stdout,
                              capture_output=True, text=True, env=docker.env, timeout=120)
    assert export.stdout is not None
    export.stdout.close()
    assert export.wait(60) == 0, export.stderr.read() if export.stderr else ""
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("sha256:")
    assert docker.out("run", "--rm", "flat:1", "cat", "/data/f") == "piped"
    assert len(docker.out("history", "-q", "flat:1").split()) == 1
    # and into a pipe that is read slowly: a pipe never seeks
    with (tmp_path / "c.tar").open("wb") as sink:
        p = subprocess.Popen([*CLI, "export", "src"], stdout=subprocess.PIPE,
                             env=docker.env)
        assert p.stdout is not None
        while chunk := p.stdout.read(4096):
            sink.write(chunk)
        assert p.wait(60) == 0
    assert docker.out("import", str(tmp_path / "c.tar"), "flat:2").startswith("sha256:")


# -- rename -----------------------------------------------------------------------------------
def test_rename_running_and_stopped(docker: Docker) -> None:
    cid = docker.out("run", "-d", "--name", "old-name", "busybox", "sleep", "60")
    docker("rename", "old-name", "new-name")
    assert docker.out("ps", "--format", "{{.Names}}") == "new-name"
    assert docker.out("exec", "new-name", "echo", "still running") == "still running"
    assert docker.out("inspect", "-f", "{{.Name}}", cid) == "/new-name"
    docker("stop", "-t", "0", "new-name")
    docker("rename", cid[:12], "third-name")
    assert docker.out("ps", "-a", "--format", "{{.Names}}") == "third-name"
    docker("create", "--name", "other", "busybox")
    assert docker("create", "--name", "new-name", "busybox").returncode == 0  # name is free


@pytest.mark.parametrize(("args", "daemon_error"), [
    (["ghost", "x-name"], "No such container: ghost"),
    (["first", "first"], "Renaming a container with the same name as its current name"),
    (["first", "bad name!"], "Invalid container name (/bad name!), only "
                             "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
])
def test_rename_errors(docker: Docker, args: list[str], daemon_error: str) -> None:
    docker("create", "--name", "first", "busybox")
    p = docker("rename", *args, check=False)
    assert p.returncode == 1
    assert p.stderr.splitlines() == [f"Error response from daemon: {daemon_error}",
                                     f"Error: failed to rename container named {args[0]}"]


def test_rename_to_a_taken_name(docker: Docker) -> None:
    docker("create", "--name", "first", "busybox")
    taken = docker.out("create", "--name", "second", "busybox")
    p = docker("rename", "first", "second", check=False)
    assert p.returncode == 1
    assert p.stderr.splitlines()[0] == (
        'Error response from daemon: Error when allocating new name: Conflict. The container '
        f'name "/second" is already in use by container "{taken}". You have to remove (or '
        "rename) that container to be able to reuse that name.")


# -- restart ----------------------------------------------------------------------------------
def test_restart_stops_then_starts_the_same_container(docker: Docker) -> None:
    docker("run", "-d", "--name", "counter", "busybox", "sh", "-c",
           "echo start >> /starts; exec sleep 60")
    first = docker.out("inspect", "-f", "{{.State.Pid}} {{.State.StartedAt}}", "counter")
    assert docker.out("restart", "-t", "1", "counter") == "counter"
    again = docker.out("inspect", "-f", "{{.State.Pid}} {{.State.StartedAt}}", "counter")
    assert again != first
    assert docker.out("inspect", "-f", "{{.State.Status}}", "counter") == "running"
    assert docker.out("exec", "counter", "cat", "/starts") == "start\nstart"  # same RW layer
    docker("stop", "-t", "0", "counter")
    assert docker.out("restart", "counter") == "counter"  # a stopped one is just started
    assert docker.out("exec", "counter", "cat", "/starts") == "start\nstart\nstart"
    docker("rm", "-f", "counter")


def test_restart_signal_and_rm_containers(docker: Docker) -> None:
    docker("run", "-d", "--name", "trapper", "busybox", "sh", "-c",
           "trap 'exit 7' USR1; while true; do sleep 0.1; done")
    since = now()
    docker("restart", "-s", "SIGUSR1", "-t", "30", "trapper")
    died = docker.out("events", "--since", since, "--until", now(), "--filter", "event=die",
                      "--format", "{{.Actor.Attributes.exitCode}}")
    assert died == "7"  # the trap ran: USR1 was the stop signal, not a SIGKILL
    docker("rm", "-f", "trapper")
    docker("run", "-d", "--rm", "--name", "ephemeral", "busybox", "sleep", "60")
    docker("restart", "-t", "0", "ephemeral")  # --rm does not remove it on a manual restart
    assert docker.out("ps", "--format", "{{.Names}}") == "ephemeral"
    docker("rm", "-f", "ephemeral")
    p = docker("restart", "ghost", check=False)
    assert p.returncode == 1 and p.stderr.strip() == ("Error response from daemon: No such "
                                                      "container: ghost")


# -- rmi (S9/S14) -----------------------------------------------------------------------------
def test_rmi_of_a_tag_with_children_untags_and_leaves_an_intermediate(docker: Docker) -> None:
    docker("run", "--name", "l1", "busybox", "sh", "-c", "echo 1 > /one")
    base = docker.out("commit", "l1", "base:1")
    docker("run", "--name", "l2", "base:1", "sh", "-c", "echo 2 > /two")
    docker("commit", "l2", "app:1")
    docker("rm", "l1", "l2")
    p = docker("rmi", "base:1")
    assert (p.returncode, p.stdout, p.stderr) == (0, "Untagged: base:1\n", "")
    assert base not in docker.out("images", "-q", "--no-trunc")  # not top-level any more
    rows = docker.out("images", "-a", "--no-trunc", "--format",
                      "{{.Repository}}:{{.Tag}} {{.ID}}").splitlines()
    assert f"<none>:<none> {base}" in rows  # an intermediate, as a build leaves them
    assert docker.out("run", "--rm", "app:1", "cat", "/one", "/two") == "1\n2"
    p = docker("rmi", base, check=False)  # the image itself, by ID, has children
    assert p.returncode == 1 and p.stderr.strip() == (
        f"Error response from daemon: conflict: unable to delete {base[7:19]} (must be forced) "
        "- image has dependent child images")
    out = docker.out("rmi", "app:1")  # the child goes, and its now dangling parent with it
    assert out.splitlines()[0] == "Untagged: app:1"
    assert f"Deleted: {base}" in out.splitlines()


def test_rmi_no_prune_keeps_untagged_parents(docker: Docker) -> None:
    docker("run", "--name", "l1", "busybox", "sh", "-c", "echo 1 > /one")
    parent = docker.out("commit", "l1")
    docker("run", "--name", "l2", parent, "sh", "-c", "echo 2 > /two")
    docker("commit", "l2", "leaf:1")
    docker("rm", "l1", "l2")
    out = docker.out("rmi", "--no-prune", "leaf:1")
    assert f"Deleted: {parent}" not in out
    assert parent in docker.out("images", "-q", "--no-trunc")  # now a dangling leaf itself


# -- run/create flags -------------------------------------------------------------------------
def test_relative_workdir_is_refused(docker: Docker) -> None:
    p = docker("run", "-w", "relative/dir", "busybox", "pwd", check=False)
    assert p.returncode == 125
    assert p.stderr.strip() == ("Error response from daemon: the working directory "
                                "'relative/dir' is invalid, it needs to be an absolute path")
    assert docker.out("run", "--rm", "-w", "/tmp/x/../y", "busybox", "pwd") == "/tmp/y"


def test_env_file_and_label_file(docker: Docker, tmp_path: Path) -> None:
    env = tmp_path / "app.env"
    env.write_text("# settings\nGREETING=hello world\nOVERRIDDEN=from file\nFROM_HOST\n")
    labels = tmp_path / "labels"
    labels.write_text("tier=web\nowner=ops team\n")
    docker.env["FROM_HOST"] = "host"
    out = docker.out("run", "--rm", "--env-file", str(env), "-e", "OVERRIDDEN=from flag",
                     "busybox", "sh", "-c", 'echo "$GREETING|$OVERRIDDEN|$FROM_HOST"')
    assert out == "hello world|from flag|host"
    docker("create", "--name", "labelled", "--label-file", str(labels), "-l", "tier=db",
           "busybox")
    assert json.loads(docker.out("inspect", "-f", "{{json .Config.Labels}}", "labelled")) == {
        "tier": "db", "owner": "ops team"}
    assert docker.out("ps", "-a", "--filter", "label=owner=ops team", "--format",
                      "{{.Names}}") == "labelled"
    p = docker("run", "--env-file", str(tmp_path / "missing.env"), "busybox", check=False)
    assert p.returncode == 125
    assert p.stderr.strip() == (f"docker: open {tmp_path / 'missing.env'}: no such file or "
                                "directory.\nSee 'docker run --help'.")


@pytest.mark.parametrize("typed", [["run", "--ent", "ls", "busybox"],
                                   ["run", "--entry", "ls", "busybox"],
                                   ["ps", "--al"], ["logs", "--tim", "x"]])
def test_abbreviated_flags_are_unknown(docker: Docker, typed: list[str]) -> None:
    p = docker(*typed, check=False)
    assert p.returncode == 125
    assert p.stderr.strip() == f"unknown flag: {typed[1]}\nSee 'docker {typed[0]} --help'."
    assert docker.out("ps", "-aq") == ""  # nothing was created


def test_version_and_global_flags(docker: Docker, tmp_path: Path) -> None:
    for flag in ("--version", "-v"):
        p = docker(flag)
        assert p.stdout.startswith("LayerLab version 0.1.0,") and p.stdout.count("\n") == 1
    assert docker("docker", "--version").stdout == docker("--version").stdout
    p = docker("--bogus", "ps", check=False)
    assert p.returncode == 125 and p.stderr.strip() == ("unknown flag: --bogus\n"
                                                        "See 'docker --help'.")
    assert docker("--config", str(tmp_path / "cfg"), "ps").stdout.startswith("CONTAINER ID")
    p = docker("--config", check=False)
    assert p.returncode == 125 and "flag needs an argument: --config" in p.stderr
