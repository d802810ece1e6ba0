"""Eight CLI processes at once on one store (issue 11): run, commit, build, tag and rmi
interleave freely. Each command either does its work or fails as Docker would on the same
race (a one-line conflict or "No such image", exit 1); no tag is lost, every image holds
what its own worker put in it, and ``system check`` finds the store consistent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import cleanup_root, needs_root
from layerlab.engine.services.check import Checker
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer.bootstrap import bootstrap

pytestmark = needs_root
WORKERS, ROUNDS = 8, 1
RACE = re.compile(r"No such image: common:latest|conflict|in use|being used", re.I)


def cli(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAYERLAB_ROOT": str(root), "LAYERLAB_STORAGE_DRIVER": "overlay"}
    return subprocess.run([sys.executable, "-m", "layerlab.engine.cli", *argv], env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=300)


def worker(root: Path, ctx: Path, i: int) -> list[str]:
    """One worker's rounds; the problems it saw (an empty list when all went well)."""
    problems = []

    def must(*argv: str) -> None:
        p = cli(root, *argv)
        if p.returncode != 0:
            problems.append(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")

    def may_race(*argv: str) -> None:
        p = cli(root, *argv)
        if p.returncode != 0 and not (p.returncode == 1 and RACE.search(p.stderr)
                                      and len(p.stderr.strip().splitlines()) == 1):
            problems.append(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip()}")

    for r in range(ROUNDS):
        tag = f"{i}-{r}"
        must("run", "--name", f"c{tag}", "busybox", "sh", "-c", f"echo {tag} > /mine")
        must("commit", f"c{tag}", f"mine{i}:{r}")
        must("build", "-q", "--build-arg", f"BASE=mine{i}:{r}", "-t", f"built{i}:{r}", str(ctx))
        must("tag", f"built{i}:{r}", f"all:{tag}")
        must("rmi", f"mine{i}:{r}")  # has a child: untagged, kept as its parent
        must("rm", f"c{tag}")
        may_race("tag", "busybox", "common:latest")
        may_race("rmi", "common:latest")
    return problems


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    bootstrap(Engine(root, "overlay"))
    try:
        yield root
    finally:
        cleanup_root(root)


def test_eight_way_run_commit_build_tag_rmi(root: Path, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("ARG BASE\nFROM $BASE\nRUN cat /mine > /copy\n")
    with ThreadPoolExecutor(WORKERS) as pool:
        problems = [p for ps in pool.map(lambda i: worker(root, ctx, i), range(WORKERS))
                    for p in ps]
    assert problems == []
    for i in range(WORKERS):
        for r in range(ROUNDS):
            p = cli(root, "run", "--rm", f"all:{i}-{r}", "cat", "/copy")
            assert (p.returncode, p.stdout) == (0, f"{i}-{r}\n"), p.stderr
    found = Checker(Engine(root, "overlay")).run()
    assert found == [], "\n".join(f"{f.kind} {f.object}: {f.problem}" for f in found)
    assert cli(root, "ps", "-aq").stdout == ""
