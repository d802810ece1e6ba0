"""The real Docker CLI through the service's socket, next to LayerLab's own CLI on the same
engine: the same command line gives the same output and exit code (issue 14).

Where Docker's CLI adds text of its own (``docker pull``'s final reference line, the
legacy builder's deprecation notice and its "Sending build context" line), the
comparison leaves exactly that text out and says so.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import needs_root
from dockerapi_kit import DOCKER, Clients, clients
from test_registry import local_registry  # noqa: F401 (a fixture, used by name)

pytestmark = [needs_root, pytest.mark.skipif(DOCKER is None, reason="no Docker CLI on PATH")]
HEX64 = re.compile(r"^[0-9a-f]{64}\n$")


@pytest.fixture(scope="module")
def pair() -> Iterator[Clients]:
    with clients() as c:
        yield c


def outcome(p: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    return p.returncode, p.stdout, p.stderr


def same(pair: Clients, *args: str, input: str | None = None) -> tuple[int, str, str]:
    docker, layerlab = pair.both(*args, input=input)
    assert outcome(docker) == outcome(layerlab), (docker, layerlab)
    return outcome(docker)


def each(pair: Clients, line: str) -> tuple[subprocess.CompletedProcess[str],
                                           subprocess.CompletedProcess[str]]:
    """``line`` with ``{n}`` as a name of each client's own (``d-…``, ``l-…``)."""
    return (pair.docker(*shlex.split(line.format(n="d"))),
            pair.layerlab(*shlex.split(line.format(n="l"))))


# -- run ------------------------------------------------------------------------------------
def test_run_foreground_output_and_exit_code(pair: Clients) -> None:
    assert same(pair, "run", "--rm", "busybox", "echo", "hello") == (0, "hello\n", "")
    code, out, err = same(pair, "run", "--rm", "busybox", "sh", "-c",
                          "echo out; echo err >&2; exit 3")
    assert (code, out, err) == (3, "out\n", "err\n")


def test_run_rm_keeps_the_exit_code_and_removes(pair: Clients) -> None:
    """``--rm`` waits on ``condition=removed``: the code outlives the container."""
    assert same(pair, "run", "--rm", "--name", "gone", "busybox", "sh", "-c", "exit 42")[0] == 42
    assert pair.docker("ps", "-a", "-q", "--filter", "name=gone").stdout == ""


def test_run_interactive_stdin(pair: Clients) -> None:
    text = "".join(f"line {i}\n" for i in range(2000))
    assert same(pair, "run", "-i", "--rm", "busybox", "wc", "-l", input=text) == (0, "2000\n", "")
    assert same(pair, "run", "-i", "--rm", "busybox", "cat", input="a\nb\n") == (0, "a\nb\n", "")


def test_run_failures_exit_like_docker(pair: Clients) -> None:
    for command, code in ((["nope"], 127), (["/etc/passwd"], 126)):
        docker, layerlab = pair.both("run", "--rm", "busybox", *command)
        assert docker.returncode == layerlab.returncode == code
        assert docker.stdout == layerlab.stdout == ""
        message = re.sub("[0-9a-f]{12}", "ID", layerlab.stderr.strip().splitlines()[0])
        # Docker's CLI adds "docker: " before it and a help line after it
        assert message.split(": ", 1)[1] in re.sub("[0-9a-f]{12}", "ID", docker.stderr)


def test_run_on_a_network_with_a_published_port(pair: Clients) -> None:
    """``--network``, ``--network-alias`` and ``-p`` through the API: a name lookup on a
    user network, and the container's httpd served on the host's loopback."""
    assert pair.docker("network", "create", "d-web-net").returncode == 0
    try:
        p = pair.docker("run", "-d", "--name", "d-web", "--network", "d-web-net",
                        "--network-alias", "www", "-p", "127.0.0.1::80", "busybox", "httpd",
                        "-f", "-p", "80", "-h", "/etc")
        assert p.returncode == 0, p.stderr
        d, ll = pair.both("port", "d-web", "80")
        assert outcome(d) == outcome(ll) and d.stdout.startswith("127.0.0.1:"), (d, ll)
        fetch = pair.docker("run", "--rm", "--network", "d-web-net", "busybox", "sh", "-c",
                            "for i in $(seq 50); do wget -qO- http://www:80/hostname && "
                            "exit 0; sleep 0.1; done; exit 1")
        hostname = pair.docker("inspect", "--format", "{{.Config.Hostname}}", "d-web").stdout
        assert (fetch.returncode, fetch.stdout) == (0, hostname), fetch.stderr
        port = int(d.stdout.strip().rsplit(":", 1)[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=10) as r:
            assert r.read().decode() == hostname
        p = pair.docker("run", "--rm", "--network", "no-such-net", "busybox", "true")
        assert p.returncode == 125 and "network no-such-net not found" in p.stderr
        assert "Unable to find image" not in p.stderr  # a 400: the CLI does not pull
    finally:
        pair.docker("rm", "-f", "d-web")
        pair.docker("network", "rm", "d-web-net")


def test_run_detached_then_wait_logs_inspect(pair: Clients) -> None:
    d, ll = each(pair, "run -d --name {n}-bg busybox sh -c 'echo one; echo two >&2; exit 5'")
    assert HEX64.match(d.stdout) and HEX64.match(ll.stdout), (d, ll)
    d, ll = each(pair, "wait {n}-bg")
    assert outcome(d) == outcome(ll) == (0, "5\n", "")
    d, ll = each(pair, "logs {n}-bg")
    assert outcome(d) == outcome(ll) == (0, "one\n", "two\n")
    fmt = "{{.State.Status}} {{.State.ExitCode}} {{.Config.Cmd}} {{.Config.Image}}"
    d = pair.docker("inspect", "--format", fmt, "d-bg")
    ll = pair.layerlab("inspect", "--format", fmt, "l-bg")
    assert outcome(d) == outcome(ll) == (0, "exited 5 [sh -c echo one; echo two >&2; exit 5] "
                                            "busybox\n", "")


def test_logs_follow_until_the_container_ends(pair: Clients) -> None:
    script = "for i in 1 2 3; do echo $i; sleep 0.1; done"
    for name in ("d-follow", "l-follow"):
        run = pair.layerlab if name.startswith("l") else pair.docker
        assert run("run", "-d", "--name", name, "busybox", "sh", "-c", script).returncode == 0
    d, ll = pair.docker("logs", "-f", "d-follow"), pair.layerlab("logs", "-f", "l-follow")
    assert outcome(d) == outcome(ll) == (0, "1\n2\n3\n", "")


# -- ps, exec, stop, kill, pause ----------------------------------------------------------
def test_ps_exec_pause_stop_kill(pair: Clients) -> None:
    for name, run in (("d-live", pair.docker), ("l-live", pair.layerlab)):
        assert run("run", "-d", "--name", name, "busybox", "sleep", "300").returncode == 0
    fmt = "{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}"
    d, ll = pair.docker("ps", "--format", fmt), pair.layerlab("ps", "--format", fmt)
    assert outcome(d) == outcome(ll)
    assert 'd-live|busybox|"sleep 300"|running' in d.stdout.splitlines()
    d, ll = each(pair, "exec {n}-live sh -c 'echo in; exit 6'")
    assert outcome(d) == outcome(ll) == (6, "in\n", "")
    d = pair.docker("exec", "-i", "d-live", "cat", input="x\n")
    ll = pair.layerlab("exec", "-i", "l-live", "cat", input="x\n")
    assert outcome(d) == outcome(ll) == (0, "x\n", "")
    d, ll = each(pair, "exec {n}-live nope")
    assert d.returncode == ll.returncode == 127
    for verb in ("pause", "unpause"):
        d, ll = each(pair, f"{verb} {{n}}-live")
        assert outcome(d) == (0, "d-live\n", "") and outcome(ll) == (0, "l-live\n", "")
    d, ll = each(pair, "stop -t 1 {n}-live")
    assert outcome(d) == (0, "d-live\n", "") and outcome(ll) == (0, "l-live\n", "")
    d, ll = each(pair, "kill {n}-live")  # no longer running: both refuse, in the same words
    assert d.returncode == ll.returncode == 1
    assert re.sub("[0-9a-f]{64}", "ID", d.stderr) == re.sub("[0-9a-f]{64}", "ID", ll.stderr)
    assert "is not running" in d.stderr
    d, ll = each(pair, "rm {n}-live")
    assert outcome(d) == (0, "d-live\n", "") and outcome(ll) == (0, "l-live\n", "")


# -- images ---------------------------------------------------------------------------------
def test_images_history_tag_rmi(pair: Clients) -> None:
    fmt = "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"
    assert same(pair, "images", "--format", fmt, "busybox")[0] == 0
    assert same(pair, "history", "--format", "{{.ID}} {{.CreatedBy}} {{.Size}}", "busybox")[0] \
        == 0
    assert same(pair, "history", "--no-trunc", "-q", "busybox")[0] == 0
    d, ll = each(pair, "tag busybox {n}-tag:1")
    assert outcome(d) == outcome(ll) == (0, "", "")
    d, ll = each(pair, "rmi {n}-tag:1")
    assert outcome(d) == (0, "Untagged: d-tag:1\n", "")
    assert outcome(ll) == (0, "Untagged: l-tag:1\n", "")
    assert same(pair, "rmi", "nothing-here")[0] == 1


def test_build_classic_then_cached(pair: Clients, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN echo built > /hello\nENV A=b\nCMD [\"cat\", \"/hello\"]\n")
    first = pair.docker("build", "-t", "built:1", str(tmp_path))
    assert first.returncode == 0, first.stderr
    lines = [line for line in first.stdout.split("\n") if line.strip("\r")]
    assert lines[0].startswith("Sending build context to Docker daemon")  # the CLI's own
    assert lines[1:3] == ["Step 1/4 : FROM busybox", f" ---> {short_id(pair, 'busybox')}"]
    assert lines[-2:] == [f"Successfully built {short_id(pair, 'built:1')}",
                          "Successfully tagged built:1"]
    # From the cache, through both clients, the classic output is the same text.
    d = pair.docker("build", "-t", "built:1", str(tmp_path))
    ll = pair.layerlab("build", "-t", "built:1", str(tmp_path))
    assert d.returncode == ll.returncode == 0
    assert d.stdout[d.stdout.index("Step 1/4"):] == ll.stdout
    assert same(pair, "run", "--rm", "built:1") == (0, "built\n", "")


def test_build_failure_exit_code(pair: Clients, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 4\n")
    d, ll = pair.both("build", str(tmp_path))
    assert d.returncode == ll.returncode == 4
    assert "The command '/bin/sh -c exit 4' returned a non-zero code: 4" in d.stderr
    assert "The command '/bin/sh -c exit 4' returned a non-zero code: 4" in ll.stderr


def test_buildkit_request_says_what_to_set(pair: Clients, tmp_path: Path) -> None:
    """Without buildx the CLI 28 uses the classic builder, as our ping's
    ``Builder-Version: 1`` asks."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    p = pair.docker("build", "-q", str(tmp_path), buildkit=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"{short_full(pair, 'busybox')}\n"


def short_id(pair: Clients, ref: str) -> str:
    return pair.layerlab("images", "-q", ref).stdout.strip()


def short_full(pair: Clients, ref: str) -> str:
    return pair.layerlab("inspect", "--format", "{{.Id}}", ref).stdout.strip()


def test_commit_and_inspect(pair: Clients) -> None:
    for name, run in (("d-src", pair.docker), ("l-src", pair.layerlab)):
        assert run("run", "--name", name, "busybox", "sh", "-c", "echo x > /f").returncode == 0
    d, ll = each(pair, """commit -c 'CMD ["cat", "/f"]' {n}-src {n}-snap:1""")
    assert d.returncode == ll.returncode == 0, (d, ll)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", d.stdout) and re.fullmatch(
        r"sha256:[0-9a-f]{64}\n", ll.stdout)
    d, ll = each(pair, "run --rm {n}-snap:1")
    assert outcome(d) == outcome(ll) == (0, "x\n", "")
    fmt = "{{.Config.Cmd}} {{len .RootFS.Layers}} {{.Parent}}"
    d = pair.docker("image", "inspect", "--format", fmt, "d-snap:1")
    ll = pair.layerlab("image", "inspect", "--format", fmt, "l-snap:1")
    assert outcome(d) == outcome(ll)
    d, ll = each(pair, "diff {n}-src")
    assert outcome(d) == outcome(ll) == (0, "A /f\n", "")


def test_save_load_export_import(pair: Clients, tmp_path: Path) -> None:
    saved = pair.docker("save", "-o", str(tmp_path / "d.tar"), "busybox")
    assert saved.returncode == 0, saved.stderr
    assert pair.layerlab("save", "-o", str(tmp_path / "l.tar"), "busybox").returncode == 0
    assert (tmp_path / "d.tar").read_bytes() == (tmp_path / "l.tar").read_bytes()
    d = pair.docker("load", "-i", str(tmp_path / "l.tar"))
    ll = pair.layerlab("load", "-i", str(tmp_path / "d.tar"))
    assert outcome(d) == outcome(ll) == (0, "Loaded image: busybox:latest\n", "")
    for name, run in (("d-exp", pair.docker), ("l-exp", pair.layerlab)):
        assert run("create", "--name", name, "busybox").returncode == 0
        assert run("export", "-o", str(tmp_path / f"{name}.tar"), name).returncode == 0
    d = pair.docker("import", str(tmp_path / "d-exp.tar"), "d-imp:1")
    ll = pair.layerlab("import", str(tmp_path / "l-exp.tar"), "l-imp:1")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", d.stdout), d
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", ll.stdout), ll
    fmt = "{{.RootFS.Layers}} {{.Comment}}"
    d = pair.docker("image", "inspect", "--format", fmt, "d-imp:1")
    ll = pair.layerlab("image", "inspect", "--format", fmt, "l-imp:1")
    assert outcome(d) == outcome(ll)
    assert d.stdout.endswith(" Imported from -\n")  # the CLI sends the file as the body


def test_export_through_a_pipe_into_import(pair: Clients) -> None:
    assert pair.docker("create", "--name", "piped", "busybox").returncode == 0
    p = subprocess.run(f"'{DOCKER}' export piped | '{DOCKER}' import - piped-imp:1",
                       shell=True, env=pair.env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and re.fullmatch(r"sha256:[0-9a-f]{64}\n", p.stdout), p


def test_pull_and_push_through_a_loopback_registry(
        pair: Clients, local_registry: str) -> None:  # noqa: F811
    name = f"{local_registry}/api/busybox:latest"
    assert pair.docker("tag", "busybox", name).returncode == 0
    pushed = pair.docker("push", name)
    assert pushed.returncode == 0, pushed.stderr
    assert f"The push refers to repository [{local_registry}/api/busybox]" in pushed.stdout
    assert "latest: digest: sha256:" in pushed.stdout
    assert pair.docker("rmi", name).returncode == 0
    d = pair.docker("pull", name)
    assert d.returncode == 0, d.stderr
    assert d.stdout.splitlines()[-1] == name  # the CLI's own last line: what it pulled
    assert pair.layerlab("rmi", name).returncode == 0
    ll = pair.layerlab("pull", name)
    assert ll.returncode == 0
    assert d.stdout.splitlines()[:-1] == ll.stdout.splitlines()



# -- networks, events, rename, logs by time -----------------------------------------------
def test_networks_events_rename_and_logs_by_time(pair: Clients) -> None:
    t0 = pair.layerlab("run", "--rm", "busybox", "date", "+%s").stdout.strip()
    d, ll = each(pair, "network create --label team=a {n}-net")
    assert HEX64.match(d.stdout) and HEX64.match(ll.stdout), (d, ll)
    fmt = "{{.Name}} {{.Driver}} {{.Internal}}"
    d, ll = pair.both("network", "ls", "--filter", "label=team=a", "--format", fmt)
    assert outcome(d) == outcome(ll) == (0, "d-net bridge false\nl-net bridge false\n", "")
    d, ll = pair.both("network", "inspect", "--format", '{{.Name}} {{index .Labels "team"}}',
                      "d-net")
    assert outcome(d) == outcome(ll) == (0, "d-net a\n", "")
    d, ll = pair.both("network", "inspect", "no-such-net")
    assert d.returncode == ll.returncode == 1 and "no-such-net" in d.stderr
    d, ll = each(pair, "network rm {n}-net")
    assert outcome(d) == (0, "d-net\n", "") and outcome(ll) == (0, "l-net\n", "")
    t1 = pair.layerlab("run", "--rm", "busybox", "date", "+%s").stdout.strip()
    d, ll = pair.both("events", "--since", t0, "--until", str(int(t1) + 1), "--filter",
                      "type=network", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
    assert outcome(d) == outcome(ll) == (
        0, "create d-net\ncreate l-net\ndestroy d-net\ndestroy l-net\n", "")
    each(pair, "run --name {n}-old busybox echo said")
    d, ll = each(pair, "rename {n}-old {n}-new")
    assert outcome(d) == outcome(ll) == (0, "", "")
    d, ll = each(pair, "logs --since 2000-01-01T00:00:00Z {n}-new")
    assert outcome(d) == outcome(ll) == (0, "said\n", "")
    d, ll = each(pair, "logs --until 2000-01-01T00:00:00Z {n}-new")
    assert outcome(d) == outcome(ll) == (0, "", "")
    each(pair, "rm {n}-new")


def test_eight_clients_run_containers_at_once(pair: Clients) -> None:
    """Eight real CLIs on the socket at the same time, each its own container: every one
    gets its own output and exit code."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> tuple[int, str]:
        p = pair.docker("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                        f"echo client {i}; exit {i}")
        return p.returncode, p.stdout

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert results == [(i, f"client {i}\n") for i in range(8)]
    left = pair.docker("ps", "-a", "--no-trunc", "--format", "{{.Command}}").stdout
    assert "echo client" not in left  # --rm removed every one
