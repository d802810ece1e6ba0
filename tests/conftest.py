"""Shared fixtures: a fresh engine root per test, on each snapshot driver, cleaned up fully.

Tests leave no mounts, processes or cgroups behind, even when they fail.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
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
            if c.State.Running:
                with contextlib.suppress(EngineError):
                    engine.containers.remove(c.ID, force=True)
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    for m in sorted((m for m in mounts if m.startswith(str(root) + "/")), reverse=True):
        subprocess.run(["umount", "-l", m], check=False)


@pytest.fixture(params=["overlay", "vfs"])
def driver(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    r = tmp_path / "root"
    r.mkdir()
    try:
        yield r
    finally:
        cleanup_root(r)


@pytest.fixture
def engine(root: Path, driver: str) -> Engine:
    e = Engine(root, driver)
    bootstrap(e)
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


@pytest.fixture
def docker(engine: Engine, root: Path, driver: str) -> Docker:
    return Docker(root, driver)


def run_cmd(engine: Engine, *argv: str) -> tuple[int, str]:
    """Execute through the command layer in-process; returns (exit code, text)."""
    with open(os.devnull, "rb") as stdin, open(os.devnull, "wb") as out:
        result = execute(engine, list(argv), IO(stdin, out, out))
    return result.exit_code, result.text()
