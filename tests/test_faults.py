"""Fault injection (issue 11): ``kill -9`` at every step of commit, save, load, import,
build, rmi and ``rm -f``, then ``system check`` finds the store consistent and the command
run again succeeds.

The kill points come from ``engine/faults.py``: with ``LAYERLAB_FAULT_KILL_AFTER=N`` the
CLI SIGKILLs itself before its Nth filesystem change. A first run counts the changes the
command makes; the trials then spread N over that whole range, so each lands on a
different step boundary (``LAYERLAB_FAULT_TRIALS``, default 20 per command, as issue 11
asks; set more for a deep run).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import needs_root, run_cmd
from layerlab.engine.services.check import Checker
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer import archive
from layerlab.engine.transfer.bootstrap import bootstrap
from test_archives import add_layer

pytestmark = needs_root
TRIALS = int(os.environ.get("LAYERLAB_FAULT_TRIALS", "20"))


class Killer:
    def __init__(self, root: Path, tmp: Path) -> None:
        self.root, self.tmp = root, tmp
        self.env = {**os.environ, "LAYERLAB_ROOT": str(root),
                    "LAYERLAB_STORAGE_DRIVER": "overlay"}

    def cli(self, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "layerlab.engine.cli", *argv],
                              env={**self.env, **env}, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)

    def count(self, argv: list[str]) -> int:
        counter = self.tmp / "count"
        p = self.cli(argv, LAYERLAB_FAULT_COUNT=str(counter))
        assert p.returncode == 0, p.stderr
        return int(counter.read_text())

    def points(self, total: int) -> list[int]:
        """``TRIALS`` kill points spread over 1..total (every one if there are fewer)."""
        if total <= TRIALS:
            return list(range(1, total + 1))
        return sorted({1 + round(i * (total - 1) / (TRIALS - 1)) for i in range(TRIALS)})


def consistent(root: Path) -> None:
    found = Checker(Engine(root, "overlay")).run()
    assert found == [], "\n".join(f"{f.kind} {f.object}: {f.problem}" for f in found)


def trials(k: Killer, argv: Callable[[], list[str]], reset: Callable[[], None],
           verify: Callable[[], None]) -> int:
    """Kill ``argv`` at each point; after each: consistent, retry works, ``verify``."""
    reset()
    assert k.cli(argv()).returncode == 0  # warm: caches (unpacked layers) made once, so
    reset()  # the count is the steady state every trial starts from
    total = k.count(argv())
    verify()
    killed = 0
    for n in k.points(total):
        reset()
        p = k.cli(argv(), LAYERLAB_FAULT_KILL_AFTER=str(n))
        killed += p.returncode == -9
        consistent(k.root)
        retry = k.cli(argv())
        assert retry.returncode == 0, f"retry after a kill at step {n}: {retry.stderr}"
        verify()
        consistent(k.root)
    assert killed >= len(k.points(total)) * 3 // 4
    return killed


@pytest.fixture
def killer(tmp_path: Path) -> Killer:
    from conftest import cleanup_root

    root = tmp_path / "root"
    e = Engine(root, "overlay")
    bootstrap(e)
    try:
        yield Killer(root, tmp_path)
    finally:
        cleanup_root(root)


def engine_of(k: Killer) -> Engine:
    return Engine(k.root, "overlay")


def demo_archive(k: Killer) -> Path:
    src = Engine(k.tmp / "src", "vfs")
    bootstrap(src)
    one = add_layer(src, "busybox", {"etc/one": b"1\n" * 1000}, "demo:one")
    add_layer(src, one, {"etc/two": b"2\n" * 1000}, "demo:two")
    path = k.tmp / "demo.tar"
    with path.open("wb") as f:
        archive.save(src, ["demo:two"], f)
    return path


def drop(k: Killer, *refs: str) -> None:
    e = engine_of(k)
    for ref in refs:
        if ref in e.images.refs():
            e.images.remove(ref, force=True)
    e.images.prune()


def has_files(k: Killer, ref: str, *paths: str) -> None:
    e = engine_of(k)
    cid = e.containers.create(ref, __import__(
        "layerlab.engine.services.containers", fromlist=["CreateOptions"]).CreateOptions(
        cmd=["true"])).ID
    buf = io.BytesIO()
    e.containers.export(cid, buf)
    e.containers.remove(cid)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        assert set(paths) <= set(tf.getnames())


def test_kill_load(killer: Killer) -> None:
    path = demo_archive(killer)
    trials(killer, lambda: ["load", "-i", str(path)], lambda: drop(killer, "demo:two"),
           lambda: has_files(killer, "demo:two", "etc/one", "etc/two"))


def test_kill_import(killer: Killer) -> None:
    flat = killer.tmp / "flat.tar"
    with tarfile.open(flat, "w") as tf:
        for i in range(20):
            data = f"file {i}\n".encode()
            ti = tarfile.TarInfo(f"d{i % 3}/f{i}")
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    trials(killer, lambda: ["import", str(flat), "imp:1"], lambda: drop(killer, "imp:1"),
           lambda: has_files(killer, "imp:1", "d0/f0", "d1/f19"))


def test_kill_commit(killer: Killer) -> None:
    e = engine_of(killer)
    cid = run_cmd(e, "create", "--name", "box", "busybox", "true")[1].strip()
    data = e.driver("overlay").upper(cid) / "data"
    data.mkdir()
    for i in range(10):
        (data / f"f{i}").write_bytes(os.urandom(4096))
    trials(killer, lambda: ["commit", "box", "snap:1"], lambda: drop(killer, "snap:1"),
           lambda: has_files(killer, "snap:1", "data/f0", "data/f9"))


def test_kill_rmi(killer: Killer) -> None:
    path = demo_archive(killer)

    def reset() -> None:
        e = engine_of(killer)
        if "demo:two" not in e.images.refs():
            with path.open("rb") as f:
                archive.load(e, f)

    def gone() -> None:
        e = engine_of(killer)
        assert "demo:two" not in e.images.refs()
        assert len(e.store.layers.all()) == 1  # busybox's alone

    def argv() -> list[str]:
        return ["rmi", "demo:two"]

    reset()
    total = killer.count(argv())
    for n in killer.points(total):
        reset()
        killer.cli(argv(), LAYERLAB_FAULT_KILL_AFTER=str(n))
        consistent(killer.root)
        retry = killer.cli(argv())
        assert retry.returncode == 0 or "No such image" in retry.stderr, retry.stderr
        gone()
        consistent(killer.root)


def test_kill_rm_force(killer: Killer) -> None:
    def argv() -> list[str]:
        return ["rm", "-f", "sleeper"]

    def start() -> None:
        e = engine_of(killer)
        if not any(c.Name == "sleeper" for c in e.containers.all()):
            p = killer.cli(["run", "-d", "--name", "sleeper", "busybox", "sleep", "300"])
            assert p.returncode == 0, p.stderr

    def gone() -> None:
        e = engine_of(killer)
        assert not [c for c in e.containers.all() if c.Name == "sleeper"]
        with open("/proc/self/mountinfo") as f:
            assert str(killer.root) not in f.read()

    start()
    total = killer.count(argv())
    for n in killer.points(total):
        start()
        killer.cli(argv(), LAYERLAB_FAULT_KILL_AFTER=str(n))
        consistent(killer.root)
        retry = killer.cli(argv())
        assert retry.returncode == 0 or "No such container" in retry.stderr, retry.stderr
        gone()
        consistent(killer.root)


def test_kill_build(killer: Killer) -> None:
    ctx = killer.tmp / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("from the context\n")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY f /f\nRUN echo ran > /g\n")
    trials(killer, lambda: ["build", "--no-cache", "-t", "built:1", str(ctx)],
           lambda: drop(killer, "built:1"), lambda: has_files(killer, "built:1", "f", "g"))


def test_kill_save(killer: Killer) -> None:
    out = killer.tmp / "saved.tar"

    def verify() -> None:
        target = Engine(killer.tmp / "check-load", "vfs")
        with out.open("rb") as f:
            assert archive.load(target, f) == ["Loaded image: busybox:latest"]

    trials(killer, lambda: ["save", "-o", str(out), "busybox"], lambda: None, verify)
