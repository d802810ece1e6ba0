"""Running LayerLab as an unprivileged user, the way Binder does, from a root test run.

``nobody`` (uid 65534) cannot read a checkout under ``/root`` (mode 700), nor the test
venv that lives there, so :func:`build_python` makes a world-readable venv in a temp dir
on the system's Python: the package (a copy of this tree) and the distributions it needs,
hard-linked (or copied) from the test venv when the Python minor versions match, else
installed with pip. Commands then run under ``setpriv --reuid=65534 --regid=65534
--clear-groups --no-new-privs``, as the issue's Binder user does.

Cleanup (:class:`Nobody`): the test process is made a child subreaper, so every process
the unprivileged commands leave (monitors, keepers, containers, PRoot tracers: all
double-forked away) is reparented to it; at the end they are killed and reaped, and the
check that none of them is left is the test's.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from layerlab.engine.cliserver import server as cliserver
from layerlab.engine.linux import procs
from packaging.requirements import Requirement

NOBODY = 65534
REPO = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
           "--no-new-privs"]
# what the unprivileged side runs: the engine, the kernel, and nbclient to execute notebooks
EXTRA = ["nbclient", "nbformat"]
SKIP = {"jupyterlab", "playwright", "docker", "ruff", "pytest", "jupyter-kernel-test"}
_PR_SET_CHILD_SUBREAPER = 36


def _requirements() -> list[str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return [*deps, *EXTRA]


def _closure(roots: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``roots`` need, transitively (markers evaluated)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if name in seen or name in SKIP:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        todo += [Requirement(r) for r in dist.requires or []]
    return list(seen.values())


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _same_minor(python: str) -> bool:
    out = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out == str(tuple(sys.version_info[:2]))


def build_python(top: Path) -> Path:
    """A venv under ``top`` that ``nobody`` can run, with LayerLab and its kernelspec."""
    python = SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable
    venv = top / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path("
                                "'purelib'))"], capture_output=True, text=True,
                               check=True).stdout.strip())
    if _same_minor(str(py)):
        for dist in _closure(_requirements()):
            base = Path(str(dist.locate_file("")))
            for rel in dist.files or []:
                src = base / rel
                if ".." in rel.parts or not src.is_file() or "__editable__" in str(rel):
                    continue
                _link(src, site / rel)
    else:  # a different Python: the registry, as Binder's own pip install does
        subprocess.run([str(py), "-m", "ensurepip", "-q"], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *_requirements()], check=True)
    pkg = site / "layerlab"
    pkg.mkdir(exist_ok=True)
    for name in ("engine", "kernel"):
        shutil.copytree(REPO / name, pkg / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([str(py), "-m", "layerlab.kernel.install", "--sys-prefix"], check=True,
                   capture_output=True)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                mode = os.lstat(p).st_mode
                os.chmod(p, mode | 0o444 | (0o111 if mode & 0o111 or name in dirnames else 0))
    os.chmod(top, 0o755)
    return py


def set_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)


def _uid(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
        return data[data.rindex(")") + 2]
    except OSError:
        return ""


@dataclass
class Nobody:
    """One unprivileged user session: a HOME, its store, the commands it runs."""

    python: Path
    top: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.top / "home"

    @property
    def cli_servers(self) -> Path:
        """This session's warm-CLI server sockets (the client makes the directory)."""
        return self.home / "cli-servers"

    @property
    def store(self) -> Path:
        return self.home / ".local/share/layerlab"

    def environment(self, **extra: str) -> dict[str, str]:
        return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": str(self.home), "XDG_DATA_HOME": str(self.home / ".local/share"),
                "LAYERLAB_CLI_SERVER_DIR": str(self.cli_servers),
                "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **self.env, **extra}

    def run(self, argv: list[str], *, input: bytes | None = None, timeout: float = 180,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*SETPRIV, *argv], input=input, capture_output=True,
                              env=env or self.environment(), cwd=self.home, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def docker(self, *args: str, input: bytes | None = None, check: bool = True,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
        raw = self.run([str(self.python), "-m", "layerlab.engine.cli", *args], input=input,
                       timeout=timeout)
        p = subprocess.CompletedProcess(raw.args, raw.returncode,
                                        raw.stdout.decode(errors="replace"),
                                        raw.stderr.decode(errors="replace"))
        if check and p.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} (as nobody) exited {p.returncode}:"
                                 f"\n{p.stdout}\n{p.stderr}")
        return p

    def ours(self) -> list[int]:
        """Live processes of uid 65534 descended from this test process."""
        return [p for p in procs.descendants(os.getpid())
                if _uid(p) == NOBODY and _state(p) not in ("Z", "")]

    def stop_keeper(self) -> None:
        """The store's keeper lives until killed: the one process a session may leave."""
        with contextlib.suppress(OSError, ValueError, KeyError):
            import json

            rec = json.loads((self.store / "keeper.json").read_bytes())
            if rec["pid"] in self.ours():
                os.kill(rec["pid"], signal.SIGKILL)
                _wait_gone(rec["pid"], 10)
        reap_orphans()

    def cleanup(self) -> list[int]:
        """Stop the keeper, give exiting monitors a moment (by pidfd, no sleep), then kill
        and reap whatever is left: the PIDs that were still alive."""
        self.stop_keeper()
        cliserver.stop(str(self.cli_servers))
        reap_orphans()
        deadline = time.monotonic() + 5
        for pid in self.ours():
            _wait_gone(pid, max(0.0, deadline - time.monotonic()))
        reap_orphans()
        left = self.ours()
        for _ in range(50):
            alive = self.ours()
            if not alive:
                break
            for pid in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            reap_orphans()
            time.sleep(0.02)  # cleanup only: the kernel delivers SIGKILL asynchronously
        reap_orphans()
        return left


def _wait_gone(pid: int, timeout: float) -> None:
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def reap_orphans() -> None:
    """Reap zombies reparented to us (as subreaper) that no subprocess object waits for:
    processes whose parent is us but that we did not spawn (their parent was a setpriv'd
    CLI, long gone)."""
    me = os.getpid()
    for pid in procs.children(me):
        if _state(pid) == "Z" and _uid(pid) == NOBODY:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def proot_leftovers() -> set[str]:
    """PRoot's glue and loader files in /tmp owned by nobody."""
    return {p for p in glob.glob("/tmp/proot-*") + glob.glob("/tmp/prooted-*")
            if _owner(p) == NOBODY}


def _owner(path: str) -> int | None:
    try:
        return os.lstat(path).st_uid
    except OSError:
        return None


@contextlib.contextmanager
def session(python: Path, **env: str) -> Iterator[Nobody]:
    """A fresh HOME for nobody; on exit every process it left is killed and reaped, and
    its files removed. Raises if any process or PRoot file was still there."""
    top = Path(tempfile.mkdtemp(prefix="ll-nobody-"))
    os.chmod(top, 0o755)
    home = top / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    before = proot_leftovers()
    set_subreaper(True)
    nobody = Nobody(python, top, dict(env))
    try:
        yield nobody
    finally:
        try:
            left = nobody.cleanup()
        finally:
            set_subreaper(False)
            shutil.rmtree(top, ignore_errors=True)
        stray = proot_leftovers() - before
        for path in stray:
            with contextlib.suppress(OSError):
                shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
        assert not left and not stray, f"left behind: processes {left}, files {stray}"
