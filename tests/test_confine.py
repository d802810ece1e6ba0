"""Confinement on the real kernel: capabilities, masked and read-only paths, seccomp, devices.

Each test starts a real container the way the engine's init does (new pid/mnt/uts/ipc/net
namespaces, ``enter_rootfs`` over a busybox rootfs, pivot_root), applies a confinement
plan and execs busybox; the assertions read what the container itself reports. Every
script first checks a marker file that exists only in the test's rootfs, so nothing
destructive can run on the host if the namespaces or pivot_root did not happen. All
mounts live in the container's mount namespace, which dies with it; every process is
killed and reaped and the devices cgroup removed in ``finally``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import shutil
import signal
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from layerlab.engine.errors import InvalidArgument, Unsupported
from layerlab.engine.linux import syscalls as sc
from layerlab.engine.runtime import capabilities as caps
from layerlab.engine.runtime import confine, devices, seccomp, users
from layerlab.engine.runtime.cgroups import CgroupError
from layerlab.engine.runtime.confine import Confinement, Plan
from layerlab.engine.runtime.rootfs import enter_rootfs
from layerlab.engine.runtime.spec import ContainerSpec, ProcessSpec
from layerlab.engine.transfer import bootstrap

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="namespaces, mounts and capabilities need root")

DOCKER_MASK = "00000000a80425fb"
NAMESPACES = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWNET
BOUND = 60.0  # a safety bound against a hung container, never a synchronisation


# --- a container, as the engine's init builds one -----------------------------------------

@dataclass
class Box:
    rootfs: Path
    marker: str  # the file name that proves a script runs inside this rootfs


@pytest.fixture
def box(tmp_path: Path) -> Box:
    """A busybox rootfs (bin/busybox plus one symlink per applet) with the bootstrap
    image's passwd and group, and a marker file no host has."""
    root = tmp_path / "rootfs"
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "mnt", "root"):
        (root / d).mkdir(parents=True)
    busybox = bootstrap.find_busybox()
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in bootstrap.applets(busybox):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text(bootstrap.PASSWD)
    (root / "etc" / "group").write_text(bootstrap.GROUP)
    marker = f"confine-marker-{uuid.uuid4().hex}"
    assert not Path("/", marker).exists()
    (root / marker).write_text("inside\n")
    return Box(root, marker)


@dataclass
class Ran:
    code: int
    out: str
    probe: str

    def values(self) -> dict[str, str]:
        """``key=value`` lines of the output."""
        return dict(line.split("=", 1) for line in self.out.splitlines() if "=" in line)


def _init(spec: ContainerSpec, plan: Plan, user: str, script: str,
          probe: Callable[[], str] | None, out_w: int, probe_w: int) -> None:
    """The container's PID 1: the engine's order (namespaces, rootfs, mounts, user, exec)."""
    code = 120
    try:
        sc.unshare(NAMESPACES)
        enter_rootfs(spec)
        confine.apply_mounts(plan)
        confine.apply_process(plan, users.resolve(user))
        if probe is not None:
            os.write(probe_w, probe().encode())
        os.close(probe_w)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.execve("/bin/sh", ["sh", "-c", script], {"PATH": "/bin"})
    except BaseException:
        with suppress(OSError):
            os.write(out_w, traceback.format_exc().encode())
    finally:
        os._exit(code)


def _read_bounded(fd: int) -> bytes:
    data = b""
    while True:
        ready, _, _ = select.select([fd], [], [], BOUND)
        assert ready, f"container still running after {BOUND}s"
        chunk = os.read(fd, 65536)
        if not chunk:
            return data
        data += chunk


def run(box: Box, plan: Plan, script: str, user: str = "",
        probe: Callable[[], str] | None = None,
        group: devices.DeviceCgroup | None = None) -> Ran:
    """Run ``script`` with busybox sh as the container's PID 1 under ``plan``; the script
    is refused (exit 99) unless the marker proves it runs in ``box``."""
    guarded = f'[ -f /{box.marker} ] || {{ echo "NOT INSIDE THE CONTAINER"; exit 99; }}\n{script}'
    spec = ContainerSpec(id="confine-test", rootfs=str(box.rootfs), hostname="confined",
                         process=ProcessSpec(args=["sh"], env=[]),
                         state_dir=str(box.rootfs.parent), cgroup=False)
    out_r, out_w = os.pipe()
    probe_r, probe_w = os.pipe()
    pid_r, pid_w = os.pipe()
    child = init = 0
    try:
        child = os.fork()
        if child == 0:  # the monitor's part: a new pid namespace for the init
            code = 121
            try:
                for fd in (out_r, probe_r, pid_r):
                    os.close(fd)
                if group is not None:
                    group.add(0)
                sc.unshare(sc.CLONE_NEWPID)
                pid = os.fork()
                if pid == 0:
                    os.close(pid_w)
                    _init(spec, plan, user, script=guarded, probe=probe, out_w=out_w,
                          probe_w=probe_w)
                os.write(pid_w, str(pid).encode())
                for fd in (pid_w, out_w, probe_w):
                    os.close(fd)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status) & 0xFF
            finally:
                os._exit(code)
        for fd in (out_w, probe_w, pid_w):
            os.close(fd)
        out_w = probe_w = pid_w = -1
        init = int(_read_bounded(pid_r) or 0)
        out = _read_bounded(out_r).decode(errors="replace")
        probed = _read_bounded(probe_r).decode(errors="replace")
        pidfd = os.pidfd_open(child)
        try:
            assert select.select([pidfd], [], [], BOUND)[0], "container did not exit"
        finally:
            os.close(pidfd)
        _, status = os.waitpid(child, 0)
        child = 0
        ran = Ran(os.waitstatus_to_exitcode(status), out, probed)
        assert ran.code != 99 and "NOT INSIDE" not in ran.out, ran.out
        return ran
    finally:
        if init:
            with suppress(ProcessLookupError):
                os.kill(init, signal.SIGKILL)  # PID 1: its whole namespace goes with it
        if child:
            with suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
        for fd in (out_r, out_w, probe_r, probe_w, pid_r, pid_w):
            if fd >= 0:
                with suppress(OSError):
                    os.close(fd)


STATUS = "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status | tr -d '\\t' | tr : =\n"


def _host_status(key: str) -> str:
    with open("/proc/self/status") as f:
        return next(line.split(":")[1].strip() for line in f if line.startswith(key + ":"))


# --- capabilities ---------------------------------------------------------------------------

@needs_root
def test_root_gets_exactly_dockers_default_set(box: Box) -> None:
    v = run(box, Confinement().resolve(), STATUS + "id -u | sed s/^/uid=/").values()
    assert v["uid"] == "0"
    assert v["CapBnd"] == v["CapPrm"] == v["CapEff"] == DOCKER_MASK
    # Docker >= 20.10.14 (CVE-2022-24769): nothing inheritable, nothing ambient.
    assert v["CapInh"] == v["CapAmb"] == "0000000000000000"
    assert v["NoNewPrivs"] == "0"
    assert v["Seccomp"] == "2"


@needs_root
def test_non_root_user_keeps_the_bounding_set_but_no_capability(box: Box) -> None:
    v = run(box, Confinement().resolve(), STATUS + "id -u | sed s/^/uid=/", user="1000").values()
    assert v["uid"] == "1000"
    assert v["CapBnd"] == DOCKER_MASK
    assert v["CapEff"] == v["CapPrm"] == v["CapInh"] == v["CapAmb"] == "0000000000000000"
    assert v["Seccomp"] == "2"  # loaded while still root: no no_new_privs needed


@needs_root
def test_cap_add_sys_admin_lets_mount_work(box: Box) -> None:
    plan = Confinement(cap_add=("sys_admin",)).resolve()
    ran = run(box, plan, STATUS + "mount -t tmpfs none /mnt; echo mount=$?\n"
                                  "grep -c ' /mnt ' /proc/self/mountinfo | sed s/^/mounted=/")
    v = ran.values()
    assert v["CapBnd"] == f"{int(DOCKER_MASK, 16) | 1 << 21:016x}", ran.out
    assert v["mount"] == "0" and v["mounted"] == "1", ran.out


@needs_root
def test_cap_drop_all_with_one_add(box: Box) -> None:
    plan = Confinement(cap_add=("CAP_CHOWN",), cap_drop=("all",)).resolve()
    assert plan.capabilities == {"CAP_CHOWN"}
    v = run(box, plan, STATUS).values()
    assert v["CapBnd"] == v["CapEff"] == "0000000000000001"


@needs_root
def test_privileged_keeps_everything_and_is_not_filtered_or_masked(box: Box) -> None:
    ran = run(box, Confinement(privileged=True).resolve(),
              STATUS + "mount -t tmpfs none /mnt; echo mount=$?\n"
                       "wc -c < /proc/interrupts | sed s/^/interrupts=/")
    v = ran.values()
    expected = f"{caps.mask(caps.current()):016x}"
    assert v["CapBnd"] == v["CapEff"] == expected == _host_status("CapEff")
    assert v["Seccomp"] == "0"
    assert v["mount"] == "0", ran.out
    assert int(v["interrupts"]) > 0


@needs_root
def test_no_new_privileges(box: Box) -> None:
    plan = Confinement.from_options(security_opt=["no-new-privileges=true"]).resolve()
    v = run(box, plan, STATUS).values()
    assert v["NoNewPrivs"] == "1"
    assert v["Seccomp"] == "2"  # loaded after no_new_privs, as late as possible
    assert v["CapEff"] == DOCKER_MASK
    # As a non-root user the filter is loaded after setuid, which only no_new_privs allows.
    v = run(box, plan, STATUS, user="1000").values()
    assert v["NoNewPrivs"] == "1" and v["Seccomp"] == "2"
    assert v["CapEff"] == "0000000000000000"


@needs_root
def test_mount_fails_without_sys_admin_even_unfiltered(box: Box) -> None:
    for profile in ("", seccomp.UNCONFINED):
        ran = run(box, Confinement(seccomp_profile=profile).resolve(),
                  "mount -t tmpfs none /mnt; echo mount=$?\n"
                  "grep -c ' /mnt ' /proc/self/mountinfo | sed s/^/mounted=/")
        assert ran.values()["mount"] != "0", ran.out
        assert ran.values()["mounted"] == "0"
        assert "permission denied" in ran.out.lower(), ran.out  # busybox's words for EPERM


# --- masked and read-only paths, /sys ------------------------------------------------------

@needs_root
def test_masked_paths_read_empty(box: Box) -> None:
    plan = Confinement().resolve()
    present = [p for p in plan.masked_paths if os.path.exists(p)]
    files = [p for p in present if os.path.isfile(p)]
    dirs = [p for p in present if os.path.isdir(p)]
    # The test must mask something that has content on this host, or it proves nothing.
    assert any(Path(p).read_bytes() for p in files)
    assert any(os.listdir(d) for d in dirs)
    script = "".join(f"echo {p}=$(cat {p} 2>&1 | wc -c)\n" for p in files)
    script += "".join(f"echo {d}=$(ls -A {d} | wc -l)\n" for d in dirs)
    v = run(box, plan, script).values()
    for path in files + dirs:
        assert v[path] == "0", f"{path} is not masked"
    if os.path.exists("/proc/kcore"):
        assert v["/proc/kcore"] == "0"


@needs_root
def test_readonly_paths_and_sys_refuse_writes(box: Box) -> None:
    plan = Confinement().resolve()
    present = [p for p in (*plan.readonly_paths, "/sys") if os.path.exists(p)]
    assert "/proc/sys" in present
    # Opening for writing is refused before any data could reach the kernel (and a
    # zero-length open writes nothing even where it is allowed): a harmless probe.
    targets = ["/proc/sys/kernel/domainname", "/sys/class/net/lo/mtu"]
    if os.path.exists("/proc/sysrq-trigger"):
        targets.append("/proc/sysrq-trigger")
    script = "".join(f"( : > {t} ) 2>&1 | sed 's|^|{t}=|'; echo {t}.rc=$?\n" for t in targets)
    script += "cat /proc/self/mountinfo\n"
    ran = run(box, plan, script)
    v = ran.values()
    for target in targets:
        assert "Read-only file system" in v.get(target, ""), (target, ran.out)
    options = {f[4]: f[5].split(",") for f in (line.split() for line in ran.out.splitlines())
               if len(f) > 6 and f[4].startswith("/")}
    for path in present:
        assert "ro" in options[path], (path, options.get(path))


# --- seccomp --------------------------------------------------------------------------------

def _keyctl_probe() -> Callable[[], str]:
    """In-process keyctl(KEYCTL_GET_KEYRING_ID, session) after confinement (busybox has no
    keyctl applet); the syscall number is resolved on the host, before the fork."""
    nr = seccomp._libseccomp().seccomp_syscall_resolve_name(b"keyctl")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_long, ctypes.c_long]

    def probe() -> str:
        ret = libc.syscall(nr, 0, -3, 0)
        return "ok" if ret >= 0 else errno.errorcode[ctypes.get_errno()]

    return probe


@needs_root
@pytest.mark.skipif(not seccomp.status().available, reason=str(seccomp.status()))
def test_seccomp_blocks_userns_and_keyctl_with_eperm(box: Box) -> None:
    script = "unshare -U true; echo unshare=$?\ntrue; echo true=$?\n"
    ran = run(box, Confinement().resolve(), script, probe=_keyctl_probe())
    v = ran.values()
    assert v["unshare"] != "0" and "Operation not permitted" in ran.out, ran.out
    assert v["true"] == "0"
    assert ran.probe == "EPERM"
    # The same container without the filter: the kernel itself would allow both, so it is
    # the filter (not the capability set) that blocks them.
    open_ = run(box, Confinement(seccomp_profile=seccomp.UNCONFINED).resolve(), script,
                probe=_keyctl_probe())
    assert open_.values()["unshare"] == "0", open_.out
    assert open_.probe != "EPERM"


def test_default_profile_selection_follows_moby() -> None:
    profile = seccomp.parse(seccomp.builtin_text())

    def allowed(capabilities: frozenset[str], machine: str = "x86_64",
                kernel: tuple[int, int] = (6, 1)) -> dict[str, int]:
        sel = seccomp.select(profile, capabilities, machine, kernel)
        assert sel is not None
        return {n: r.action for r in sel.rules for n in r.names if not r.args}

    default = allowed(caps.DOCKER_DEFAULT)
    for blocked in ("mount", "unshare", "setns", "keyctl", "add_key", "reboot", "bpf"):
        assert blocked not in default
    assert default["clone3"] == 0x00050000 | errno.ENOSYS  # so libc falls back to clone
    assert default["chroot"] == default["ptrace"] == 0x7FFF0000
    assert "arch_prctl" in default and "arch_prctl" not in allowed(caps.DOCKER_DEFAULT,
                                                                     "aarch64")
    assert "ptrace" not in allowed(caps.DOCKER_DEFAULT, kernel=(4, 4))
    admin = allowed(caps.DOCKER_DEFAULT | {"CAP_SYS_ADMIN"})
    assert admin["mount"] == admin["unshare"] == admin["clone3"] == 0x7FFF0000
    sel = seccomp.select(profile, caps.DOCKER_DEFAULT, "x86_64", (6, 1))
    assert sel is not None
    assert sel.default_action == 0x00050000 | errno.EPERM
    assert sel.architectures == ("x86_64", "x86", "x32")
    arm = seccomp.select(profile, caps.DOCKER_DEFAULT, "aarch64", (6, 1))
    assert arm is not None and arm.architectures == ("aarch64", "arm")


@pytest.mark.skipif(not seccomp.status().available, reason=str(seccomp.status()))
def test_compiled_program_is_bpf() -> None:
    program = seccomp.program_for(seccomp.builtin_text(), caps.DOCKER_DEFAULT)
    assert program is not None
    assert len(program.bpf) % 8 == 0 and 0 < len(program.bpf) // 8 <= 4096
    assert program.syscall_nr > 0


def test_custom_profile_errors() -> None:
    with pytest.raises(InvalidArgument, match=r"^Decoding seccomp profile failed"):
        Confinement(seccomp_profile="{not json").validate()
    both = '{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],' \
           ' "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}'
    with pytest.raises(InvalidArgument, match="both 'architectures' and 'archMap'"):
        seccomp.select(seccomp.parse(both), caps.DOCKER_DEFAULT)
    notify = '{"defaultAction": "SCMP_ACT_NOTIFY"}'
    with pytest.raises(InvalidArgument, match="unsupported action"):
        seccomp.select(seccomp.parse(notify), caps.DOCKER_DEFAULT)
    assert seccomp.select({}, caps.DOCKER_DEFAULT) is None  # confines nothing, as moby


def test_without_seccomp_support_default_warns_and_custom_fails(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seccomp, "status", lambda: seccomp.Status(False, "no libseccomp"))
    plan = Confinement().resolve()
    assert plan.seccomp_filter is None
    assert plan.warnings == ("seccomp is not enabled in your kernel, running container "
                             "without default profile (no libseccomp)",)
    with pytest.raises(Unsupported, match="cannot run a custom seccomp profile"):
        Confinement(seccomp_profile='{"defaultAction": "SCMP_ACT_ALLOW"}').resolve()
    assert str(seccomp.Status(False, "no libseccomp")) == "seccomp: unavailable: no libseccomp"
    assert str(seccomp.Status(True)) == "seccomp: builtin profile"


# --- options as Docker parses them ----------------------------------------------------------

@needs_root
def test_capability_names_as_docker_parses_them() -> None:
    assert Confinement(cap_add=("net_admin", "CAP_sys_ptrace")).capabilities() == \
        caps.DOCKER_DEFAULT | {"CAP_NET_ADMIN", "CAP_SYS_PTRACE"}
    assert Confinement(cap_drop=("chown", "Cap_Kill")).capabilities() == \
        caps.DOCKER_DEFAULT - {"CAP_CHOWN", "CAP_KILL"}
    everything = caps.current()
    assert Confinement(cap_add=("ALL",), cap_drop=("MKNOD",)).capabilities() == \
        everything - {"CAP_MKNOD"}
    with pytest.raises(InvalidArgument) as e:
        Confinement.from_options(cap_add=["foo"])
    assert str(e.value) == 'invalid CapAdd: unknown capability: "CAP_FOO"'
    with pytest.raises(InvalidArgument, match=r'^invalid CapDrop: unknown capability: "CAP_X"$'):
        Confinement.from_options(cap_drop=["x"])
    assert f"{caps.mask(caps.DOCKER_DEFAULT):016x}" == DOCKER_MASK


def test_security_opt_parsing(tmp_path: Path) -> None:
    conf = Confinement.from_options(security_opt=["no-new-privileges", "label=disable"])
    assert conf.no_new_privs
    assert not Confinement.from_options(security_opt=["no-new-privileges=false"]).no_new_privs
    with pytest.raises(InvalidArgument, match=r'^invalid --security-opt 2: "no-new-privileges=x"$'):
        Confinement.from_options(security_opt=["no-new-privileges=x"])
    with pytest.raises(InvalidArgument, match=r'^invalid --security-opt 1: "bogus"$'):
        Confinement.from_options(security_opt=["bogus"])
    with pytest.raises(InvalidArgument, match=r"^opening seccomp profile \(/nonexistent\.json\)"
                                              " failed: No such file or directory$"):
        Confinement.from_options(security_opt=["seccomp=/nonexistent.json"])
    profile = tmp_path / "p.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    assert Confinement.from_options(security_opt=[f"seccomp={profile}"]).seccomp_profile == \
        profile.read_text()
    unconfined = Confinement.from_options(security_opt=["systempaths=unconfined"])
    plan = unconfined.resolve()
    assert plan.masked_paths == () and plan.readonly_paths == () and plan.readonly_sys


def test_default_paths_are_mobys() -> None:
    plan = Confinement().resolve()
    assert {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/interrupts",
            "/sys/firmware", "/sys/devices/virtual/powercap"} <= set(plan.masked_paths)
    assert plan.readonly_paths == ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                   "/proc/sysrq-trigger")
    privileged = Confinement(privileged=True).resolve()
    assert privileged.masked_paths == privileged.readonly_paths == ()
    assert not privileged.readonly_sys and privileged.seccomp_filter is None


# --- devices --------------------------------------------------------------------------------

def test_probe_reads_the_host_layout(tmp_path: Path) -> None:
    with open("/proc/self/mountinfo") as f:
        has_v1 = any(" - cgroup " in line and "devices" in line.split(" - ")[1] for line in f)
    support = devices.probe()
    assert support.enforced == (has_v1 and ROOT), support
    v2_only = tmp_path / "mountinfo"
    v2_only.write_text("30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n")
    unenforced = devices.probe(str(v2_only))
    assert not unenforced.enforced and "not enforced: cgroup v2 only" in str(unenforced)


@needs_root
def test_without_device_allowlist_mknod_is_dropped() -> None:
    plan = Confinement().resolve(devices_enforced=False)
    assert "CAP_MKNOD" not in plan.capabilities
    assert any("CAP_MKNOD" in w for w in plan.warnings)
    asked = Confinement(cap_add=("mknod",)).resolve(devices_enforced=False)
    assert "CAP_MKNOD" in asked.capabilities


def _host_block_device() -> tuple[int, int] | None:
    """A block device this test process can open on the host (a sandbox may deny even
    root its disks; then the container's EPERM would prove nothing): real disks first."""
    names = sorted(os.listdir("/sys/block"), key=lambda n: (n.startswith(("loop", "zram")), n))
    for name in names:
        major, minor = map(int, Path("/sys/block", name, "dev").read_text().split(":"))
        try:
            os.close(os.open(f"/dev/{name}", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            continue
        if os.major(os.stat(f"/dev/{name}").st_rdev) == major:
            return major, minor
    return None


@pytest.fixture
def device_group() -> Iterator[devices.DeviceCgroup]:
    if not devices.probe().enforced:
        pytest.skip(str(devices.probe()))
    group = devices.DeviceCgroup.create(f"confine-{uuid.uuid4().hex[:8]}")
    try:
        yield group
    finally:
        with suppress(CgroupError):
            group.remove()


@needs_root
def test_container_root_cannot_open_a_host_block_device(
        box: Box, device_group: devices.DeviceCgroup) -> None:
    disk = _host_block_device()
    if disk is None:
        pytest.skip("no block device the host itself may open")
    assert device_group.rules() == [
        "c 1:5 rwm", "c 1:3 rwm", "c 1:9 rwm", "c 1:8 rwm", "c 5:0 rwm", "c 5:1 rwm",
        "c *:* m", "b *:* m", "c 1:7 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"]
    # Only opened for reading, never read or written: harmless even if it were allowed.
    script = (f"mknod /dev/hostdisk b {disk[0]} {disk[1]}; echo mknod=$?\n"
              "( exec 3< /dev/hostdisk ); echo open=$?\n"
              "head -c 1 /dev/zero | wc -c | sed s/^/zero=/\n")
    ran = run(box, Confinement().resolve(), script, group=device_group)
    v = ran.values()
    assert v["mknod"] == "0", ran.out  # CAP_MKNOD stays, as in Docker…
    assert v["open"] != "0" and "Operation not permitted" in ran.out, ran.out  # …but no open
    assert v["zero"] == "1"
