"""Resource limits through real cgroups (root mode): what the kernel enforces on the
container's processes, what it shows in the groups the container's processes are in
(read through ``/proc/<pid>/cgroup``), ``docker update`` on running and created
containers, ``--ulimit``, and moby's refusals. One unprivileged test: without cgroups
``-m`` is discarded with a warning and the container still runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import unprivileged_kit as kit
from conftest import Docker, needs_root
from layerlab.engine.commands import IO, execute, units
from layerlab.engine.errors import EngineError
from layerlab.engine.runtime import limits
from layerlab.engine.runtime.limits import Resources
from layerlab.engine.services.engine import Engine

MiB = 1024 * 1024


# Limits do not depend on the snapshot driver: one is enough.
overlay_only = pytest.mark.parametrize("driver", ["overlay"])


def cgroup_dirs(pid: int) -> dict[str, Path]:
    """Controller → the directory of ``pid``'s group, as the kernel reports it."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            kind, _, opts = right.split()[:3]
            if kind == "cgroup":
                for opt in opts.split(","):
                    mounts[opt] = Path(left.split()[4])
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(","):
            if name in mounts:
                out[name] = mounts[name] / path.lstrip("/")
    return out


def leftover_groups(cid: str) -> list[Path]:
    parent = os.environ["LAYERLAB_CGROUP_ROOT"]
    return [p for p in Path("/sys/fs/cgroup").glob(f"*/{parent}/{cid}")]


def inspect(docker: Docker, name: str) -> dict:
    return json.loads(docker.out("inspect", name))[0]


@needs_root
@overlay_only
def test_memory_limit_oom_kills_the_hog_with_137(docker: Docker) -> None:
    hog = "x=0123456789abcdef; while :; do x=$x$x; done"  # doubles a shell string for ever
    p = docker("run", "--name", "hog", "-m", "32m", "busybox", "sh", "-c", hog, check=False)
    assert p.returncode == 137
    c = inspect(docker, "hog")
    assert c["State"]["OOMKilled"] is True and c["State"]["ExitCode"] == 137
    assert c["HostConfig"]["Memory"] == 32 * MiB
    assert c["HostConfig"]["MemorySwap"] == 64 * MiB  # moby's default: twice the memory
    assert leftover_groups(c["Id"]) == []
    happened = docker.out("events", "--since", "0", "--until", f"{time.time():.9f}", "--filter",
                          "container=hog", "--format", "{{.Action}}").split()
    assert happened[-2:] == ["oom", "die"]
    docker("run", "--name", "calm", "-m", "32m", "busybox", "true")
    assert inspect(docker, "calm")["State"]["OOMKilled"] is False


@needs_root
@overlay_only
def test_pids_limit_stops_a_fork_loop(docker: Docker) -> None:
    loop = "i=0; while [ $i -lt 60 ]; do sleep 600 & i=$((i+1)); echo $i; done"
    p = docker("run", "--rm", "--pids-limit", "20", "busybox", "sh", "-c", loop, check=False)
    assert p.returncode != 0
    assert "can't fork" in p.stderr
    started = [int(n) for n in p.stdout.split()]
    assert 10 <= started[-1] < 20  # sh itself is one of the 20


@needs_root
@overlay_only
def test_limits_in_the_kernel_and_update_of_a_running_container(docker: Docker) -> None:
    cid = docker.out("run", "-d", "--name", "lim", "--cpus", "0.5", "--cpu-shares", "512",
                     "-m", "64m", "--memory-reservation", "32m", "--pids-limit", "50",
                     "--cpuset-cpus", "0", "--ulimit", "nofile=100:200", "--oom-kill-disable",
                     "busybox", "sleep", "600")
    try:
        pid = int(inspect(docker, "lim")["State"]["Pid"])
        groups = cgroup_dirs(pid)
        # the command joined its group in every hierarchy (v1: by its own tasks write)
        ours = {c for c, path in groups.items() if path.name == cid}
        assert ours >= {"freezer", "devices", "memory", "cpu", "pids"} & set(groups)

        def read(controller: str, name: str) -> str:
            return (groups[controller] / name).read_text().strip()

        assert cid in str(groups["memory"])
        assert (read("cpu", "cpu.cfs_quota_us"), read("cpu", "cpu.cfs_period_us")) == (
            "50000", "100000")
        assert read("cpu", "cpu.shares") == "512"
        assert read("memory", "memory.limit_in_bytes") == str(64 * MiB)
        assert read("memory", "memory.soft_limit_in_bytes") == str(32 * MiB)
        assert read("pids", "pids.max") == "50"
        assert read("cpuset", "cpuset.cpus") == "0"
        assert "oom_kill_disable 1" in read("memory", "memory.oom_control")
        # an exec'd process is in the same groups, with the container's ulimits
        shown = docker.out("exec", "lim", "sh", "-c",
                           "ulimit -n; ulimit -Hn; cat /proc/self/cgroup").splitlines()
        assert shown[:2] == ["100", "200"]
        assert sorted(shown[2:]) == sorted(Path(f"/proc/{pid}/cgroup").read_text().splitlines())
        mine = f":memory:/{os.environ['LAYERLAB_CGROUP_ROOT']}/{cid}"
        assert any(line.endswith(mine) for line in shown[2:])
        hc = inspect(docker, "lim")["HostConfig"]
        assert (hc["NanoCpus"], hc["CpuShares"], hc["PidsLimit"], hc["CpusetCpus"]) == (
            500_000_000, 512, 50, "0")

        assert docker.out("update", "--cpus", "1.5", "-m", "256m", "--memory-swap", "512m",
                          "--pids-limit", "30", "lim") == "lim"
        assert read("cpu", "cpu.cfs_quota_us") == "150000"
        assert read("memory", "memory.limit_in_bytes") == str(256 * MiB)  # raised past the
        assert read("memory", "memory.memsw.limit_in_bytes") == str(512 * MiB)  # old swap
        assert read("pids", "pids.max") == "30"
        hc = inspect(docker, "lim")["HostConfig"]
        assert (hc["NanoCpus"], hc["Memory"], hc["MemorySwap"], hc["PidsLimit"]) == (
            1_500_000_000, 256 * MiB, 512 * MiB, 30)
        # moby's update rule: memory alone may not pass the swap limit already set
        p = docker("update", "-m", "1g", "lim", check=False)
        assert p.returncode == 1 and "update the memoryswap at the same time" in p.stderr
    finally:
        docker("rm", "-f", "lim")
    assert leftover_groups(cid) == []


@needs_root
@overlay_only
def test_update_of_a_created_container_applies_at_start(docker: Docker) -> None:
    cid = docker.out("create", "--name", "later", "-m", "32m", "--cpu-period", "50000",
                     "--cpu-quota", "25000", "busybox", "sleep", "600")
    docker("update", "-m", "48m", "--memory-swap", "-1", "later")
    hc = inspect(docker, "later")["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"], hc["CpuPeriod"], hc["CpuQuota"]) == (
        48 * MiB, -1, 50000, 25000)
    docker("start", "later")
    try:
        groups = cgroup_dirs(int(inspect(docker, "later")["State"]["Pid"]))
        assert (groups["memory"] / "memory.limit_in_bytes").read_text() == f"{48 * MiB}\n"
        assert (groups["cpu"] / "cpu.cfs_period_us").read_text() == "50000\n"
        assert (groups["cpu"] / "cpu.cfs_quota_us").read_text() == "25000\n"
    finally:
        docker("rm", "-f", "later")
    assert leftover_groups(cid) == []


@needs_root
@overlay_only
def test_ulimit_is_set_before_the_command_runs(docker: Docker) -> None:
    out = docker.out("run", "--rm", "--ulimit", "nofile=100:200", "--ulimit", "core=0",
                     "busybox", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -c")
    assert out.split() == ["100", "200", "0"]


@needs_root
@overlay_only
@pytest.mark.parametrize(("argv", "message"), [
    (["-m", "3m"], "Minimum memory limit allowed is 6MB"),
    (["-m", "3x"], "invalid argument \"3x\" for \"-m, --memory\" flag: invalid size: '3x'"),
    (["--memory-swap", "64m"], "You should always set the Memory limit when using "
                               "Memoryswap limit"),
    (["-m", "64m", "--memory-swap", "32m"], "Minimum memoryswap limit should be larger "
                                            "than memory limit"),
    (["--cpus", "0.001"], "Range of CPUs is from 0.01 to"),
    (["--cpus", "half"], "failed to parse half as a rational number"),
    (["--cpus", "1", "--cpu-period", "50000"], "Conflicting options: Nano CPUs and CPU "
                                               "Period cannot both be set"),
    (["--cpu-quota", "500"], "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    (["--cpuset-cpus", "0-999"], "Requested CPUs are not available"),
    (["--ulimit", "nofiles=1"], "invalid ulimit type: nofiles"),
    (["--ulimit", "nofile=9:3"], "ulimit soft limit must be less than or equal to hard "
                                 "limit: 9 > 3"),
])
def test_bad_limits_are_refused_before_anything_is_made(engine: Engine, argv: list[str],
                                                        message: str) -> None:
    with (open(os.devnull, "rb") as stdin, open(os.devnull, "wb") as out,
          pytest.raises(EngineError, match=re.escape(message)) as e):
        execute(engine, ["create", *argv, "busybox", "true"], IO(stdin, out, out))
    assert e.value.exit_code == 125
    assert engine.containers.all() == []


@pytest.mark.parametrize(("text", "value"), [
    ("32m", 32 * MiB), ("1.5g", 3 * 512 * MiB), ("512k", 512 * 1024), ("64MiB", 64 * MiB),
    ("64mb", 64 * MiB), ("100", 100), ("8 M", 8 * MiB),
])
def test_sizes_are_read_as_the_docker_cli_reads_them(text: str, value: int) -> None:
    assert units.ram_in_bytes(text) == value


def test_cpus_are_exact_nano_cpus() -> None:
    assert units.nano_cpus("0.5") == 500_000_000 and units.nano_cpus("2") == 2 * 10**9
    with pytest.raises(ValueError, match="too precise"):
        units.nano_cpus("0.0000000001")


def test_cgroup_v2_values_follow_runc() -> None:
    """This host's limits are on v1; the v2 files are runc's conversions."""
    r = Resources(memory=64 * MiB, memory_swap=96 * MiB, nano_cpus=1_500_000_000,
                  cpu_shares=1024, pids_limit=-1)
    files = dict(kv for writes in limits.cgroup_files(r, 2).values() for kv in writes)
    assert files == {"memory.max": str(64 * MiB), "memory.swap.max": str(32 * MiB),
                     "cpu.max": "150000 100000", "cpu.weight": "39", "pids.max": "max"}
    assert limits.cpu_weight(2) == 1 and limits.cpu_weight(262144) == 10000
    cfs = limits.cgroup_files(Resources(cpu_period=50000, cpu_quota=25000), 2)
    assert cfs == {"cpu": [("cpu.max", "25000 50000")]}


@needs_root
def test_without_cgroups_memory_is_discarded_with_a_warning(nobody_python: Path) -> None:
    with kit.session(nobody_python, LAYERLAB_RUNTIME="rootless",
                     LAYERLAB_STORAGE_DRIVER="vfs") as n:
        try:
            n.docker("pull", "busybox")
            p = n.docker("run", "--name", "free", "-m", "32m", "--pids-limit", "10",
                         "busybox", "echo", "ran")
            assert p.stdout.strip() == "ran"
            warning = next(line for line in p.stderr.splitlines() if "WARNING" in line)
            assert "--memory, --pids-limit cannot apply here" in warning
            hc = json.loads(n.docker("inspect", "free").stdout)[0]["HostConfig"]
            assert (hc["Memory"], hc["PidsLimit"]) == (0, None)  # discarded, as moby does
            n.docker("run", "-d", "--name", "up", "busybox", "sh", "-c", "while :; do :; done")
            p = n.docker("stats", "--no-stream", "--format", "json", "up")
            shown = json.loads(p.stdout)
            assert (shown["Name"], shown["PIDs"]) == ("up", "1")
            assert float(shown["CPUPerc"].rstrip("%")) > 0  # from /proc: it spun throughout
            assert not shown["MemUsage"].startswith("0B")  # its resident memory
            assert "rootless mode puts containers in no cgroups: CPU and memory are summed " \
                   "from /proc" in p.stderr
            info = n.docker("info").stdout
            assert "Cgroup Driver: none" in info and "WARNING: No resource limits" in info
        finally:
            n.docker("rm", "-f", "free", "up", check=False)


@needs_root
@overlay_only
def test_update_below_what_the_container_uses_is_refused(docker: Docker) -> None:
    """No swap to push to: the kernel cannot shrink the group under its resident memory
    (EBUSY), and the record keeps the old limit."""
    if any(line.strip() for line in Path("/proc/swaps").read_text().splitlines()[1:]):
        pytest.skip("this host has swap: the kernel would swap the memory out instead")
    grow = "x=0123456789abcdef; i=0; while [ $i -lt 20 ]; do x=$x$x; i=$((i+1)); done; " \
           "echo ready; sleep 600; echo $x"  # 16 MiB held by the shell (not exec'd away)
    docker("run", "-d", "--name", "held", "-m", "64m", "busybox", "sh", "-c", grow)
    follow = subprocess.Popen([sys.executable, "-m", "layerlab.engine.cli", "logs", "-f",
                               "held"], stdout=subprocess.PIPE, env=docker.env)
    try:
        assert follow.stdout is not None and follow.stdout.readline() == b"ready\n"
    finally:
        follow.kill()
        follow.wait()
    try:
        p = docker("update", "-m", "8m", "--memory-swap", "8m", "held", check=False)
        assert p.returncode == 1 and "Cannot update container" in p.stderr
        assert "memory.limit_in_bytes: write '8388608': Device or resource busy" in p.stderr
        assert "Traceback" not in p.stderr
        assert inspect(docker, "held")["HostConfig"]["Memory"] == 64 * MiB
    finally:
        docker("rm", "-f", "held")
