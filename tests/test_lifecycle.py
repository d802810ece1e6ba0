"""S3, S5–S8, S10–S13, S17: the container lifecycle through the real CLI, on both drivers,
as root and (marked ``unprivileged``) as the Binder user in rootless and PRoot mode."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import Docker, needs_root, without_notices

pytestmark = needs_root
UNPRIVILEGED = pytest.mark.unprivileged("rootless", "proot")
PROOT_NOTICE = "notice: PRoot mode: the command is not PID 1"


def state(docker: Docker, name: str) -> dict:
    return json.loads(docker.out("inspect", "--type", "container", name))[0]["State"]


@UNPRIVILEGED
def test_s3_run_sees_own_pid_hostname_and_rootfs(docker: Docker, isolation: str) -> None:
    host = os.uname().nodename
    p = docker("run", "--rm", "--network", "none", "--hostname", "box", "busybox", "sh", "-c",
               "echo pid=$$; hostname; ls /; echo $(tr '\\0' ' ' < /proc/1/cmdline); "
               "ip link 2>/dev/null | grep -c '^[0-9]'")
    lines = p.stdout.strip().splitlines()
    if isolation == "proot":  # no namespaces: what it cannot show, it says
        assert PROOT_NOTICE in p.stderr
        assert lines[0] != "pid=1" and lines[1] == host
        assert "bin" in lines and "etc" in lines
        info = json.loads(docker.out("info", "--format", "{{json .}}"))
        assert any("not PID 1" in note for note in info["IsolationLimits"])
        return
    assert lines[0] == "pid=1"
    assert lines[1] == "box"
    assert "bin" in lines and "etc" in lines and "proc" in lines
    assert os.uname().nodename == host  # the host's hostname is untouched (UTS namespace)
    assert lines[-2].startswith("sh -c")
    assert lines[-1] == "1"  # only lo in its own network namespace


@pytest.mark.unprivileged("rootless")
def test_s3_namespaces_differ_from_host(docker: Docker) -> None:
    cid = docker.out("run", "-d", "busybox", "sleep", "30")
    pid = state(docker, cid)["Pid"]
    for ns in ("pid", "mnt", "uts", "ipc", "net"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
    docker("rm", "-f", cid)


@UNPRIVILEGED
def test_s5_create_runs_nothing(docker: Docker) -> None:
    cid = docker.out("create", "--name", "c1", "busybox", "echo", "hi")
    assert len(cid) == 64
    s = state(docker, "c1")
    assert s["Status"] == "created" and s["Pid"] == 0
    assert docker.out("ps", "-q") == ""
    assert docker.out("ps", "-a", "-q") == cid[:12]
    assert "Created" in docker.out("ps", "-a")
    assert docker.out("logs", "c1") == ""


def test_s6_start_once_then_again_starts_nothing_new(docker: Docker) -> None:
    docker("create", "--name", "c2", "busybox", "sleep", "30")
    assert docker.out("start", "c2") == "c2"
    pid = state(docker, "c2")["Pid"]
    assert pid > 0
    assert docker.out("start", "c2") == "c2"
    assert state(docker, "c2")["Pid"] == pid
    docker("rm", "-f", "c2")


@UNPRIVILEGED
def test_s6_start_attached_shows_output_and_exit_code(docker: Docker) -> None:
    docker("create", "--name", "c3", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    p = docker("start", "-a", "c3", check=False)
    assert p.returncode == 3
    assert p.stdout == "out\n" and without_notices(p.stderr) == "err\n"
    assert state(docker, "c3")["ExitCode"] == 3


@UNPRIVILEGED
def test_s7_run_flags(docker: Docker) -> None:
    out = docker.out("run", "--rm", "-e", "GREETING=hej", "-w", "/tmp/work", "-u", "nobody",
                     "busybox", "sh", "-c", 'echo "$GREETING $(pwd) $(id -u) $HOME"')
    assert out == "hej /tmp/work 65534 /home"
    assert docker.out("ps", "-a", "-q") == ""  # --rm removed it


@UNPRIVILEGED
def test_s7_run_stdin_with_i(docker: Docker) -> None:
    p = docker("run", "--rm", "-i", "busybox", "tr", "a-z", "A-Z", input=b"hello\n")
    assert p.stdout == "HELLO\n"


@UNPRIVILEGED
def test_s7_run_exit_codes(docker: Docker) -> None:
    assert docker("run", "--rm", "busybox", "sh", "-c", "exit 7", check=False).returncode == 7
    p = docker("run", "--rm", "busybox", "nosuchcmd", check=False)
    assert p.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in p.stderr
    p = docker("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert p.returncode == 126
    p = docker("run", "--rm", "-u", "ghost", "busybox", "true", check=False)
    assert p.returncode == 126 and "unable to find user ghost" in p.stderr
    p = docker("run", "--rm", "nosuchimage", check=False)
    assert p.returncode == 125 and "nosuchimage" in p.stderr


@UNPRIVILEGED
def test_s7_run_detached_name_and_logs(docker: Docker) -> None:
    cid = docker.out("run", "-d", "--name", "web", "busybox", "sh", "-c",
                     "echo ready; echo oops >&2")
    assert docker.out("wait", "web") == "0"
    p = docker("logs", "web")
    assert p.stdout == "ready\n" and p.stderr == "oops\n"
    stamped = docker.out("logs", "-t", "web")
    assert stamped.startswith("20") and stamped.endswith("ready")
    assert docker.out("ps", "-a", "--format", "{{.Names}} {{.State}}") == "web exited"
    assert cid.startswith(docker.out("ps", "-a", "-q"))


def test_s7_name_conflict(docker: Docker) -> None:
    docker("create", "--name", "dup", "busybox")
    p = docker("create", "--name", "dup", "busybox", check=False)
    assert p.returncode == 125
    assert 'The container name "/dup" is already in use' in p.stderr


@UNPRIVILEGED
def test_s8_ps_lists_running_and_paused_ps_a_lists_all(docker: Docker) -> None:
    docker("create", "--name", "made", "busybox")
    docker("run", "--name", "done", "busybox", "true")
    # they outlive the test whatever the machine's load (rm -f ends them)
    docker("run", "-d", "--name", "up", "busybox", "sleep", "600")
    docker("run", "-d", "--name", "frozen", "busybox", "sleep", "600")
    docker("pause", "frozen")
    assert sorted(docker.out("ps", "--format", "{{.Names}}").split()) == ["frozen", "up"]
    assert sorted(docker.out("ps", "-a", "--format", "{{.Names}}").split()) == [
        "done", "frozen", "made", "up"]
    table = docker.out("ps", "-a")
    assert table.splitlines()[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED",
                                             "STATUS", "PORTS", "NAMES"]
    assert "(Paused)" in table and "Exited (0)" in table and "Created" in table
    assert docker.out("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}") == "done"
    docker("unpause", "frozen")
    docker("rm", "-f", "up", "frozen")


@UNPRIVILEGED
def test_s10_stop_sigterm_then_grace_then_sigkill(docker: Docker) -> None:
    docker("run", "-d", "--name", "polite", "busybox", "sh", "-c",
           "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done")
    docker("stop", "polite")
    assert state(docker, "polite")["ExitCode"] == 0
    assert docker.out("logs", "polite") == "got TERM"
    # PID 1 without a handler ignores SIGTERM: stop must SIGKILL after the grace period.
    docker("run", "-d", "--name", "stubborn", "busybox", "sh", "-c", "sleep 1000 & wait")
    docker("stop", "-t", "1", "stubborn")
    s = state(docker, "stubborn")
    assert s["Status"] == "exited" and s["ExitCode"] == 137


@UNPRIVILEGED
def test_s11_kill_default_and_signal(docker: Docker) -> None:
    docker("run", "-d", "--name", "kk", "busybox", "sh", "-c",
           "trap 'echo usr1; exit 5' USR1; while true; do sleep 0.1; done")
    docker("kill", "-s", "USR1", "kk")
    assert docker.out("wait", "kk") == "5"
    docker("start", "kk")
    docker("kill", "kk")
    assert state(docker, "kk")["ExitCode"] == 137
    p = docker("kill", "kk", check=False)
    assert p.returncode == 1 and "is not running" in p.stderr


@UNPRIVILEGED
def test_s12_pause_freezes_without_signal(docker: Docker, tmp_path, isolation) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "pp", "busybox", "sh", "-c",
           "trap 'echo SIGNALLED' TERM CONT STOP TSTP; i=0; while true; do i=$((i+1)); "
           "echo $i > /tmp/n; sleep 0.05; done")
    paused = docker("pause", "pp")
    s = state(docker, "pp")
    assert s["Status"] == "paused" and s["Paused"] and s["Running"]
    how = json.loads(docker.out("inspect", "--format", "{{json .Isolation}}", "pp"))
    if isolation != "root":  # no freezer: how it was paused is said, on the command too
        assert how["Pause"] == {"rootless": "sigstop", "proot": "tracer"}[isolation]
        assert "notice: pause:" in paused.stderr
        assert any(n.startswith("pause:") for n in how["Notes"])
    docker("export", "pp", "-o", str(tmp_path / "paused.tar"))  # export works while paused
    assert (tmp_path / "paused.tar").stat().st_size > 0
    pid = s["Pid"]
    with open(f"/proc/{pid}/status") as f:
        assert "R (running)" not in f.read()
    p = docker("exec", "pp", "true", check=False)
    assert p.returncode != 0 and "paused" in p.stderr
    docker("unpause", "pp")
    assert state(docker, "pp")["Status"] == "running"
    # the loop has gone round again (so a trap for a signal it got would have run)
    docker("exec", "pp", "sh", "-c",
           'n=$(cat /tmp/n); while [ "$(cat /tmp/n)" = "$n" ]; do sleep 0.05; done')
    signalled = "SIGNALLED" in docker.out("logs", "pp")
    docker("rm", "-f", "pp")
    assert signalled == (isolation == "rootless")  # only SIGSTOP's SIGCONT is seen, as said


@UNPRIVILEGED
def test_s13_rm_refuses_running_unless_forced(docker: Docker, engine) -> None:  # type: ignore[no-untyped-def]
    cid = docker.out("run", "-d", "--name", "rr", "busybox", "sleep", "30")
    p = docker("rm", "rr", check=False)
    assert p.returncode == 1
    assert 'cannot remove container "/rr": container is running' in p.stderr
    rw = engine.driver().dir(cid)
    assert rw.exists()
    assert docker.out("rm", "-f", "rr") == "rr"
    assert not rw.exists()  # the RW layer went with it
    assert docker.out("ps", "-a", "-q") == ""
    p = docker("rm", "rr", check=False)
    assert p.returncode == 1 and "No such container: rr" in p.stderr


@pytest.mark.unprivileged("rootless")
def test_s17_exec_joins_namespaces(docker: Docker) -> None:
    docker("run", "-d", "--name", "xx", "--hostname", "exechost", "busybox", "sleep", "30")
    out = docker.out("exec", "-e", "A=1", "-w", "/etc", "xx", "sh", "-c",
                     'echo $A $(pwd) $(hostname); ps -o pid,comm | grep -c sleep')
    assert out.splitlines() == ["1 /etc exechost", "1"]
    docker("exec", "xx", "sh", "-c", "echo made > /tmp/by-exec")
    assert "A /tmp/by-exec" in docker.out("diff", "xx")
    p = docker("exec", "-i", "xx", "cat", input=b"piped\n")
    assert p.stdout == "piped\n"
    assert docker("exec", "xx", "sh", "-c", "exit 4", check=False).returncode == 4
    p = docker("exec", "xx", "nope", check=False)
    assert p.returncode == 127 and "executable file not found" in p.stderr
    docker("rm", "-f", "xx")
    p = docker("exec", "xx", "true", check=False)
    assert p.returncode == 1


def test_containers_outlive_the_cli(docker: Docker) -> None:
    docker("run", "-d", "--name", "bg", "busybox", "sh", "-c", "sleep 30")
    # the CLI process that started it is gone; the container is still running
    assert docker.out("ps", "--format", "{{.Names}}") == "bg"
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert "sleep 30" in out
    docker("rm", "-f", "bg")


@UNPRIVILEGED
def test_top_lists_container_processes(docker: Docker) -> None:
    docker("run", "-d", "--name", "tt", "busybox", "sh", "-c", "sleep 31 & sleep 32")
    out = docker.out("top", "tt")
    assert "sleep 31" in out and "sleep 32" in out
    docker("rm", "-f", "tt")


@pytest.mark.parametrize("alias", [["container", "ls", "-a"], ["container", "list", "-a"]])
def test_management_aliases(docker: Docker, alias: list[str]) -> None:
    docker("create", "--name", "al", "busybox")
    assert "al" in docker.out(*alias)


@UNPRIVILEGED
def test_s17_exec_detached_returns_at_once(docker: Docker) -> None:
    docker("run", "-d", "--name", "xd", "busybox", "sleep", "30")
    # The detached process waits for a go file only this test creates, so exec -d
    # returning at all (the fixture's timeout would fail a blocking exec) proves it did
    # not wait, with no timing window.
    docker("exec", "-d", "xd", "sh", "-c",
           "while [ ! -f /tmp/go ]; do sleep 0.05; done; echo late > /tmp/late")
    assert docker("exec", "xd", "test", "-f", "/tmp/late", check=False).returncode == 1
    docker("exec", "xd", "touch", "/tmp/go")
    docker("exec", "xd", "sh", "-c", "while [ ! -f /tmp/late ]; do sleep 0.05; done")
    assert docker.out("exec", "xd", "cat", "/tmp/late") == "late"
    docker("rm", "-f", "xd")
