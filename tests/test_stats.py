"""``docker stats`` from the kernel's cgroup counters (root mode): Docker's table, the
limit a container runs under, CPU time of a busy container, ``--format`` (json and
templates), ``-a`` with a stopped container, an unknown name; and the kernel, where a
streaming table cannot be shown, refusing with the ``--no-stream`` hint.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys

import pytest
from conftest import Docker, needs_root
from dockerapi_kit import DOCKER, clients
from kernelkit import KernelSession, kernel_environment
from layerlab.kernel import cells
from layerlab.kernel.commands import streaming_stats

CLEAR = b"\033[2J\033[H"
COLUMNS = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
           "BLOCK I/O", "PIDS"]


@needs_root
@pytest.mark.parametrize("driver", ["overlay"])
def test_stats_no_stream_shows_the_limit_and_the_counters(docker: Docker) -> None:
    busy = docker.out("run", "-d", "--name", "busy", "-m", "64m", "--cpus", "0.5", "busybox",
                      "sh", "-c", "while :; do :; done")
    docker("create", "--name", "idle", "busybox", "true")
    try:
        lines = docker.out("stats", "--no-stream").splitlines()
        assert [c for c in COLUMNS if c in lines[0]] == COLUMNS
        rows = [line for line in lines[1:] if line.startswith(busy[:12])]
        assert len(rows) == 1 and "busy" in rows[0] and "/ 64MiB" in rows[0]
        assert not any("idle" in line for line in lines)  # stopped: only with -a

        record = json.loads(docker.out("stats", "--no-stream", "--format", "json", "busy"))
        assert sorted(record) == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc",
                                  "MemUsage", "Name", "NetIO", "PIDs"]
        assert (record["Container"], record["ID"], record["PIDs"]) == ("busy", busy[:12], "1")
        assert float(record["CPUPerc"].rstrip("%")) > 0  # it spun for the whole interval
        used, limit = record["MemUsage"].split(" / ")
        assert limit == "64MiB" and used.endswith("B")

        shown = docker.out("stats", "-a", "--no-stream", "--no-trunc", "--format",
                           "{{.ID}} {{.Name}} {{.MemUsage}} {{.PIDs}}").splitlines()
        assert f"{busy} busy" in "\n".join(shown)
        idle = next(line for line in shown if " idle " in line)
        assert idle.endswith("0B / 0B 0")  # a stopped container reads as zeros

        p = docker("stats", "--no-stream", "busy", "nosuch", check=False)
        assert p.returncode == 1 and "No such container: nosuch" in p.stderr
        assert "busy" in p.stdout
        p = docker("stats", "--no-stream", "--format", "{{.Nope}}", "busy", check=False)
        assert p.returncode != 0 and "Nope" in p.stderr
    finally:
        docker("rm", "-f", "busy", "idle")


@pytest.mark.parametrize(("line", "refused"), [
    ("docker stats", True), ("docker stats web", True), ("docker container stats", True),
    ("docker stats --no-stream", False), ("docker stats web --no-stream", False),
    ("docker ps", False),
])
def test_the_kernel_refuses_a_streaming_table(line: str, refused: bool) -> None:
    cmd = cells.parse(line).commands[0]
    message = streaming_stats(cmd)
    assert bool(message) == refused
    if refused:
        assert "--no-stream" in message and message.endswith("--no-stream`")


@needs_root
@pytest.mark.parametrize("driver", ["overlay"])
def test_streaming_stats_redraws_in_a_terminal_until_interrupted(docker: Docker) -> None:
    """As the docker CLI does: clear the screen, draw the table, every interval; ctrl-c
    (SIGINT) ends it cleanly."""
    docker("run", "-d", "--name", "live", "busybox", "sleep", "600")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "layerlab.engine.cli", "stats", "live"],
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                            env=docker.env)
    os.close(follower)
    seen = b""
    try:
        while seen.count(CLEAR) < 2:  # two frames: it redraws, it did not just print once
            ready, _, _ = select.select([leader], [], [], 60)
            assert ready, f"no second frame: {seen!r}"
            seen += os.read(leader, 65536)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
        docker("rm", "-f", "live")
    frames = seen.split(CLEAR)[1:]
    assert all(b"CONTAINER ID" in f and b"live" in f for f in frames[:2])


@needs_root
@pytest.mark.skipif(DOCKER is None, reason="no Docker CLI on PATH")
def test_the_docker_cli_runs_limited_updates_and_reads_stats() -> None:
    """The real docker CLI through the API: limits at create, ``update``, and ``stats``
    computed by the CLI's own arithmetic from our samples, next to LayerLab's."""
    with clients() as pair:
        made = pair.docker("run", "-d", "--name", "api", "-m", "64m", "--pids-limit", "30",
                           "busybox", "sleep", "600")
        assert made.returncode == 0, made.stderr
        assert pair.docker("update", "-m", "96m", "--memory-swap", "192m", "api").stdout == \
            "api\n"
        hc = json.loads(pair.layerlab("inspect", "api").stdout)[0]["HostConfig"]
        assert (hc["Memory"], hc["MemorySwap"], hc["PidsLimit"]) == (96 << 20, 192 << 20, 30)
        template = "{{.Name}} {{.MemUsage}} {{.PIDs}}"
        shown = [p.stdout.split() for p in pair.both("stats", "--no-stream", "--format",
                                                     template, "api")]
        for name, _, slash, limit, pids in shown:
            assert (name, slash, limit, pids) == ("api", "/", "96MiB", "1")
        pair.layerlab("rm", "-f", "api")


@needs_root
def test_the_notebook_shows_one_sample_and_refuses_the_stream(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    with kernel_environment(tmp_path_factory.mktemp("kernel")):
        k = KernelSession()
        try:
            e = k.execute("docker run -d --name nb -m 48m busybox sleep 600\n"
                          "docker stats --no-stream nb")
            assert e.status == "ok", (e.of("error"), e.stream("stderr"))
            (table,) = [b for b in e.bundles() if "text/html" in b]
            assert "MEM USAGE / LIMIT" in table["text/plain"]
            assert "/ 48MiB" in table["text/plain"] and table["text/html"].startswith("<table")
            e = k.execute("docker stats nb")
            assert e.status == "error"
            assert "docker stats nb --no-stream" in e.of("error")[0]["evalue"]
        finally:
            k.execute("docker rm -f nb")
            k.close()
