"""PRoot mode: containers where user namespaces are refused, over a plain (vfs) rootfs.

PRoot (ptrace) runs the command chrooted into the rootfs with a faked root (``-0``) and no
namespace of its own: the command sees the host's PIDs, hostname and network (``info``
says so). Three things of Docker's model it lacks are rebuilt here:

* **PID-1 semantics.** proot exits when its *last* tracee does. The container ends when
  its command does: a tiny shim (the host's static busybox, bound in at ``/.ll/busybox``)
  writes the command's PID on fd 4 and execs it, keeping that PID, so the monitor can
  watch it with a pidfd; its status comes from proot's own notice ("pid N: exited with
  status S"), the command's stderr travelling on fd 3 so the notices stay apart. Signals
  a PID 1 would not receive (no handler) are not delivered (:func:`deliver`).
* **Every descendant dies with the container.** The monitor is a subreaper: when the
  command has exited, every remaining tracee (``exec``'d ones too) is killed, and a tracee
  whose tracer died is reparented to the monitor, never to host init.
* **pause** stops the tracers: a tracee then stops at its next system call (a SIGSTOP to
  the tracees themselves is swallowed by proot). A loop without system calls runs on.

Tracers are registered in the container's ``proot/`` directory (PID and start time), so
``top``, ``pause`` and ``stop`` find every process of the container.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import select
import signal
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ..errors import RuntimeFailure
from ..fs import securejoin
from ..fs.atomic import atomic_write
from ..linux import procs
from ..linux import syscalls as sc
from . import logs, users
from .init import ExecFailure, write_all
from .spec import ContainerSpec, ProcessSpec

# proot's own setting (bind mount points are faked, never created in the rootfs, where
# they would show in diff and commit) is read by proot only: the shim drops it again.
QUIET_ROOTFS = "PROOT_DONT_POLLUTE_ROOTFS"
# proot >= 5.2 puts its loader and glue dirs there, in the container's state dir: a killed
# tracer's leftovers then go with the container. Debian's 5.1 ignores it and uses /tmp
# (P_TMPDIR), so a tracer that had to be killed has its files removed from both.
GLUE_DIR = "PROOT_TMP_DIR"
P_TMPDIR = "/tmp"
SHIM = f'echo $$ >&4; exec 4>&- 2>&3 3>&-; unset {QUIET_ROOTFS} {GLUE_DIR}; exec "$@"'
SHIM_PATH = "/.ll/busybox"
NOTICE = re.compile(rb"pid (\d+): (exited with status|terminated with signal) (\d+)")
NOTICE_WAIT = 5.0  # seconds for proot's exit notice once the command is gone


def _proot() -> str:
    from .isolation import proot_command

    exe = proot_command()
    if exe is None:
        raise ExecFailure(125, "proot is not installed (apt-get install proot)")
    return exe


def _resolve_command(root: str, args: list[str], env: dict[str, str]) -> None:
    """Docker's start errors, checked before proot runs: the command must exist (127)
    and be an executable file (126)."""
    argv0 = args[0]
    candidates = [argv0] if "/" in argv0 else [
        os.path.join(d or ".", argv0) for d in env.get("PATH", "").split(":")]
    found = None
    for candidate in candidates:
        path = securejoin.join(root, candidate if candidate.startswith("/") else "/" + candidate)
        if os.path.exists(path):
            found = path
            if stat.S_ISREG(os.stat(path).st_mode) and os.access(path, os.X_OK):
                return
    if found is None:
        raise ExecFailure(127, f'exec: "{argv0}": executable file not found in $PATH')
    raise ExecFailure(126, f'exec: "{argv0}": permission denied')


def _user(root: str, spec: str) -> users.User:
    try:
        return users.resolve(spec, securejoin.join(root, "/etc/passwd"),
                             securejoin.join(root, "/etc/group"))
    except users.UnknownUser as e:
        raise ExecFailure(126, str(e)) from None


def command(root: str, process: ProcessSpec, etc_files: dict[str, str], make_cwd: bool,
            state_dir: str, binds: Sequence[tuple[str, str]] = (),
            ) -> tuple[list[str], dict[str, str]]:
    """(argv, env) of proot running ``process`` in ``root``; raises ExecFailure with
    Docker's code when it cannot run. ``binds``: (host path, container path) of volumes
    and bind mounts, PRoot's ``-b`` (read-write: PRoot has no read-only binds)."""
    from ..transfer.bootstrap import find_busybox

    env = dict(e.partition("=")[::2] for e in process.env)
    user = _user(root, process.user)
    env.setdefault("HOME", user.home)
    cwd_host = securejoin.join(root, process.cwd)
    if make_cwd:
        os.makedirs(cwd_host, exist_ok=True)
    if not os.path.isdir(cwd_host):
        raise ExecFailure(126, f'chdir to cwd ("{process.cwd}") set in config.json failed: '
                               "no such file or directory")
    _resolve_command(root, process.args, env)
    identity = ["-0"] if (user.uid, user.gid) == (0, 0) else ["-i", f"{user.uid}:{user.gid}"]
    argv = [_proot(), "-v", "1", *identity, "-r", root, "-w", process.cwd,
            "-b", "/proc", "-b", "/dev", "-b", "/sys", "-b", f"{find_busybox()}:{SHIM_PATH}"]
    for source, target in binds:
        argv += ["-b", f"{source}:{target}"]
    for target, source in etc_files.items():
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.lstat(securejoin.join(root, target)).st_mode):
                argv += ["-b", f"{source}:{target}"]
    glue = _glue_dir(state_dir)
    glue.mkdir(parents=True, exist_ok=True)
    return ([*argv, SHIM_PATH, "sh", "-c", SHIM, "sh", *process.args],
            {**env, QUIET_ROOTFS: "1", GLUE_DIR: str(glue)})


# -- tracers -----------------------------------------------------------------------------
def _registry(state_dir: str) -> Path:
    return Path(state_dir) / "proot"


def _glue_dir(state_dir: str) -> Path:
    return _registry(state_dir) / "tmp"


def register(state_dir: str, tracer: int) -> Path:
    reg = _registry(state_dir)
    reg.mkdir(exist_ok=True)
    path = reg / f"{tracer}.json"
    atomic_write(path, json.dumps({"pid": tracer, "start_time": procs.start_time(tracer)}).encode())
    return path


def tracers(state_dir: str) -> list[int]:
    """The container's live tracers (the command's and every exec's)."""
    out = []
    for path in sorted(_registry(state_dir).glob("*.json")):
        with contextlib.suppress(OSError, ValueError, KeyError):
            rec = json.loads(path.read_bytes())
            if procs.start_time(rec["pid"]) == rec["start_time"] and procs.alive(rec["pid"]):
                out.append(int(rec["pid"]))
    return out


def members(state_dir: str) -> list[int]:
    """Every process of the container: the tracees of its tracers."""
    traced = set(tracers(state_dir))
    out = []
    for pid in procs.all_pids():
        with contextlib.suppress(OSError, ValueError):
            if int(procs.status(pid).get("TracerPid", "0")) in traced:
                out.append(pid)
    return sorted(out)


def _catches(pid: int, signum: int) -> bool:
    mask = int(procs.status(pid).get("SigCgt", "0"), 16)
    return bool(mask & (1 << (signum - 1)))


def deliver(pid: int, signum: int) -> bool:
    """Send ``signum`` to the command as the kernel would to a PID 1: only SIGKILL and
    SIGSTOP, or a signal it has a handler for, arrive; others are dropped (True if sent)."""
    try:
        if signum not in (signal.SIGKILL, signal.SIGSTOP) and not _catches(pid, signum):
            return False
        os.kill(pid, signum)
    except (OSError, ValueError):
        return False
    return True


def pause(state_dir: str) -> None:
    found = tracers(state_dir)
    procs.signal_all(found, signal.SIGSTOP)
    procs.wait_stopped(found)


def unpause(state_dir: str) -> None:
    procs.signal_all(tracers(state_dir), signal.SIGCONT)


def kill_all(state_dir: str, first: int) -> None:
    """SIGKILL to every process of the container; the monitor, seeing the command gone,
    reaps the rest. A stopped (paused) tracer is woken first, or it could never report."""
    atomic_write(Path(state_dir) / "proot" / "killed", b"9")
    unpause(state_dir)
    procs.signal_all([first, *members(state_dir)], signal.SIGKILL)


def _remove_glue(tracer: int, state_dir: str) -> None:
    """proot's loader and glue dirs, left behind when a tracer is killed: named after the
    tracer's PID, in whichever temp dir this proot uses, and only ours."""
    from ..fs.atomic import remove_tree

    for tmp in (_glue_dir(state_dir), P_TMPDIR):
        for path in glob.glob(f"{tmp}/proot-{tracer}-*") + glob.glob(f"{tmp}/prooted-{tracer}-*"):
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                if st.st_uid != os.geteuid():
                    continue
                if stat.S_ISDIR(st.st_mode):
                    remove_tree(Path(path))
                else:
                    os.unlink(path)


# -- running one tracer ------------------------------------------------------------------
class _Tracer:
    """One proot process under this (subreaper) process, with the command's PID and its
    exit notice."""

    def __init__(self, argv: list[str], env: dict[str, str], stdin: int, stdout: int,
                 stderr: int) -> None:
        from .monitor import close_fds_except

        note_r, note_w = os.pipe2(os.O_CLOEXEC)
        pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - forked
            try:
                for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTSTP):
                    signal.signal(sig, signal.SIG_DFL)
                # 0-4 as the shim expects; every other descriptor closed
                fds = [os.dup(fd) for fd in (stdin, stdout, note_w, stderr, pid_w)]
                for target, fd in enumerate(fds):
                    os.dup2(fd, target, inheritable=True)
                close_fds_except({3, 4})
                os.execve(argv[0], argv, env)
            finally:
                os._exit(125)
        os.close(note_w)
        os.close(pid_w)
        self.pid = pid
        self.notes_fd = note_r
        self.notes = b""
        raw = b""  # one line: proot itself keeps fd 4 open, so no EOF comes
        while not raw.endswith(b"\n") and (chunk := os.read(pid_r, 64)):
            raw += chunk
        os.close(pid_r)
        self.first = int(raw) if raw.strip().isdigit() else 0

    def read_notes(self) -> bool:
        """Take what proot said; False at EOF."""
        chunk = os.read(self.notes_fd, 65536)
        self.notes += chunk
        return bool(chunk)

    def status(self) -> int | None:
        """The command's exit code from proot's notice (128+N if killed by N)."""
        for m in NOTICE.finditer(self.notes):
            if int(m.group(1)) == self.first:
                code = int(m.group(3))
                return code if m.group(2) == b"exited with status" else 128 + code
        return None

    def errors(self) -> str:
        return "; ".join(line.split(b":", 1)[-1].decode(errors="replace").strip()
                         for line in self.notes.splitlines() if b"proot error" in line)


def _until_status(t: _Tracer, extra: dict[int, Callable[[bytes], None]]) -> int | None:
    """Pump ``extra`` fds and proot's notices until the command has exited and its notice
    arrived (or proot went quiet); the command's exit code if known."""
    pidfd = None
    with contextlib.suppress(ProcessLookupError):
        pidfd = os.pidfd_open(t.first)
    gone_at: float | None = None if pidfd is not None else time.monotonic()
    notes_open = True
    code = None
    while True:
        code = t.status()
        if code is not None:
            break
        if not notes_open or (gone_at is not None and time.monotonic() - gone_at > NOTICE_WAIT):
            break
        fds = [*extra, *([t.notes_fd] if notes_open else []), *([pidfd] if pidfd else [])]
        ready, _, _ = select.select(fds, [], [], 0.5)
        for fd in ready:
            if fd == t.notes_fd:
                notes_open = t.read_notes()
            elif fd == pidfd:
                os.close(pidfd)
                pidfd = None
                gone_at = time.monotonic()
            else:
                chunk = os.read(fd, 65536)
                extra[fd](chunk)
                if not chunk:
                    del extra[fd]
    if pidfd is not None:
        os.close(pidfd)
    return code


def _end(t: _Tracer, state_dir: str) -> None:
    """The command has ended: kill every tracee left (PID-1 semantics), let the tracer
    exit by itself (it then removes its loader and glue), reap everything under us.

    The kill repeats until the tracer is gone: a tracee that was forking during one pass
    has a child the pass did not see, and proot waits for that child too."""
    deadline = time.monotonic() + NOTICE_WAIT
    while True:
        procs.signal_all([p for p in members(state_dir) if p != t.pid], signal.SIGKILL)
        if procs.wait_gone(t.pid, 0.02):
            break
        if time.monotonic() > deadline:
            procs.kill_tree(os.getpid())
            _remove_glue(t.pid, state_dir)
            break
    procs.kill_tree(os.getpid())
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)


# -- the container's monitor -------------------------------------------------------------
def monitor(spec: ContainerSpec, hooks: Any, stdin: int, sinks: dict[str, int], log: int,
            ready_w: int, exit_w: int | None) -> NoReturn:  # pragma: no cover - forked
    """The monitor's body in PRoot mode (see ``monitor._monitor``); never returns."""
    sc.set_child_subreaper()
    try:
        argv, env = command(spec.rootfs, spec.process, spec.etc_files, make_cwd=True,
                            state_dir=spec.state_dir,
                            binds=[(m.source, m.target) for m in spec.mounts])
    except ExecFailure as e:
        hooks.failed(e.code, str(e))
        write_all(ready_w, f"err {e.code} {e}".encode())
        os._exit(0)
    if hooks.prepare is not None:  # no namespace to wire: the -p proxies, on the host
        try:
            hooks.prepare(0)
        except Exception as e:
            hooks.failed(125, str(e))
            write_all(ready_w, f"err 125 {e}".encode())
            os._exit(0)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    with contextlib.suppress(FileNotFoundError):
        (_registry(spec.state_dir) / "killed").unlink()
    t = _Tracer(argv, env, stdin, out_w, err_w)
    for fd in (out_w, err_w, stdin):
        os.close(fd)
    if not t.first:
        while t.read_notes():
            pass
        os.waitpid(t.pid, 0)
        message = f"proot failed to start the command: {t.errors() or 'no message'}"
        hooks.failed(125, message)
        write_all(ready_w, f"err 125 {message}".encode())
        os._exit(0)
    register(spec.state_dir, t.pid)
    hooks.started(t.first)
    write_all(ready_w, f"ok {t.first}".encode())
    os.close(ready_w)

    def sink(stream: str) -> Callable[[bytes], None]:
        def write(chunk: bytes) -> None:
            if not chunk:
                return
            write_all(log, logs.encode(stream, chunk))
            fd = sinks.get(stream)
            if fd is not None:
                try:
                    write_all(fd, chunk)
                except OSError:
                    sinks.pop(stream)
        return write

    streams = {out_r: sink("stdout"), err_r: sink("stderr")}
    code = _until_status(t, streams)
    _end(t, spec.state_dir)
    for fd, write in list(streams.items()):  # what the pipes still hold
        while chunk := os.read(fd, 65536):
            write(chunk)
        os.close(fd)
    if code is None:
        killed = _registry(spec.state_dir) / "killed"
        code = 128 + int(killed.read_text()) if killed.exists() else 255
    for reg in _registry(spec.state_dir).glob("*.json"):
        reg.unlink(missing_ok=True)
    hooks.exited(code)
    if exit_w is not None:
        with contextlib.suppress(OSError):
            write_all(exit_w, str(code).encode())
    os._exit(0)


# -- exec --------------------------------------------------------------------------------
def exec_in(state_dir: str, rootfs: str, etc_files: dict[str, str], process: ProcessSpec,
            stdin: int, stdout: int, stderr: int, detach: bool = False,
            binds: Sequence[tuple[str, str]] = ()) -> int:
    """``docker exec`` in PRoot mode: another tracer on the same rootfs, under a helper
    that outlives this call (the command's children live on in the container, as after
    Docker's exec) and that the container's end kills; the command's exit code, or 0
    once it runs when ``detach``."""
    try:
        argv, env = command(rootfs, process, etc_files, make_cwd=False, state_dir=state_dir,
                            binds=binds)
    except ExecFailure as e:
        raise RuntimeFailure(f"OCI runtime exec failed: {e}", e.code) from None
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    first = os.fork()
    if first == 0:  # pragma: no cover - forked
        try:
            os.close(report_r)
            os.setsid()
            if os.fork() == 0:
                _exec_helper(state_dir, argv, env, stdin, stdout, stderr, report_w)
        finally:
            os._exit(0)
    os.close(report_w)
    os.waitpid(first, 0)
    lines: list[bytes] = []
    buf = b""
    while chunk := os.read(report_r, 4096):
        buf += chunk
        *done, buf = buf.split(b"\n")
        lines += done
        if detach and any(line.startswith(b"started") for line in lines):
            break
    os.close(report_r)
    if buf:
        lines.append(buf)
    if detach and any(line.startswith(b"started") for line in lines):
        return 0
    for line in lines:
        if line.startswith(b"exit "):
            return int(line.split()[1])
        if line.startswith(b"error "):
            raise RuntimeFailure(f"OCI runtime exec failed: {line[6:].decode()}", 126)
    raise RuntimeFailure("OCI runtime exec failed: the exec helper died", 126)


def _exec_helper(state_dir: str, argv: list[str], env: dict[str, str], stdin: int,
                 stdout: int, stderr: int, report_w: int) -> NoReturn:  # pragma: no cover
    from .monitor import close_fds_except

    try:
        # The command's streams at new numbers, /dev/null on 0-2: the caller's own stdio
        # (a test's capture pipes, a terminal) must not stay open in this long-lived helper.
        stdin, stdout, stderr = (os.dup(fd) for fd in (stdin, stdout, stderr))
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        close_fds_except({stdin, stdout, stderr, report_w})
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTSTP):
            signal.signal(sig, signal.SIG_IGN)
        sc.set_child_subreaper()
        t = _Tracer(argv, env, stdin, stdout, stderr)
        for fd in {stdin, stdout, stderr}:
            os.close(fd)
        if not t.first:
            while t.read_notes():
                pass
            write_all(report_w, f"error proot: {t.errors() or 'no message'}\n".encode())
            os._exit(0)
        reg = register(state_dir, t.pid)
        write_all(report_w, b"started\n")
        code = _until_status(t, {})
        write_all(report_w, f"exit {255 if code is None else code}\n".encode())
        os.close(report_w)
        while t.read_notes():  # the exec's children live on until they end (or the
            pass               # container does, whose monitor kills them)
        os.waitpid(t.pid, 0)
        procs.kill_tree(os.getpid())
        with contextlib.suppress(ChildProcessError):
            while True:
                os.waitpid(-1, 0)
        reg.unlink(missing_ok=True)
    finally:
        os._exit(0)
