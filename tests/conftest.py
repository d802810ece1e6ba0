"""Shared fixtures: a fresh engine root per test, on each snapshot driver, cleaned up fully.

Tests leave no mounts, processes or cgroups behind, even when they fail.

Tests marked ``@pytest.mark.unprivileged("rootless", "proot")`` also run as the Binder
user would: uid 65534 under ``setpriv --no-new-privs``, the mode forced with
``LAYERLAB_RUNTIME`` (rootless on both drivers, PRoot on vfs); ``isolation`` names the
mode, and such a test asserts what its mode reports where it cannot show a claim.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import unprivileged_kit as kit
from layerlab.engine.cliserver import server as cliserver
from layerlab.engine.commands import IO, execute
from layerlab.engine.errors import EngineError
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer.bootstrap import bootstrap

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="containers need root on this host")

# Our own cgroup parent, so tests never touch another engine's containers.
os.environ.setdefault("LAYERLAB_CGROUP_ROOT", f"layerlab-test-{uuid.uuid4().hex[:8]}")


def _free_test_subnet() -> str:
    """A 10.213.X.0/24 the host neither routes nor holds: the default bridge's, for tests."""
    import json
    import random
    from ipaddress import IPv4Network

    used = []
    for what in ("route", "addr"):
        out = subprocess.run(["ip", "-j", "-4", what], capture_output=True, text=True)
        for row in json.loads(out.stdout or "[]"):
            if what == "route" and row.get("dst", "default") != "default":
                used.append(IPv4Network(row["dst"], strict=False))
            for a in row.get("addr_info", []):
                used.append(IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False))
    for x in random.sample(range(256), 256):
        net = IPv4Network(f"10.213.{x}.0/24")
        if not any(net.overlaps(u) for u in used):
            return str(net)
    raise RuntimeError("no free 10.213.X.0/24 for the tests' default bridge")


# Interfaces named with a prefix of this session's own, and a default bridge on a subnet
# the host does not use: tests never touch another engine's bridges or the host's network.
os.environ.setdefault("LAYERLAB_NET_PREFIX", "t" + uuid.uuid4().hex[:4])
os.environ.setdefault("LAYERLAB_BRIDGE_SUBNET", _free_test_subnet())


# The warm CLI's servers (``cliserver``) of this session live in a directory of its own,
# and are stopped at its end.
os.environ.setdefault("LAYERLAB_CLI_SERVER_DIR", tempfile.mkdtemp(prefix="ll-cli-servers-"))


@pytest.fixture(scope="session", autouse=True)
def _stop_cli_servers() -> Iterator[None]:
    yield
    servers = Path(os.environ["LAYERLAB_CLI_SERVER_DIR"])
    cliserver.stop(str(servers))
    shutil.rmtree(servers, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _remove_test_interfaces() -> Iterator[None]:
    """Containers remove their veths and ``network rm`` its bridge; the default bridge (like
    docker0) stays while a store lives, so the session's goes at the end."""
    yield
    prefix = os.environ["LAYERLAB_NET_PREFIX"]
    out = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True)
    import json

    for link in json.loads(out.stdout or "[]"):
        if link["ifname"].startswith(prefix):
            subprocess.run(["ip", "link", "del", link["ifname"]], capture_output=True)


@pytest.fixture(scope="session", autouse=True)
def _remove_test_cgroup_parents() -> Iterator[None]:
    """Containers remove their own cgroups; the per-session parent groups go at the end."""
    yield
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if " - cgroup" in line]
    for mount in mounts:
        parent = Path(mount) / os.environ["LAYERLAB_CGROUP_ROOT"]
        if parent.is_dir():
            for child in sorted(parent.rglob("*"), reverse=True):
                if child.is_dir():
                    child.rmdir()
            parent.rmdir()


def cleanup_root(root: Path) -> None:
    """Kill every container of ``root``, then unmount whatever is still mounted below it."""
    if (root / "containers").exists():
        engine = Engine(root, "vfs")
        for c in engine.containers.all():
            if c.State.Running or c.State.Restarting:  # restarting: its restarter waits
                with contextlib.suppress(EngineError):
                    engine.containers.remove(c.ID, force=True)
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    for m in sorted((m for m in mounts if m.startswith(str(root) + "/")), reverse=True):
        subprocess.run(["umount", "-l", m], check=False)


UNPRIVILEGED_DRIVERS = {"rootless": ("overlay", "vfs"), "proot": ("vfs",)}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unprivileged(*modes): also run as uid 65534 in "
                            "these isolation modes (rootless, proot)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test on a driver runs on both (unless it pins one); a marked one also as
    nobody in the modes it names."""
    if "driver" not in metafunc.fixturenames or any(
            m.args and "driver" in (m.args[0] if isinstance(m.args[0], tuple)
                                    else m.args[0].split(","))
            for m in metafunc.definition.iter_markers("parametrize")):
        return
    marker = metafunc.definition.get_closest_marker("unprivileged")
    if marker is None:
        metafunc.parametrize("driver", ["overlay", "vfs"])
        return
    combos = [("root", d) for d in ("overlay", "vfs")]
    combos += [(mode, d) for mode in marker.args for d in UNPRIVILEGED_DRIVERS[mode]]
    metafunc.parametrize(("isolation", "driver"), combos,
                         ids=[f"{mode}-{d}" for mode, d in combos])


@pytest.fixture
def driver() -> str:
    """The snapshot driver (parametrized by ``pytest_generate_tests``)."""
    return "overlay"


@pytest.fixture
def isolation() -> str:
    """The mode a test runs in: root unless the test is marked ``unprivileged``."""
    return "root"


@pytest.fixture(scope="session")
def nobody_python() -> Iterator[Path]:
    """A venv nobody can run, with this tree installed (built once per session)."""
    if not ROOT or shutil.which("setpriv") is None:
        pytest.skip("dropping to nobody needs root and setpriv")
    top = Path(tempfile.mkdtemp(prefix="ll-nobody-py-"))
    try:
        yield kit.build_python(top)
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def nobody(request: pytest.FixtureRequest, isolation: str) -> Iterator[kit.Nobody | None]:
    """The unprivileged session of an unprivileged-mode test (None in root mode); at the
    end its containers are removed, its keeper killed, and nothing of it may be left."""
    if isolation == "root":
        yield None
        return
    python = request.getfixturevalue("nobody_python")
    with kit.session(python, LAYERLAB_RUNTIME=isolation) as n:
        try:
            yield n
        finally:
            ids = n.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                n.docker("rm", "-f", *ids, check=False)


@pytest.fixture
def tmp_path(tmp_path_factory: pytest.TempPathFactory, nobody: kit.Nobody | None) -> Path:
    """pytest's, or in an unprivileged-mode test one that nobody can use (pytest's own
    live in a root-only directory)."""
    if nobody is None:
        return tmp_path_factory.mktemp("t")
    path = nobody.top / "tmp"
    path.mkdir()
    os.chown(path, kit.NOBODY, kit.NOBODY)
    return path


@pytest.fixture
def root(tmp_path: Path, nobody: kit.Nobody | None) -> Iterator[Path]:
    r = tmp_path / "root" if nobody is None else nobody.store
    r.mkdir(parents=True)
    if nobody is not None:
        for path in (nobody.home / ".local", nobody.home / ".local/share"):
            os.chown(path, kit.NOBODY, kit.NOBODY)
    try:
        yield r
    finally:
        if nobody is None:
            cleanup_root(r)


@pytest.fixture
def engine(root: Path, driver: str, nobody: kit.Nobody | None) -> Engine:
    e = Engine(root, driver)
    bootstrap(e)
    if nobody is not None:  # the store is the unprivileged user's
        for path in [root, *root.rglob("*")]:
            os.lchown(path, kit.NOBODY, kit.NOBODY)
    return e


class Docker:
    """Runs docker command lines through the real CLI process, like a user in a terminal."""

    def __init__(self, root: Path, driver: str) -> None:
        self.env = {**os.environ, "LAYERLAB_ROOT": str(root),
                    "LAYERLAB_STORAGE_DRIVER": driver}

    def __call__(self, *args: str, input: bytes | None = None, check: bool = True,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:
        raw = subprocess.run([sys.executable, "-m", "layerlab.engine.cli", *args],
                             input=input, capture_output=True, env=self.env, timeout=timeout,
                             stdin=None if input is not None else subprocess.DEVNULL)
        p = subprocess.CompletedProcess(raw.args, raw.returncode,
                                        raw.stdout.decode(errors="replace"),
                                        raw.stderr.decode(errors="replace"))
        if check and p.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {p.returncode}:\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p

    def out(self, *args: str) -> str:
        return self(*args).stdout.strip()


class UnprivilegedDocker(Docker):
    """The same command lines, run by nobody in an unprivileged isolation mode."""

    def __init__(self, nobody: kit.Nobody, root: Path, driver: str) -> None:
        self.nobody = nobody
        self.env = nobody.environment(LAYERLAB_ROOT=str(root), LAYERLAB_STORAGE_DRIVER=driver)

    def __call__(self, *args: str, input: bytes | None = None, check: bool = True,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:
        raw = self.nobody.run([str(self.nobody.python), "-m", "layerlab.engine.cli", *args],
                              input=input, timeout=timeout, env=self.env)
        p = subprocess.CompletedProcess(raw.args, raw.returncode,
                                        raw.stdout.decode(errors="replace"),
                                        raw.stderr.decode(errors="replace"))
        if check and p.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} (as nobody) exited "
                                 f"{p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p


def without_notices(text: str) -> str:
    """A command's stderr less the engine's one-line mode notices (tested on their own)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("notice: "))


@pytest.fixture
def docker(engine: Engine, root: Path, driver: str, nobody: kit.Nobody | None) -> Docker:
    return Docker(root, driver) if nobody is None else UnprivilegedDocker(nobody, root, driver)


def run_cmd(engine: Engine, *argv: str) -> tuple[int, str]:
    """Execute through the command layer in-process; returns (exit code, text)."""
    with open(os.devnull, "rb") as stdin, open(os.devnull, "wb") as out:
        result = execute(engine, list(argv), IO(stdin, out, out))
    return result.exit_code, result.text()
