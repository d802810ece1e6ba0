"""Which isolation this host allows the current user, probed best first, and always explained.

Modes, best first:

* ``root``: real namespaces (pid, mount, uts, ipc, net), overlayfs, cgroups.
* ``rootless``: the same namespaces inside a user namespace that maps only our own uid to
  0 (no ``newuidmap`` under no_new_privs); the store's keeper holds it (``keeper.py``).
  overlayfs with ``userxattr`` where the store's filesystem can be an upper dir, vfs
  otherwise; no cgroups (no delegation), so pause stops the processes with SIGSTOP.
* ``proot``: PRoot (ptrace) over a vfs copy, for hosts that refuse user namespaces: a
  chroot with faked root, but no namespace of its own (``proot.py``).
* ``none``: image, layer and archive commands only.

``LAYERLAB_RUNTIME=root|rootless|proot|none`` forces a mode (refused with the probe's
reason when it cannot work here). Probing forks, makes namespaces and mounts, so the
findings are cached per boot (keyed by the boot ID): in ``/run`` for root, else in
``$XDG_RUNTIME_DIR/layerlab`` or the store, since the storage-driver probe depends on the
store's filesystem.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError
from ..fs.atomic import atomic_write, remove_tree
from ..linux import procs
from ..linux import syscalls as sc
from .cgroups import Cgroup

ALL_NS = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWPID | sc.CLONE_NEWNET
MODES = ("root", "rootless", "proot", "none")
PROBE_VERSION = 2  # bump when the findings' shape or meaning changes: old caches are ignored
ROOT_CACHE = Path("/run/layerlab/isolation-v2.json")  # a tmpfs: dies with the boot anyway


@dataclass(frozen=True)
class Finding:
    """What probing one mode found: whether it can run containers here, and why (not)."""

    mode: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Isolation:
    mode: str
    reason: str
    cgroup: str | None  # the freezer hierarchy used for pause, if any
    findings: tuple[Finding, ...] = ()
    fresh_proc: bool = True  # rootless: a new procfs can be mounted (else the host's is bound)
    driver: str = ""  # the storage driver this mode and store call for ("" = the default)
    driver_reason: str = ""
    overlay_refused: str = ""  # rootless: why overlayfs cannot be used on this store, or ""
    forced: bool = field(default=False, compare=False)

    @property
    def can_run(self) -> bool:
        return self.mode != "none"

    @property
    def pause_method(self) -> str:
        """How ``pause`` holds the processes still: the freezer, SIGSTOP, or the tracer."""
        if self.mode == "proot":
            return "tracer"
        return "freezer" if self.cgroup else "sigstop" if self.mode == "rootless" else ""

    def limits(self) -> list[str]:
        """What this mode cannot show of the spec's claims, in one line each: ``info`` and
        ``inspect`` list them, so nothing differs silently from a root host."""
        out: list[str] = []
        if self.mode == "rootless":
            out.append("one uid is mapped (yours, as 0): image files owned by other users "
                       "show as root inside, and -u UID runs in a nested user namespace "
                       "in which UID owns every file")
            if not self.fresh_proc:
                out.append("procfs: the host's /proc is bound (a fresh one is refused, "
                           "masked by the outer runtime): ps shows host processes")
        if self.mode == "proot":
            out.append("PRoot has no namespaces: the command is not PID 1 (the engine drops "
                       "the signals it does not handle, as the kernel does for a PID 1), "
                       "and it sees the host's PIDs, hostname and network")
            out.append("terminals: no devpts of the container's, so -t (run, exec) is "
                       "refused, and there is no PID 1 for --init; attach follows the output only")
        if self.mode == "rootless":
            out.append("network: bridges live in the store's own network namespace (its "
                       "keeper's): containers reach each other, and the host only through "
                       "-p on its loopback; nothing beyond the host")
        if self.mode == "proot":
            out.append("network: no network namespaces, containers share the host's: "
                       "--network NAME only resolves the names of its other containers to "
                       "127.0.0.1 (/etc/hosts), -p HOST:CTR relays 127.0.0.1:HOST to "
                       "127.0.0.1:CTR, and two containers cannot listen on one port")
        if self.pause_method == "sigstop":
            out.append("pause: no cgroup freezer, the processes are stopped with SIGSTOP "
                       "(a parent can see CLD_STOPPED; SIGCONT resumes them)")
        if self.pause_method == "tracer":
            out.append("pause: the PRoot tracer is stopped, so the processes stop at their "
                       "next system call (a loop without system calls keeps running)")
        if self.mode in ("rootless", "proot"):
            out.append("limits: no cgroups, so --memory, --cpus, --cpu-shares, --cpuset-cpus "
                       "and --pids-limit are discarded with a warning; stats sums CPU and "
                       "memory from /proc and has no block I/O")
            out.append("ownership: files you own are recorded as 0:0 in layer tars; "
                       "image owners are kept in user.containers.override_stat")
        return out


def _fork_probe(body: object) -> dict[str, object]:
    """Run ``body()`` (returning a JSON-able dict) in a forked child; its answer."""
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - forked
        try:
            os.close(r)
            answer = body()  # type: ignore[operator]
        except BaseException as e:
            answer = {"error": _why(e)}
        with contextlib.suppress(BaseException):
            os.write(w, json.dumps(answer).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    try:
        found = json.loads(data)
    except ValueError:
        return {"error": "the probe process died"}
    return found if isinstance(found, dict) else {"error": "the probe process died"}


def _why(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno:
        return f"{e.strerror or os.strerror(e.errno)} ({errno.errorcode.get(e.errno, e.errno)})"
    return str(e)


def _can_unshare(flags: int) -> bool:
    def body() -> dict[str, object]:
        sc.unshare(flags)
        return {}
    return "error" not in _fork_probe(body)


def write_id_maps(uid: int, gid: int) -> None:
    """Map our own ids to 0 in the user namespace we just made: the only map an
    unprivileged process may write (setgroups must be denied first, or gid_map is EPERM)."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def _rootless_body(scratch: str) -> dict[str, object]:  # pragma: no cover - forked
    """In a child: the user namespace and what a container will need inside it."""
    try:
        _enter_userns()
    except OSError as e:
        return {"error": str(e)}
    try:
        sc.unshare(sc.CLONE_NEWPID)
    except OSError as e:
        return {"error": f"unshare(CLONE_NEWPID) in the user namespace: {_why(e)}"}
    return _fork_probe(lambda: _container_body(scratch))


def _enter_userns() -> None:
    uid, gid = os.geteuid(), os.getegid()
    try:
        sc.unshare(sc.CLONE_NEWUSER | sc.CLONE_NEWNS)
    except OSError as e:
        raise OSError(e.errno, f"unshare(CLONE_NEWUSER): {_why(e)}") from None
    try:
        write_id_maps(uid, gid)
    except OSError as e:
        raise OSError(e.errno, f"writing uid_map/gid_map: {_why(e)}") from None
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE, None)


def _container_body(scratch: str) -> dict[str, object]:  # pragma: no cover - forked
    """PID 1 of a probe container: the namespaces and the /proc a container gets."""
    try:
        sc.unshare(sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWNET)
    except OSError as e:
        return {"error": f"unshare(mount, uts, ipc, net) in the user namespace: {_why(e)}"}
    target = os.path.join(scratch, "proc")
    os.makedirs(target, exist_ok=True)
    try:
        sc.mount("proc", target, "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, None)
        proc = ""
    except OSError as e:
        proc = _why(e)
    return {"proc": proc}


def _overlay_body(scratch: str) -> dict[str, object]:  # pragma: no cover - forked
    """Mount a tiny overlay with ``userxattr`` whose upper dir is on the store's
    filesystem, in a user namespace: the kernel refuses an upper on overlayfs or NFS
    (EINVAL), as on Binder's home."""
    _enter_userns()
    base = os.path.join(scratch, "ovl")
    dirs = {k: os.path.join(base, k) for k in ("lower", "upper", "work", "merged")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    opts = f"lowerdir={dirs['lower']},upperdir={dirs['upper']},workdir={dirs['work']},userxattr"
    try:
        sc.mount("overlay", dirs["merged"], "overlay", 0, opts)
    except OSError as e:
        return {"refused": f"overlayfs with userxattr on {scratch}: {_why(e)}"}
    sc.umount2(dirs["merged"], sc.MNT_DETACH)
    return {"refused": ""}


def _probe_rootless() -> tuple[Finding, bool]:
    """(finding, whether a fresh /proc is allowed)."""
    scratch = tempfile.mkdtemp(prefix="layerlab-probe-")
    try:
        found = _fork_probe(lambda: _rootless_body(scratch))
    finally:
        remove_tree(Path(scratch))
    if "error" in found:
        return Finding("rootless", False, str(found["error"])), True
    proc = str(found.get("proc", ""))
    detail = "user namespace (uid 0 = you), pid, mount, uts, ipc and net namespaces"
    detail += "; fresh /proc" if not proc else f"; fresh /proc refused ({proc}), host /proc bound"
    return Finding("rootless", True, detail), not proc


def proot_command() -> str | None:
    return shutil.which("proot")


def _probe_proot() -> Finding:
    import subprocess  # only a probe that is not cached runs a program

    from ..transfer.bootstrap import find_busybox  # the shim that gives PID-1 exit status

    exe = proot_command()
    if exe is None:
        return Finding("proot", False, "proot is not installed (apt-get install proot)")
    try:
        busybox = find_busybox()
    except Exception as e:
        return Finding("proot", False, str(e))
    root = tempfile.mkdtemp(prefix="layerlab-probe-")
    argv = [exe, "-v", "-1", "-0", "-r", root, "-w", "/", "-b", f"{busybox}:/.ll/busybox",
            "/.ll/busybox", "true"]
    try:
        # proot's loader and glue go in the probe's root, removed below even when a
        # timeout killed proot (which then leaves them behind): never in /tmp
        p = subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
                           env={**os.environ, "PROOT_TMP_DIR": root})
    except (OSError, subprocess.TimeoutExpired) as e:
        return Finding("proot", False, f"running {exe}: {e}")
    finally:
        remove_tree(Path(root))
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip().splitlines()
        return Finding("proot", False, f"{exe} -0 true exited {p.returncode}: "
                                       f"{err[-1] if err else 'no message'}")
    return Finding("proot", True, f"{exe}: ptrace chroot with faked root over a vfs copy")


def _probe_host() -> Isolation:
    """Probe every mode and pick the best that works (the store's driver comes later)."""
    findings: list[Finding] = []
    cg = None
    if os.geteuid() == 0:
        if _can_unshare(ALL_NS):
            cg = Cgroup.probe()
            why = "root: pid, mount, uts, ipc and net namespaces with pivot_root"
            why += f"; cgroup freezer {cg}" if cg else "; no writable cgroup freezer"
            findings.append(Finding("root", True, why))
        else:
            findings.append(Finding("root", False, "running as root but unshare(pid, mount, "
                                    "uts, ipc, net) is refused (seccomp or a locked-down "
                                    "container?)"))
    else:
        findings.append(Finding("root", False, f"not running as root (uid {os.geteuid()})"))
    rootless, fresh_proc = _probe_rootless()
    findings.append(rootless)
    findings.append(_probe_proot())
    findings.append(Finding("none", True, "image, layer and archive commands only"))
    best = next(f for f in findings if f.ok)
    reason = best.detail if best.mode != "none" else "no isolation mode works: " + "; ".join(
        f"{f.mode}: {f.detail}" for f in findings if not f.ok) + "; image, layer and archive " \
        "commands work"
    return Isolation(best.mode, reason, cg, tuple(findings), fresh_proc)


def _cache_file(store: Path) -> Path:
    if os.geteuid() == 0:
        return ROOT_CACHE
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run and os.access(run, os.W_OK):
        return Path(run) / "layerlab" / "isolation.json"
    return store / "isolation.json"


def _cache_key() -> dict[str, object]:
    return {"boot_id": procs.boot_id(), "uid": os.geteuid(), "version": PROBE_VERSION}


def _load(path: Path) -> dict[str, object] | None:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) and data.get("key") == _cache_key() else None
    except (OSError, ValueError):
        return None


def _save(path: Path, data: dict[str, object]) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({**data, "key": _cache_key()}).encode())


@functools.cache
def _host(store: Path) -> Isolation:
    """The host's findings, probed once per boot (per user) and cached."""
    path = _cache_file(store)
    data = _load(path)
    if data is not None:
        with contextlib.suppress(KeyError, TypeError):
            iso = dict(data["isolation"])  # type: ignore[call-overload]
            iso["findings"] = tuple(Finding(**f) for f in iso["findings"])
            return Isolation(**iso)
    found = _probe_host()
    _save(path, {"isolation": asdict(found)})
    return found


@functools.cache
def _overlay_refused(store: Path) -> str:
    """Why a rootless overlay cannot have its upper dirs in ``store`` ("" = it can):
    probed once per boot on the store's own filesystem."""
    path = store / "overlay-probe.json"
    data = _load(path)
    if data is not None and isinstance(data.get("refused"), str):
        return str(data["refused"])
    store.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".probe-", dir=store)
    try:
        found = _fork_probe(lambda: _overlay_body(scratch))
    finally:
        remove_tree(Path(scratch))
    refused = str(found.get("refused", found.get("error", "the probe failed")))
    _save(path, {"refused": refused})
    return refused


def _with_driver(iso: Isolation, store: Path) -> Isolation:
    if iso.mode == "rootless":
        refused = _overlay_refused(store)
        return replace(iso, driver="vfs" if refused else "overlay",
                       driver_reason=refused or "overlayfs with userxattr in the user namespace",
                       overlay_refused=refused)
    if iso.mode in ("proot", "none"):
        return replace(iso, driver="vfs",
                       driver_reason=f"{iso.mode} mode mounts nothing: a plain copy per container")
    return iso


def probe(store: Path) -> Isolation:
    """The isolation for ``store`` (probed once per boot), or the forced one."""
    store = Path(os.path.abspath(store))
    forced = os.environ.get("LAYERLAB_RUNTIME", "")
    if forced and forced not in MODES:
        raise ConfigError(f"LAYERLAB_RUNTIME={forced!r}: choose one of {', '.join(MODES)}")
    if forced == "none":
        return Isolation("none", "forced by LAYERLAB_RUNTIME=none", None,
                         (Finding("none", True, "forced"),), driver="vfs",
                         driver_reason="no containers", forced=True)
    found = _host(store)
    if forced and forced != found.mode:
        finding = next(f for f in found.findings if f.mode == forced)
        if not finding.ok:
            return Isolation("none", f"LAYERLAB_RUNTIME={forced} cannot work here: "
                             f"{finding.detail}", None, found.findings, driver="vfs",
                             driver_reason="no containers", forced=True)
        found = replace(found, mode=forced, reason=finding.detail,
                        cgroup=Cgroup.probe() if forced == "root" else None, forced=True)
    return _with_driver(found, store)


def default_driver(store: Path) -> str:
    """The storage driver: ``LAYERLAB_STORAGE_DRIVER``, else what the isolation calls for
    (overlay as root where the kernel has it; for rootless, overlay where the store's
    filesystem can be an upper dir; vfs otherwise)."""
    forced = os.environ.get("LAYERLAB_STORAGE_DRIVER", "")
    if forced:
        if forced not in ("overlay", "vfs"):
            raise ConfigError(f"LAYERLAB_STORAGE_DRIVER={forced!r}: choose overlay or vfs")
        return forced
    iso = probe(store)
    if iso.driver:
        return iso.driver
    with open("/proc/filesystems") as f:
        has_overlay = any(line.split()[-1] == "overlay" for line in f if line.strip())
    return "overlay" if has_overlay else "vfs"
