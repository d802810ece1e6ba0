"""Containers are confined as Docker confines them, through the real CLI: Docker's default
capability set, masked and read-only kernel paths, seccomp; ``exec`` lands inside the
container even when LayerLab itself runs in a chroot, and its detached processes belong
to the container."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Docker, needs_root

pytestmark = needs_root

DOCKER_DEFAULT_CAPS = "00000000a80425fb"


def caps(text: str) -> dict[str, str]:
    """The Cap* lines of a /proc/<pid>/status."""
    return dict(line.split(":\t") for line in text.splitlines() if line.startswith("Cap"))


def test_default_capabilities_are_dockers(docker: Docker) -> None:
    root = caps(docker.out("run", "--rm", "busybox", "cat", "/proc/self/status"))
    assert root["CapBnd"] == root["CapPrm"] == root["CapEff"] == DOCKER_DEFAULT_CAPS
    assert root["CapInh"] == root["CapAmb"] == "0000000000000000"
    user = caps(docker.out("run", "--rm", "-u", "1000", "busybox", "cat", "/proc/self/status"))
    assert user["CapBnd"] == DOCKER_DEFAULT_CAPS and user["CapEff"] == "0000000000000000"
    docker("run", "-d", "--name", "capped", "busybox", "sleep", "30")
    in_exec = caps(docker.out("exec", "capped", "cat", "/proc/self/status"))
    assert in_exec["CapBnd"] == in_exec["CapEff"] == DOCKER_DEFAULT_CAPS
    docker("rm", "-f", "capped")


def test_container_root_cannot_mount_or_write_kernel_knobs(docker: Docker) -> None:
    p = docker("run", "--rm", "busybox", "sh", "-c", "mkdir /m && mount -t tmpfs none /m",
               check=False)
    assert p.returncode != 0 and "denied" in p.stderr.lower()
    p = docker("run", "--rm", "busybox", "sh", "-c",
               "echo 1 > /proc/sys/kernel/ns_last_pid", check=False)
    assert p.returncode != 0 and "read-only file system" in p.stderr.lower()
    p = docker("run", "--rm", "busybox", "sh", "-c", "echo x > /sys/kernel/profiling",
               check=False)
    assert p.returncode != 0 and "read-only file system" in p.stderr.lower()
    masked = docker.out("run", "--rm", "busybox", "sh", "-c",
                        "wc -c < /proc/interrupts; ls /proc/acpi 2>/dev/null | wc -l")
    assert masked.split() == ["0", "0"]
    assert os.path.getsize("/proc/interrupts") or Path("/proc/interrupts").read_text()


def test_cap_add_and_privileged_open_it_up(docker: Docker) -> None:
    docker("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c",
           "mkdir /m && mount -t tmpfs none /m")
    privileged = caps(docker.out("run", "--rm", "--privileged", "busybox", "cat",
                                 "/proc/self/status"))
    with open("/proc/self/status") as f:
        assert privileged["CapBnd"] == caps(f.read())["CapBnd"]
    dropped = caps(docker.out("run", "--rm", "--cap-drop", "ALL", "--cap-add", "CHOWN",
                              "busybox", "cat", "/proc/self/status"))
    assert dropped["CapEff"] == "0000000000000001"
    nnp = docker.out("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep",
                     "NoNewPrivs", "/proc/self/status")
    assert nnp.split() == ["NoNewPrivs:", "1"]


def test_bad_capability_fails_create_with_nothing_made(docker: Docker) -> None:
    p = docker("run", "--rm", "--cap-add", "FOO", "busybox", "true", check=False)
    assert p.returncode == 125
    assert 'invalid CapAdd: unknown capability: "CAP_FOO"' in p.stderr
    assert "Traceback" not in p.stderr
    assert docker.out("ps", "-aq") == ""


def test_exec_lands_in_the_container_when_layerlab_runs_in_a_chroot(
        docker: Docker, tmp_path: Path) -> None:
    """nsenter --root's rule: an engine in a chroot (CI sandboxes, build roots) makes the
    mount namespace's root differ from the container's; exec must still be inside."""
    jail = tmp_path / "jail"
    jail.mkdir()
    # no warm CLI server: one started in this private mount namespace would keep it (and
    # its bind of /) alive after the test
    env = {**docker.env, "PYTHONPATH": os.pathsep.join(sys.path), "LAYERLAB_CLI_SERVER": "0"}
    cli = f"chroot {jail} {sys.executable} -m layerlab.engine.cli"
    script = f"""set -e
mount --make-rprivate /
mount --rbind / {jail}
{cli} run -d --name jailed busybox sh -c 'echo inside > /marker; sleep 30'
for i in $(seq 100); do {cli} exec jailed test -f /marker && break; sleep 0.05; done
{cli} exec jailed cat /marker
{cli} exec jailed sh -c 'test -d /bin && ! test -e /work'
{cli} rm -f jailed
"""
    p = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split()[1:] == ["inside", "jailed"]


def test_detached_exec_belongs_to_the_container(docker: Docker) -> None:
    docker("run", "-d", "--name", "adopter", "busybox", "sleep", "30")
    docker("exec", "-d", "adopter", "sleep", "29")
    table = docker.out("exec", "adopter", "ps", "-o", "pid,ppid,args")
    row = next(line.split() for line in table.splitlines() if "sleep 29" in line)
    assert row[1] == "1", table  # adopted by the container's init, seen from inside
    top = docker.out("top", "adopter")
    assert "sleep 29" in top  # in the container's cgroup
    docker("rm", "-f", "adopter")
