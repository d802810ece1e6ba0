"""Real-kernel tests for the runtime's namespace syscalls and cgroup freezer.

They run against the live kernel because mocks cannot show that a mount stays inside its
namespace or that a frozen process really stops. Everything risky happens in forked
children whose namespaces die with them; fixtures kill and reap every child and remove
every cgroup even when a test fails.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from layerlab.engine.linux import syscalls
from layerlab.engine.runtime import cgroups
from layerlab.engine.runtime.cgroups import Cgroup, CgroupError

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="namespaces, mounts and cgroups need root")

NAMESPACES = ("uts", "ipc", "net", "mnt", "pid")


def _fork(body: Callable[[], object], err_fd: int) -> int:
    """Run ``body`` in a child that exits 0 on success or writes its traceback to ``err_fd``."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            body()
            code = 0
        except BaseException:
            os.write(err_fd, traceback.format_exc().encode())
        finally:
            os._exit(code)
    return pid


def _ns_inode(pid: int | str, ns: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{ns}").st_ino


class Children:
    """Processes and pipes owned by one test; ``close`` leaves none behind."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self.fds: set[int] = set()
        self.err_r, self.err_w = self.pipe()
        os.set_blocking(self.err_r, False)

    def pipe(self) -> tuple[int, int]:
        r, w = os.pipe()
        self.fds.update((r, w))
        return r, w

    def close_fd(self, fd: int) -> None:
        self.fds.discard(fd)
        os.close(fd)

    def fork(self, body: Callable[[], object]) -> int:
        pid = _fork(body, self.err_w)
        self.pids.add(pid)
        return pid

    def spawn(self, argv: list[str]) -> int:
        pid = os.posix_spawnp(argv[0], argv, os.environ)
        self.pids.add(pid)
        return pid

    def errors(self) -> str:
        chunks = []
        while True:
            try:
                chunk = os.read(self.err_r, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()

    def join(self, pid: int, timeout: float = 10.0) -> int:
        """Wait (bounded, via pidfd) for ``pid`` and return its exit code (-signal if killed)."""
        pidfd = os.pidfd_open(pid)
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout)
        finally:
            os.close(pidfd)
        assert ready, f"child {pid} still running after {timeout}s"
        _, status = os.waitpid(pid, 0)
        self.pids.discard(pid)
        return os.waitstatus_to_exitcode(status)

    def expect(self, fd: int, pid: int) -> None:
        """Block until child ``pid`` writes a byte to ``fd``; fail with its traceback if it dies."""
        if not os.read(fd, 1):
            pytest.fail(f"child exited with {self.join(pid)} before signalling:\n{self.errors()}")

    def reap(self) -> None:
        for pid in list(self.pids):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            self.pids.discard(pid)

    def close(self) -> None:
        self.reap()
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    try:
        yield kids
    finally:
        kids.close()


# --- namespaces and mounts -------------------------------------------------------------

def test_unshare_isolates_pid_mount_uts_ipc_net(children: Children, tmp_path: Path) -> None:
    host_name = socket.gethostname()
    host_ns = {ns: _ns_inode("self", ns) for ns in NAMESPACES}
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    ready_r, ready_w = children.pipe()
    go_r, go_w = children.pipe()

    def grandchild() -> None:
        syscalls.prctl_set_pdeathsig(signal.SIGKILL)
        assert os.getpid() == 1
        assert socket.gethostname() == "layerlab-ns"
        assert (mnt / "marker").read_text() == "inside"
        with open("/proc/self/net/dev") as f:
            assert [line.split(":")[0].strip() for line in f.readlines()[2:]] == ["lo"]
        for ns in NAMESPACES:
            assert _ns_inode("self", ns) != host_ns[ns], ns

    def child() -> None:
        syscalls.unshare(syscalls.CLONE_NEWPID | syscalls.CLONE_NEWNS | syscalls.CLONE_NEWUTS
                         | syscalls.CLONE_NEWIPC | syscalls.CLONE_NEWNET)
        # Without this a shared / would propagate the tmpfs back to the host.
        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
        syscalls.sethostname("layerlab-ns")
        syscalls.mount("tmpfs", mnt, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NODEV, "size=1m")
        (mnt / "marker").write_text("inside")
        _, status = os.waitpid(_fork(grandchild, children.err_w), 0)
        assert os.waitstatus_to_exitcode(status) == 0, "grandchild checks failed"
        os.write(ready_w, b"1")
        os.read(go_r, 1)

    pid = children.fork(child)
    children.close_fd(ready_w)
    children.expect(ready_r, pid)

    assert socket.gethostname() == host_name
    assert not os.path.ismount(mnt)
    assert not (mnt / "marker").exists()
    with open("/proc/self/mountinfo") as f:
        assert str(mnt) not in f.read()
    # unshare(CLONE_NEWPID) only applies to the caller's future children.
    for ns in (*NAMESPACES[:-1], "pid_for_children"):
        assert _ns_inode(pid, ns) != host_ns[ns.removesuffix("_for_children")], ns
    os.write(go_w, b"1")
    assert children.join(pid) == 0, children.errors()


def test_setns_joins_another_process_namespaces(children: Children) -> None:
    ready_r, ready_w = children.pipe()
    go_r, go_w = children.pipe()

    def target() -> None:
        syscalls.unshare(syscalls.CLONE_NEWUTS | syscalls.CLONE_NEWNET)
        syscalls.sethostname("layerlab-target")
        os.write(ready_w, b"1")
        os.read(go_r, 1)

    target_pid = children.fork(target)
    children.close_fd(ready_w)
    children.expect(ready_r, target_pid)

    def joiner() -> None:
        uts = os.open(f"/proc/{target_pid}/ns/uts", os.O_RDONLY)
        net = os.open(f"/proc/{target_pid}/ns/net", os.O_RDONLY)
        with pytest.raises(OSError, match="setns") as wrong_type:
            syscalls.setns(uts, syscalls.CLONE_NEWNET)
        assert wrong_type.value.errno == 22
        syscalls.setns(uts, syscalls.CLONE_NEWUTS)
        syscalls.setns(net)
        assert socket.gethostname() == "layerlab-target"
        for ns in ("uts", "net"):
            assert _ns_inode("self", ns) == _ns_inode(target_pid, ns)

    assert children.join(children.fork(joiner)) == 0, children.errors()
    assert socket.gethostname() != "layerlab-target"
    os.write(go_w, b"1")
    assert children.join(target_pid) == 0, children.errors()


def test_pivot_root_into_busybox(children: Children, tmp_path: Path) -> None:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed")
    ldd = shutil.which("ldd")
    if ldd and subprocess.run([ldd, busybox], capture_output=True).returncode == 0:
        pytest.skip("busybox is dynamically linked; the new root would need its libraries")
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    out_r, out_w = children.pipe()

    def child() -> None:
        syscalls.unshare(syscalls.CLONE_NEWNS)
        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
        (root / "oldroot").mkdir()
        with pytest.raises(OSError, match="pivot_root") as not_a_mount:
            syscalls.pivot_root(root, root / "oldroot")
        assert not_a_mount.value.filename == str(root)
        syscalls.mount(root, root, None, syscalls.MS_BIND | syscalls.MS_REC)
        syscalls.pivot_root(root, root / "oldroot")
        os.chdir("/")
        syscalls.umount2("/oldroot", syscalls.MNT_DETACH)
        os.rmdir("/oldroot")
        os.dup2(out_w, 1)
        os.execv("/bin/busybox", ["busybox", "ls", "/"])

    pid = children.fork(child)
    children.close_fd(out_w)
    output = b""
    while chunk := os.read(out_r, 4096):
        output += chunk
    assert children.join(pid) == 0, children.errors()
    assert output.split() == [b"bin"]
    assert len(os.listdir("/")) > 1


def test_errors_name_the_call_and_path(tmp_path: Path) -> None:
    with pytest.raises(OSError) as err:
        syscalls.umount2(tmp_path, 0)
    assert err.value.errno == 22
    assert "umount2" in str(err.value)
    assert str(tmp_path) in str(err.value)


# --- cgroups ---------------------------------------------------------------------------

@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def cgroup(request: pytest.FixtureRequest, children: Children,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Cgroup]:
    """A fresh cgroup of the requested version under a unique root, torn down completely."""
    version = request.param
    if Cgroup.probe(version) is None:
        pytest.skip(f"no writable cgroup v{version} freezer on this host")
    monkeypatch.setenv("LAYERLAB_CGROUP_ROOT", f"layerlab-test-{uuid.uuid4().hex[:12]}")
    cg = Cgroup.create("ctr", version=version)
    try:
        yield cg
    finally:
        try:
            if cg.path.exists():
                cg.thaw()
                cg.kill_all(signal.SIGKILL)
            children.reap()
            cg.remove()
        finally:
            cg.path.parent.rmdir()


def _drain(fd: int) -> int:
    """Read everything currently buffered in non-blocking ``fd``; return the byte count."""
    total = 0
    while True:
        try:
            total += len(os.read(fd, 65536))
        except BlockingIOError:
            return total


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/status") as f:
        return next(line.split()[1] for line in f if line.startswith("State:"))


def test_probe_prefers_v1_freezer_and_names_a_cgroup_mount() -> None:
    described = Cgroup.probe()
    if described is None:
        pytest.skip("no writable cgroup freezer on this host")
    assert described == (Cgroup.probe(1) or Cgroup.probe(2))
    version, _, mount = described.partition(":")
    fstype = "cgroup2" if version == "v2" else "cgroup"
    with open("/proc/self/mountinfo") as f:
        assert any(line.split()[4] == mount and line.split(" - ")[1].split()[0] == fstype
                   for line in f)


def test_probe_without_privileges_finds_nothing(children: Children) -> None:
    def unprivileged() -> None:
        cgroups._hierarchy.cache_clear()
        os.setgid(65534)
        os.setuid(65534)
        assert Cgroup.probe() is None
        with pytest.raises(CgroupError):
            Cgroup.create("nope")

    assert children.join(children.fork(unprivileged)) == 0, children.errors()


def test_freeze_thaw_kill_remove(cgroup: Cgroup, children: Children) -> None:
    assert Cgroup.create("ctr", version=cgroup.version) == cgroup
    assert Cgroup.open("ctr", version=cgroup.version) == cgroup
    assert Cgroup.open("missing", version=cgroup.version) is None

    count_r, count_w = children.pipe()
    os.set_blocking(count_r, False)

    def counter() -> None:
        while True:
            os.write(count_w, b".")

    ticker = children.fork(counter)
    sleeper = children.spawn(["sleep", "1000"])
    cgroup.add(ticker)
    cgroup.add(sleeper)
    assert cgroup.pids() == sorted([ticker, sleeper])
    assert select.select([count_r], [], [], 5)[0], "counter never ran"

    cgroup.freeze()
    assert cgroup.frozen()
    # v1 reports frozen tasks as D, v2 as S; neither may still be running.
    assert _state(ticker) in "DS"
    assert _state(sleeper) in "DS"
    _drain(count_r)
    assert select.select([count_r], [], [], 0.2)[0] == [], "counter progressed while frozen"

    cgroup.thaw()
    assert not cgroup.frozen()
    assert select.select([count_r], [], [], 5)[0], "counter did not resume after thaw"
    assert _drain(count_r) > 0

    cgroup.kill_all(signal.SIGKILL)
    assert children.join(ticker) == -signal.SIGKILL
    assert children.join(sleeper) == -signal.SIGKILL
    assert cgroup.pids() == []

    cgroup.remove()
    assert not cgroup.path.exists()
    cgroup.remove()
    assert Cgroup.open("ctr", version=cgroup.version) is None


def test_kill_all_reaches_frozen_processes(cgroup: Cgroup, children: Children) -> None:
    sleeper = children.spawn(["sleep", "1000"])
    cgroup.add(sleeper)
    cgroup.freeze()
    cgroup.kill_all(signal.SIGKILL)
    assert children.join(sleeper) == -signal.SIGKILL


def test_kill_all_sends_other_signals(cgroup: Cgroup, children: Children) -> None:
    sleeper = children.spawn(["sleep", "1000"])
    cgroup.add(sleeper)
    cgroup.kill_all(signal.SIGTERM)
    assert children.join(sleeper) == -signal.SIGTERM


def test_remove_refuses_live_processes(cgroup: Cgroup, children: Children) -> None:
    cgroup.add(children.spawn(["sleep", "1000"]))
    with pytest.raises(CgroupError, match="processes"):
        cgroup.remove()
    assert cgroup.path.is_dir()
