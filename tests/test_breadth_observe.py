"""Issue 10, command layer: observing — ``events``, ``logs --since/--until/-t/--details``,
``ps -s/-n/-l`` and Docker's filters, ``images`` filters, ``inspect -s``, ``system df -v``,
``--format json`` and Docker's errors for templates naming missing fields."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Docker, needs_root
from test_networking import Net, net  # noqa: F401 - the fixture, with its clean-up checks

pytestmark = needs_root
CLI = [sys.executable, "-m", "layerlab.engine.cli"]


@pytest.fixture
def driver() -> str:
    """The command layer does not depend on the snapshot driver: one is enough here."""
    return "overlay"


def now() -> str:
    return f"{time.time():.9f}"


def actions(docker: Docker, since: str, *flags: str) -> list[str]:
    fmt = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"
    out = docker.out("events", "--since", since, "--until", now(), "--format", fmt, *flags)
    return out.splitlines()


# -- events -----------------------------------------------------------------------------------
def test_events_of_a_container_life_in_order(docker: Docker) -> None:
    since = now()
    docker("run", "--name", "ev", "-l", "team=blue", "busybox", "true")
    docker("start", "ev")
    docker("wait", "ev")
    docker("commit", "ev", "evimg:1")
    docker("rename", "ev", "ev2")
    docker("rm", "ev2")
    image_id = docker.out("inspect", "-f", "{{.Id}}", "evimg:1")
    got = actions(docker, since)
    assert got == [
        "container create ev", "container attach ev", "container start ev",
        "container die ev", "container start ev", "container die ev",
        f"image create {image_id}", "image tag evimg:1", "container commit ev",
        "container rename ev2", "container destroy ev2"]
    raw = [json.loads(line) for line in docker.out(
        "events", "--since", since, "--until", now(), "--format", "json",
        "--filter", "event=rename").splitlines()]
    assert len(raw) == 1
    ev = raw[0]
    assert list(ev)[:5] == ["status", "id", "from", "Type", "Action"]
    assert ev["status"] == ev["Action"] == "rename" and ev["from"] == "busybox"
    assert ev["Actor"]["Attributes"] == {"image": "busybox", "name": "ev2",
                                         "oldName": "/ev", "team": "blue"}
    assert ev["scope"] == "local" and ev["time"] == ev["timeNano"] // 10**9


def test_events_of_signals_exec_and_pause(docker: Docker) -> None:
    docker("run", "-d", "--name", "sig", "busybox", "sh", "-c",
           "trap 'exit 1' HUP; while true; do sleep 0.1; done")
    since = now()
    docker("exec", "sig", "true")
    docker("pause", "sig")
    docker("unpause", "sig")
    docker("kill", "-s", "HUP", "sig")
    assert docker.out("wait", "sig") == "1"
    got = actions(docker, since)
    assert got == ["container exec_create: true sig", "container exec_start: true sig",
                   "container exec_die sig", "container pause sig", "container unpause sig",
                   "container kill sig", "container die sig"]
    pretty = docker.out("events", "--since", since, "--until", now(), "--filter",
                        "event=kill").splitlines()
    assert len(pretty) == 1
    stamp, kind, action, cid, attrs = pretty[0].split(" ", 4)
    assert (kind, action, len(cid)) == ("container", "kill", 64)
    assert attrs == "(image=busybox, name=sig, signal=1)"
    assert len(stamp) == len("2024-01-01T00:00:00.000000000Z")
    execs = docker.out("events", "--since", since, "--until", now(), "--filter",
                       "event=exec_create", "--format", "{{.Action}}")
    assert execs == "exec_create: true"  # exec_create matches its ": command" suffix


def test_image_events_and_filters(docker: Docker, tmp_path: Path) -> None:
    since = now()
    docker("tag", "busybox", "copy:1")
    docker("save", "-o", str(tmp_path / "a.tar"), "copy:1")
    docker("rmi", "copy:1")
    docker("load", "-i", str(tmp_path / "a.tar"))
    image_id = docker.out("inspect", "-f", "{{.Id}}", "copy:1")
    got = docker.out("events", "--since", since, "--until", now(), "--filter", "type=image",
                     "--format", "{{.Action}} {{.ID}} {{.Actor.Attributes.name}}")
    assert got.splitlines() == [f"tag {image_id} copy:1", f"save {image_id} {image_id}",
                                f"untag {image_id} {image_id}", f"load {image_id} {image_id}"]
    docker("run", "--name", "other", "busybox", "true")
    assert actions(docker, since, "--filter", "image=copy") == [
        "image tag copy:1"]  # by the image's name, without its tag
    assert actions(docker, since, "--filter", "container=other", "--filter",
                   "event=start") == ["container start other"]
    assert actions(docker, since, "--filter", "label=nobody") == []


def test_events_follow_until_stopped(docker: Docker) -> None:
    """Without ``--until`` the log is followed: what happens next is printed as it happens."""
    since = now()
    docker("tag", "busybox", "before:1")
    p = subprocess.Popen([*CLI, "events", "--since", since, "--filter", "type=image",
                          "--format", "{{.Action}} {{.Actor.Attributes.name}}"],
                         stdout=subprocess.PIPE, text=True, env=docker.env)
    try:
        assert p.stdout is not None
        assert p.stdout.readline() == "tag before:1\n"  # from the log
        docker("tag", "busybox", "after:1")  # after the command has read the log
        assert p.stdout.readline() == "tag after:1\n"
        assert p.poll() is None
    finally:
        p.terminate()
        p.wait(30)


def test_events_errors(docker: Docker) -> None:
    p = docker("events", "--format", "{{.Foo}}", check=False)
    assert p.returncode == 64
    assert p.stderr.strip() == ('Error parsing format: template: :1:2: executing "" at <.Foo>: '
                                "can't evaluate field Foo in type *events.Message")
    p = docker("events", "--since", "tomorrow", check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'failed to parse value as time or duration: "tomorrow"'
    p = docker("events", "--since", "1700000100", "--until", "1700000000", check=False)
    assert p.returncode == 1 and "cannot be after `until` time" in p.stderr


# -- logs -------------------------------------------------------------------------------------
def test_logs_timestamps_details_since_until(docker: Docker) -> None:
    docker("run", "--name", "talk", "busybox", "sh", "-c",
           "echo one; sleep 0.01; echo two >&2; sleep 0.01; echo three")
    stamped = docker("logs", "-t", "talk")
    lines = (stamped.stdout + stamped.stderr).splitlines()
    stamps = {line.split(" ", 1)[1]: line.split(" ", 1)[0] for line in lines}
    assert set(stamps) == {"one", "two", "three"}
    assert all(len(s) == 30 and s.endswith("Z") for s in stamps.values())  # 9 fraction digits
    p = docker("logs", "--since", stamps["two"], "talk")
    assert (p.stdout, p.stderr) == ("three\n", "two\n")
    p = docker("logs", "--until", stamps["two"], "talk")
    assert (p.stdout, p.stderr) == ("one\n", "two\n")
    assert docker("logs", "--details", "talk").stdout == " one\n three\n"
    assert docker.out("logs", "--since", "1m", "talk") == "one\nthree"
    p = docker("logs", "--since", "soon", "talk", check=False)
    assert p.returncode == 1 and "failed to parse value as time or duration" in p.stderr


# -- ps ---------------------------------------------------------------------------------------
@pytest.fixture
def three(docker: Docker) -> Iterator[dict[str, str]]:
    """Three containers, oldest first: exited 0, exited 3 (labelled), running."""
    ids = {"ok": docker.out("run", "-d", "--name", "ok-one", "busybox", "true"),
           "bad": docker.out("run", "-d", "--name", "bad-one", "-l", "tier=db", "-l", "x",
                             "busybox", "sh", "-c", "exit 3"),
           "up": docker.out("run", "-d", "--name", "up-one", "busybox", "sleep", "60")}
    docker("wait", "ok-one", "bad-one")
    yield ids
    docker("rm", "-f", "up-one")


def names(docker: Docker, *flags: str) -> list[str]:
    return docker.out("ps", "--format", "{{.Names}}", *flags).split()


def test_ps_filters(docker: Docker, three: dict[str, str]) -> None:
    assert names(docker) == ["up-one"]
    assert names(docker, "-a") == ["up-one", "bad-one", "ok-one"]
    assert names(docker, "-n", "2") == ["up-one", "bad-one"]  # -n includes stopped ones
    assert names(docker, "-l") == ["up-one"]
    assert names(docker, "--filter", "status=exited") == ["bad-one", "ok-one"]  # implies -a
    assert names(docker, "-a", "--filter", "exited=3") == ["bad-one"]
    assert names(docker, "-a", "--filter", "exited=0", "--filter", "exited=3") == [
        "bad-one", "ok-one"]
    assert names(docker, "-a", "--filter", "label=tier=db") == ["bad-one"]
    assert names(docker, "-a", "--filter", "label=x") == ["bad-one"]
    assert names(docker, "-a", "--filter", "label=tier=web") == []
    assert names(docker, "-a", "--filter", "name=^.*-one$") == ["up-one", "bad-one", "ok-one"]
    assert names(docker, "-a", "--filter", "name=ok") == ["ok-one"]  # a regex search
    assert names(docker, "-a", "--filter", f"id={three['bad'][:8]}") == ["bad-one"]
    assert names(docker, "-a", "--filter", "before=bad-one") == ["ok-one"]
    assert names(docker, "-a", "--filter", "since=ok-one") == ["up-one", "bad-one"]
    assert names(docker, "-a", "--filter", "ancestor=busybox") == [
        "up-one", "bad-one", "ok-one"]
    assert names(docker, "-a", "--filter", "health=none", "--filter", "is-task=false") == [
        "up-one", "bad-one", "ok-one"]
    assert names(docker, "-a", "--filter", "volume=/data") == []  # no container has volumes
    assert names(docker, "-a", "--filter", "network=nowhere") == []


def test_ps_ancestor_includes_images_built_on_it(docker: Docker) -> None:
    docker("run", "--name", "base-c", "busybox", "sh", "-c", "echo 1 > /f")
    docker("commit", "base-c", "derived:1")
    docker("create", "--name", "from-derived", "derived:1")
    assert names(docker, "-a", "--filter", "ancestor=busybox") == ["from-derived", "base-c"]
    assert names(docker, "-a", "--filter", "ancestor=derived:1") == ["from-derived"]
    assert names(docker, "-a", "--filter", "ancestor=nothing:1") == []


@pytest.mark.parametrize(("flag", "message"), [
    ("colour=red", "invalid filter 'colour'"),
    ("status=sleeping", "invalid filter 'status=sleeping': invalid value for state (sleeping): "
                        "must be one of created, running, paused, restarting, removing, "
                        "exited, dead"),
    ("exited=x", "invalid filter 'exited=x': strconv.Atoi: parsing \"x\": invalid syntax"),
    ("health=great", "invalid filter 'health=great': invalid value for health (great): must be "
                     "one of none, starting, healthy, unhealthy"),
    ("before=ghost", "No such container: ghost"),
])
def test_ps_filter_errors(docker: Docker, flag: str, message: str) -> None:
    p = docker("ps", "--filter", flag, check=False)
    assert p.returncode == 1 and p.stderr.strip() == f"Error response from daemon: {message}"


def test_ps_filter_without_equals_is_a_flag_error(docker: Docker) -> None:
    p = docker("ps", "-f", "running", check=False)
    assert p.returncode == 125 and p.stderr.strip() == (
        'invalid argument "running" for "-f, --filter" flag: bad format of filter (expected '
        "name=value)\nSee 'docker ps --help'.")


def test_ps_sizes(docker: Docker) -> None:
    docker("run", "--name", "writer", "busybox", "sh", "-c", "head -c 5000 /dev/zero > /blob")
    base = json.loads(docker.out("inspect", "busybox"))[0]["Size"]
    row = docker.out("ps", "-a", "-s").splitlines()
    assert row[0].split()[-1] == "SIZE"
    assert row[1].endswith(f"5kB (virtual {human(5000 + base)})")
    assert docker.out("ps", "-a", "--format", "{{.Size}}") == f"5kB (virtual {human(5000 + base)})"
    info = json.loads(docker.out("inspect", "-s", "writer"))[0]
    assert info["SizeRw"] == 5000 and info["SizeRootFs"] == 5000 + base
    assert "SizeRw" not in json.loads(docker.out("inspect", "writer"))[0]


def human(n: float) -> str:
    from layerlab.engine.commands.human import size

    return size(n)


# -- images -----------------------------------------------------------------------------------
def test_images_filters(docker: Docker) -> None:
    docker("run", "--name", "a1", "busybox", "sh", "-c", "echo 1 > /a")
    docker("commit", "-c", "LABEL stage=one", "a1", "web/app:1")
    time.sleep(0.01)  # distinct creation times for before/since (stamps are microseconds)
    docker("commit", "-c", "LABEL stage=two", "a1", "web/app:2")
    dangling = docker.out("commit", "a1")

    def refs(*flags: str) -> list[str]:
        return docker.out("images", "--format", "{{.Repository}}:{{.Tag}}", *flags).split()

    assert refs("--filter", "reference=web/*") == ["web/app:2", "web/app:1"]
    assert refs("--filter", "reference=*") == ["busybox:latest"]  # * does not cross /
    assert refs("--filter", "reference=web/app:1") == ["web/app:1"]
    assert refs("web/app") == ["web/app:2", "web/app:1"]
    assert refs("--filter", "label=stage=one") == ["web/app:1"]
    assert refs("--filter", "label=stage") == ["web/app:2", "web/app:1"]
    assert refs("--filter", "before=web/app:2") == ["web/app:1", "busybox:latest"]
    assert refs("--filter", "since=web/app:1") == ["<none>:<none>", "web/app:2"]
    assert docker.out("images", "-q", "--no-trunc", "--filter", "dangling=true") == dangling
    assert "<none>:<none>" not in refs("--filter", "dangling=false")
    p = docker("images", "--filter", "colour=red", check=False)
    assert p.returncode == 1 and "invalid filter 'colour'" in p.stderr
    p = docker("images", "--filter", "dangling=perhaps", check=False)
    assert p.returncode == 1 and "invalid filter 'dangling=[perhaps]'" in p.stderr


def test_images_digests_column(docker: Docker) -> None:
    lines = docker.out("images", "--digests").splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split()[:3] == ["busybox", "latest", "<none>"]  # made here, never pulled
    fmt = docker.out("images", "--format", "{{.Repository}} {{.Digest}}")
    assert fmt == "busybox <none>"


# -- formats ----------------------------------------------------------------------------------
def test_format_json_is_one_object_per_line_with_sorted_keys(docker: Docker) -> None:
    docker("create", "--name", "js", "busybox")
    for cmd in (["ps", "-a"], ["images"], ["history", "busybox"]):
        lines = docker.out(*cmd, "--format", "json").splitlines()
        rows = [json.loads(line) for line in lines]
        assert rows and all(list(r) == sorted(r) for r in rows), cmd
    row = json.loads(docker.out("ps", "-a", "--format", "json"))
    assert row["Names"] == "js" and row["Size"] == "0B" and row["LocalVolumes"] == "0"
    compact = docker.out("inspect", "--format", "json", "js")
    assert compact.startswith('[{"Id":') and "\n" not in compact
    assert docker.out("ps", "-a", "--format", "table").splitlines()[0].startswith(
        "CONTAINER ID")


@pytest.mark.parametrize(("cmd", "code", "message"), [
    (["ps", "--format", "{{.Foo}}"], 1,
     'failed to execute template: template: :1:2: executing "" at <.Foo>: can\'t evaluate '
     "field Foo in type *formatter.ContainerContext"),
    (["ps", "--format", "{{.Names"], 1, "failed to parse template: template: :1: unclosed "
                                        "action"),
    (["images", "--format", "{{.Foo}}"], 1,
     'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo '
     "in type *formatter.imageContext"),
    (["history", "--format", "{{.Foo}}", "busybox"], 1,
     'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo '
     "in type *image.historyContext"),
    (["inspect", "--format", "{{.Foo}}", "busybox"], 1,
     'template parsing error: template: :1:2: executing "" at <.Foo>: map has no entry for key '
     '"Foo"'),
    (["inspect", "--format", "{{.Config.Foo}}", "busybox"], 1,
     'template parsing error: template: :1:9: executing "" at <.Config.Foo>: map has no entry '
     'for key "Foo"'),
    (["inspect", "--format", "{{.Foo", "busybox"], 64,
     "template parsing error: template: :1: unclosed action"),
    (["info", "--format", "{{.Foo}}"], 1,
     'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo '
     "in type system.dockerInfo"),
    (["system", "df", "--format", "{{.Foo}}"], 1,
     'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo '
     "in type *formatter.diskUsageImagesContext"),
])
def test_templates_naming_missing_fields_fail(docker: Docker, cmd: list[str], code: int,
                                              message: str) -> None:
    p = docker(*cmd, check=False)
    assert (p.returncode, p.stdout, p.stderr.strip()) == (code, "", message)


def test_inspect_labels_are_a_map(docker: Docker) -> None:
    docker("create", "--name", "lab", "-l", "a=1", "busybox")
    assert docker.out("inspect", "-f", "{{.Config.Labels.b}}|{{.Config.Labels.a}}", "lab") == \
        "<no value>|1"  # a missing label is a missing map key, not an error


def test_system_df_verbose(docker: Docker) -> None:
    docker("run", "--name", "dfc", "busybox", "sh", "-c", "echo 12345 > /f")
    docker("commit", "dfc", "dfimg:1")
    text = docker.out("system", "df", "-v")
    sections = text.split("\n\n")
    assert sections[0] == "Images space usage:"
    header, *images = sections[1].splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE", "SHARED",
                              "SIZE", "UNIQUE", "SIZE", "CONTAINERS"]
    by_repo = {line.split()[0]: line.split() for line in images}
    assert by_repo["dfimg"][-2:] == ["6B", "0"]  # unique: its own layer; no container
    assert by_repo["busybox"][-1] == "1"  # dfc uses it
    assert sections[2] == "Containers space usage:"
    assert sections[3].splitlines()[1].split()[-1] == "dfc"
    assert sections[4:] == ["Local Volumes space usage:", "VOLUME NAME   LINKS     SIZE",
                            "Build cache usage: 0B",
                            "CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     "
                            "SHARED"]
    doc = json.loads(docker.out("system", "df", "-v", "--format", "{{json .}}"))
    assert sorted(doc) == ["BuildCache", "Containers", "Images", "Volumes"]
    assert {i["Repository"] for i in doc["Images"]} == {"busybox", "dfimg"}


# -- networks: events, system prune, --format --------------------------------------------------
def test_network_events_prune_and_format(net: Net) -> None:  # noqa: F811
    docker = net.docker
    since = now()
    net_id = docker.out("network", "create", "--subnet", net.subnet(), "--label", "lab=1",
                        "labnet")
    rows = [json.loads(line) for line in docker.out("network", "ls", "--format",
                                                    "json").splitlines()]
    assert rows and all(list(r) == sorted(r) for r in rows)
    assert "labnet" in {r["Name"] for r in rows}
    p = docker("network", "ls", "--format", "{{.Foo}}", check=False)
    assert p.returncode == 1 and p.stderr.strip().endswith(
        "can't evaluate field Foo in type *network.networkContext")
    p = docker("system", "prune", "-f", "--filter", "label=lab=2")
    assert "Deleted Networks:" not in p.stdout  # the filter keeps it
    p = docker("system", "prune", "-f")
    assert "Deleted Networks:\nlabnet\n" in p.stdout
    got = docker.out("events", "--since", since, "--until", now(), "--filter", "type=network",
                     "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} "
                     "{{.Actor.Attributes.type}}")
    assert got.splitlines() == [f"create {net_id} labnet bridge",
                                f"destroy {net_id} labnet bridge"]
