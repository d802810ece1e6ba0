"""Message-level tests of the kernel: the mime bundle of each command, the inspect widget's
comm traffic, the cell language, errors, streaming, interrupts and restarts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from conftest import needs_root
from kernelkit import Execution, KernelSession, kernel_environment

pytestmark = needs_root


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelSession]:
    with kernel_environment(tmp_path_factory.mktemp("kernel")):
        k = KernelSession()
        try:
            yield k
        finally:
            k.close()


def cli(*args: str) -> str:
    """The same command through the CLI (same LAYERLAB_ROOT): the text/plain twin."""
    p = subprocess.run([sys.executable, "-m", "layerlab.engine.cli", *args],
                       capture_output=True, text=True, timeout=60, check=True)
    return p.stdout.rstrip("\n")


AGO = re.compile(r"^(Less than a second|About an? \w+|\d+ \w+) ago$")


def cells(table: str) -> list[list[str]]:
    """A CLI table as rows of cells, relative times ("3 seconds ago") masked: the kernel
    and the CLI render the same table a moment apart, maybe across a second boundary."""
    return [["<ago>" if AGO.match(c) else c for c in re.split(r" {2,}", line.rstrip())]
            for line in table.splitlines()]


def ok(e: Execution) -> Execution:
    assert e.status == "ok", (e.reply["content"], e.of("error"), e.stream("stderr"))
    return e


def only_bundle(e: Execution) -> dict:
    bundles = ok(e).bundles()
    assert len(bundles) == 1, bundles
    return bundles[0]


@pytest.fixture(scope="module")
def seeded(kernel: KernelSession) -> KernelSession:
    """A container that added, changed and deleted files, committed as seed:1."""
    ok(kernel.execute("docker create --name seed busybox sh -c "
                      "'echo hello > /greeting; rm /etc/group'\n"
                      "docker start -a seed\n"
                      "docker commit -m 'add greeting' seed seed:1"))
    return kernel


def test_tables_are_html_with_the_cli_text(seeded: KernelSession) -> None:
    for cmd in ("images", "history busybox", "system df"):
        bundle = only_bundle(seeded.execute(f"docker {cmd}"))
        assert cells(bundle["text/plain"]) == cells(cli(*cmd.split())), cmd
        assert bundle["text/html"].startswith("<table")
    bundle = only_bundle(seeded.execute("docker ps -a"))
    assert cells(bundle["text/plain"])[0] == cells(cli("ps", "-a"))[0]
    assert "seed" in bundle["text/html"] and "Exited (0)" in bundle["text/html"]


def test_history_rows_open_their_layer_files(seeded: KernelSession) -> None:
    bundle = only_bundle(seeded.execute("docker history seed:1"))
    html = bundle["text/html"]
    assert cells(bundle["text/plain"]) == cells(cli("history", "seed:1"))
    assert html.count("<details") == 2  # the commit's layer and busybox's; CMD has none
    assert "/greeting" in html and "/etc/group" in html and "(whiteout)" in html
    assert "no layer (metadata only)" in html


def test_layer_graph_svg_shows_sharing(seeded: KernelSession) -> None:
    ok(seeded.execute("docker tag busybox:latest mybox:1"))
    bundle = only_bundle(seeded.execute("docker images --tree"))
    assert bundle["text/plain"] == cli("images", "--tree")
    svg = bundle["image/svg+xml"]
    assert svg.startswith("<svg") and "seed:1" in svg and "mybox:1" in svg
    assert "RW layer" in svg and "shared by" in svg


def test_commit_shows_the_image_id_and_a_compact_graph(seeded: KernelSession) -> None:
    e = ok(seeded.execute("docker commit seed seed:2"))
    assert e.stream().startswith("sha256:")
    (bundle,) = e.bundles()
    assert "seed:2" in bundle["image/svg+xml"] and "seed:2" in bundle["text/plain"]


def test_diff_is_coloured_with_whiteouts_explained(seeded: KernelSession) -> None:
    bundle = only_bundle(seeded.execute("docker diff seed"))
    assert bundle["text/plain"] == cli("diff", "seed") == "C /etc\nD /etc/group\nA /greeting"
    html = bundle["text/html"]
    assert "whiteout" in html and "#dc2626" in html and "1 added, 1 changed, 1 deleted" in html


def test_inspect_is_a_static_tree_with_a_search_script(seeded: KernelSession) -> None:
    """No widget (a reopened notebook would show "model not found"): the tree is
    <details>, the search box a script that runs in the browser when trusted."""
    e = ok(seeded.execute("docker inspect seed"))
    bundle = only_bundle(e)
    assert bundle["text/plain"] == cli("inspect", "seed")
    assert set(bundle) == {"text/plain", "text/html"} and not e.of("comm_open")
    html = bundle["text/html"]
    assert "<details" in html and '"UpperDir"' in html and 'class="ll-search"' in html
    assert "<script>" in html and "document.currentScript" in html


def test_format_and_quiet_are_plain_text(seeded: KernelSession) -> None:
    e = ok(seeded.execute("docker ps -aq --no-trunc\n"
                          "docker inspect --format '{{.State.Status}}' seed"))
    assert not e.bundles()
    assert e.stream() == cli("ps", "-aq", "--no-trunc") + "\nexited\n"


def test_output_streams_as_it_comes(kernel: KernelSession) -> None:
    e = ok(kernel.execute("docker run --rm busybox sh -c 'echo first; sleep 1; "
                          "echo second >&2'"))
    first = next(m for m in e.messages if m["msg_type"] == "stream")
    assert first["content"] == {"name": "stdout", "text": "first\n"}
    assert e.stream("stderr") == "second\n"
    sent: datetime = first["header"]["date"]
    finished: datetime = e.reply["header"]["date"]
    assert (finished - sent).total_seconds() > 0.8  # shown while the container still ran


def test_long_output_is_truncated_with_a_note(kernel: KernelSession) -> None:
    e = ok(kernel.execute("docker run --rm busybox seq 1 100000"))
    out = e.stream()
    assert out.startswith("1\n2\n") and out.count("\n") == 2000
    note = e.stream("stderr")
    assert "output truncated after 2,000 lines" in note and "98,000 more lines" in note


def test_errors_are_docker_messages_without_traceback(kernel: KernelSession) -> None:
    e = kernel.execute("docker history no-such-image:1\ndocker run --rm busybox echo never")
    assert e.status == "error" and e.reply["content"]["ename"] == "NotFound"
    (err,) = e.of("error")
    assert err["evalue"] == "Error response from daemon: No such image: no-such-image:1"
    assert not any("Traceback" in line for line in err["traceback"])
    assert "never" not in e.stream()  # the cell stopped at the first failure
    e = kernel.execute("docker rmi no-such-image:1")  # Docker: message on stderr, exit 1
    assert "No such image" in e.stream("stderr") and e.reply["content"]["ename"] == "ExitCode"
    e = kernel.execute("docker run --rm busybox sh -c 'exit 3'")
    assert e.status == "error" and "exited with status 3" in e.of("error")[0]["evalue"]
    e = kernel.execute("ls -l")
    assert e.status == "error" and "`docker …` command lines" in e.of("error")[0]["evalue"]
    e = kernel.execute("docker run --bogus busybox")
    assert e.status == "error" and "unknown flag: --bogus" in e.of("error")[0]["evalue"]
    ok(kernel.execute("docker ps"))  # still usable


def test_heredoc_redirections_and_file_cells(kernel: KernelSession, tmp_path: Path) -> None:
    e = ok(kernel.execute("docker run --rm -i busybox sh <<'EOF'\n"
                          "echo \"from a heredoc: $((6 * 7))\"\nEOF"))
    assert e.stream() == "from a heredoc: 42\n"
    archive = tmp_path / "bb.tar"
    ok(kernel.execute(f"docker save busybox > {archive}\n"
                      f"docker rmi busybox\n"
                      f"docker load < {archive}"))
    assert cli("images", "--format", "{{.Repository}}:{{.Tag}}").count("busybox:latest") == 1
    target = tmp_path / "ctx" / "hello.txt"
    e = ok(kernel.execute(f"%%file {target}\nhello from a cell"))
    assert target.read_text() == "hello from a cell\n" and e.stream().startswith("Writing")
    e = ok(kernel.execute(f"docker images --format '{{{{.Repository}}}}' > {tmp_path}/l.txt"))
    assert (tmp_path / "l.txt").read_text().split() == cli(
        "images", "--format", "{{.Repository}}").split()
    e = kernel.execute("docker save busybox")
    assert e.status == "error" and "-o" in e.of("error")[0]["evalue"]


def test_help_pages(kernel: KernelSession) -> None:
    e = ok(kernel.execute("docker run?"))
    (page,) = e.reply["content"]["payload"]
    assert page["source"] == "page" and "--detach" in page["data"]["text/plain"]
    e = ok(kernel.execute("docker"))
    assert "Commands:" in e.reply["content"]["payload"][0]["data"]["text/plain"]


def test_interrupt_forwards_sigint_like_sig_proxy(kernel: KernelSession) -> None:
    e = kernel.execute("docker run --name trapper busybox sh -c "
                       "'trap \"echo caught SIGINT; exit 3\" INT; "
                       "echo ready; while true; do sleep 0.1; done'", interrupt_after=2)
    assert e.status == "error" and e.reply["content"]["ename"] == "KeyboardInterrupt"
    assert "caught SIGINT" in e.stream()
    assert kernel.idle_at - kernel.interrupted_at < 2
    assert cli("inspect", "--format", "{{.State.ExitCode}}", "trapper") == "3"


def test_interrupt_detaches_from_a_container_that_keeps_running(
        kernel: KernelSession) -> None:
    e = kernel.execute("docker run --name stubborn busybox sleep 300", interrupt_after=1)
    assert e.status == "error" and "keeps running" in e.of("error")[0]["evalue"]
    assert kernel.idle_at - kernel.interrupted_at < 2.5
    assert cli("ps", "--format", "{{.Names}}", "--filter", "name=stubborn") == "stubborn"
    ok(kernel.execute("docker rm -f stubborn"))


def test_containers_survive_a_kernel_restart(kernel: KernelSession) -> None:
    ok(kernel.execute("docker run -d --name survivor busybox sleep 300"))
    kernel.kc.execute("docker run --name foreground busybox sh -c 'echo up; sleep 300'")
    deadline = time.monotonic() + 20
    while "foreground" not in cli("ps", "--format", "{{.Names}}"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    kernel.restart()
    e = ok(kernel.execute("docker ps --format '{{.Names}}'"))
    assert set(e.stream().split()) >= {"survivor", "foreground"}
    ok(kernel.execute("docker rm -f survivor foreground"))


def test_build_shows_a_live_step_list_then_the_layers(kernel: KernelSession,
                                                      tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello\n")
    cell = (f"%%dockerfile -t built:1 {tmp_path}\n"
            "FROM busybox\nCOPY hello.txt /hello.txt\n"
            "RUN echo running && sleep 1 && cat /hello.txt\n"
            'CMD ["cat", "/hello.txt"]\n')
    e = ok(kernel.execute(cell))
    shown = [m for m in e.messages if m["msg_type"] in ("display_data", "update_display_data")]
    display_id = shown[0]["content"]["transient"]["display_id"]
    updates = [m for m in shown if m["content"]["transient"].get("display_id") == display_id]
    assert updates[0]["msg_type"] == "display_data" and len(updates) >= 3
    assert all(m["msg_type"] == "update_display_data" for m in updates[1:])
    during = [m["content"]["data"]["text/html"] for m in updates[:-1]]
    assert any("running…" in html and "CMD" not in html for html in during)  # mid-RUN
    final = updates[-1]["content"]["data"]
    assert final["text/plain"].startswith("Successfully built")
    assert "Successfully tagged built:1" in final["text/plain"] and "no layer" in final[
        "text/html"]
    # RUN output streams under its step's line (the other step lines are in the list)
    assert e.stream() == ("Step 3/4 : RUN echo running && sleep 1 && cat /hello.txt\n"
                          "running\nhello\n")
    # ... in order with the list: the RUN's last output is sent before the list shows CMD
    order = [m for m in e.messages if m["msg_type"] in ("stream", "update_display_data")]
    hello = next(i for i, m in enumerate(order) if "hello" in m["content"].get("text", ""))
    cmd_shown = next(i for i, m in enumerate(order) if m["msg_type"] == "update_display_data"
                     and "CMD" in m["content"]["data"]["text/html"])
    assert hello < cmd_shown
    graph = [m for m in shown if "image/svg+xml" in m["content"]["data"]]
    assert graph and "built:1" in graph[0]["content"]["data"]["image/svg+xml"]
    again = ok(kernel.execute(cell))
    last = [m for m in again.messages if m["msg_type"] == "update_display_data"][-1]
    assert last["content"]["data"]["text/html"].count(">cache<") == 3


def test_without_isolation_run_explains_and_image_commands_work(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """Binder's situation (no root for namespaces), forced with LAYERLAB_RUNTIME=none."""
    monkeypatch.setenv("LAYERLAB_RUNTIME", "none")
    with kernel_environment(tmp_path):
        k = KernelSession()
        try:
            e = k.execute("docker run --rm busybox echo hi")
            assert e.status == "error"
            assert "cannot start containers here" in e.of("error")[0]["evalue"]
            ok(k.execute("docker create --name idle busybox true\ndocker diff idle\n"
                         "docker images --tree\ndocker history busybox"))
        finally:
            k.close()


def test_interactive_terminal_flags_get_a_hint(kernel: KernelSession) -> None:
    e = ok(kernel.execute("docker run --rm -it busybox sh"))
    assert "no terminal" in e.stream("stderr") and "heredoc" in e.stream("stderr")


def test_layer_explorer_view_has_every_layer_and_the_text_twin(seeded: KernelSession) -> None:
    bundle = only_bundle(seeded.execute("docker image explore seed:1"))
    assert bundle["text/plain"] == cli("image", "explore", "seed:1")
    html = bundle["text/html"]
    assert html.count('<details style="border-top') == 2  # busybox's layer and the commit's
    assert "/greeting" in html and "/etc/group" in html and "whiteout" in html
    assert "efficiency" in html and "Files after this layer" in html
    e = ok(seeded.execute("docker image explore --format json seed:1"))
    assert not e.bundles() and json.loads(e.stream())["Layers"][1]["Changes"]


def test_container_monitors_have_their_own_process_title(kernel: KernelSession) -> None:
    """A monitor forked by the kernel does not show in `ps` as another kernel."""
    cid = ok(kernel.execute("docker run -d --name titled busybox sleep 60")).stream().strip()
    titles = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                titles.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    assert any(t.strip() == f"layerlab-monitor {cid[:12]}" for t in titles), titles
    assert not any(cid[:12] in t and "layerlab.kernel" in t for t in titles)
    ok(kernel.execute("docker rm -f titled"))


def test_system_service_serves_this_notebooks_engine_for_the_session(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """``docker system service`` in a cell: the real docker CLI then sees the notebook's
    containers, and the service ends with the kernel, even a killed one."""
    from dockerapi_kit import DOCKER

    if DOCKER is None:
        pytest.skip("no Docker CLI on PATH")
    tmp = tmp_path_factory.mktemp("svc")
    sock = tmp / "api.sock"
    env = {"DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(tmp / "dockercfg"),
           "PATH": "/usr/bin:/bin"}
    with kernel_environment(tmp):
        k = KernelSession()
        try:
            ex = k.execute(f"docker run --name svc-seen busybox true\n"
                           f"docker system service unix://{sock}")
            assert ex.status == "ok", ex.of("error")
            assert f"export DOCKER_HOST=unix://{sock}" in ex.stream()
            assert "Already serving" in k.execute(f"docker system service unix://{sock}").stream()
            p = subprocess.run([DOCKER, "ps", "-a", "--format", "{{.Names}} {{.Status}}"],
                               env=env, capture_output=True, text=True, timeout=60)
            assert p.returncode == 0 and p.stdout.startswith("svc-seen Exited (0)"), p
            served = [line for line in subprocess.run(
                ["pgrep", "-af", f"layerlab.engine.dockerapi.*{sock}"], capture_output=True,
                text=True).stdout.splitlines()]
            assert served, "no service process"  # the service and its spawner
            k.execute("docker rm svc-seen")
            k.restart()  # kills the kernel: the service must go with it
            pids = [int(line.split()[0]) for line in served]
            for _ in range(200):
                if not any(Path(f"/proc/{pid}").exists() for pid in pids):
                    break
                time.sleep(0.05)
            left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
            assert not left, f"the service outlived its kernel: {left}"
        finally:
            k.close()
