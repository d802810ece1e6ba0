#!/usr/bin/env python3
"""``run --rm true`` and ``exec`` in the unprivileged modes beside root mode (issue 8).

Like ``bench/run.py``, every sample is the wall clock of whole CLI invocations, the
median of N after one untimed warm-up. All rows use the same interpreter and the same
byte-compiled copy of LayerLab (the world-readable venv the unprivileged tests use), so
the rows differ only by the mode: root (as root), rootless on overlay and on vfs, and
PRoot on vfs (as uid 65534 under ``setpriv --no-new-privs``, the Binder user).

Run as root:  python bench/unprivileged_bench.py [--runs 20]

The table goes to stdout and to bench/results/unprivileged.md.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))
import unprivileged_kit as kit  # noqa: E402  (the tests' kit: venv, setpriv, cleanup)

RESULTS_FILE = BENCH_DIR / "results" / "unprivileged.md"
MODES = [("root", "overlay"), ("rootless", "overlay"), ("rootless", "vfs"), ("proot", "vfs")]


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False, timeout=300)
    ms = (time.perf_counter() - start) * 1000.0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[-4:])}: exit {p.returncode}: "
                           f"{p.stderr.decode(errors='replace').strip()[-300:]}")
    return ms


def median_of(runs: int, argv: list[str], env: dict[str, str], cwd: Path) -> float:
    samples = [timed(argv, env, cwd) for _ in range(runs + 1)][1:]
    return statistics.median(samples)


def bench_mode(python: Path, mode: str, driver: str, runs: int) -> tuple[float, float]:
    """(run --rm true, exec true) medians in ms for one mode."""
    if mode == "root":
        top = Path(tempfile.mkdtemp(prefix="llbench-root-"))
        env = {"PATH": os.environ["PATH"], "LAYERLAB_ROOT": str(top / "root"),
               "LAYERLAB_STORAGE_DRIVER": driver, "LAYERLAB_RUNTIME": "root"}
        cli = [str(python), "-m", "layerlab.engine.cli"]
        try:
            return _bench(cli, env, top, runs)
        finally:
            subprocess.run([*cli, "rm", "-f", "box"], env=env, capture_output=True, check=False)
            shutil.rmtree(top, ignore_errors=True)
    with kit.session(python, LAYERLAB_RUNTIME=mode, LAYERLAB_STORAGE_DRIVER=driver) as n:
        env = n.environment()
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cli = [*kit.SETPRIV, str(python), "-m", "layerlab.engine.cli"]
        try:
            return _bench(cli, env, n.home, runs)
        finally:
            n.docker("rm", "-f", "box", check=False)


def _bench(cli: list[str], env: dict[str, str], cwd: Path, runs: int) -> tuple[float, float]:
    timed([*cli, "pull", "busybox"], env, cwd)
    run = median_of(runs, [*cli, "run", "--rm", "busybox", "true"], env, cwd)
    timed([*cli, "run", "-d", "--name", "box", "busybox", "sleep", "3600"], env, cwd)
    exe = median_of(runs, [*cli, "exec", "box", "true"], env, cwd)
    return run, exe


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--output", type=Path, default=RESULTS_FILE)
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("run as root: the root row needs it, and the others drop to uid 65534")
    top = Path(tempfile.mkdtemp(prefix="llbench-py-"))
    rows = []
    try:
        python = kit.build_python(top)
        site = next((top / "venv" / "lib").glob("python3*/site-packages"))
        compileall.compile_dir(str(site / "layerlab"), quiet=1)
        for cache in site.rglob("__pycache__"):  # the new bytecode, for nobody too
            cache.chmod(0o755)
            for pyc in cache.iterdir():
                pyc.chmod(0o644)
        for mode, driver in MODES:
            print(f"{mode} ({driver}) x{args.runs} ...", file=sys.stderr, flush=True)
            try:
                run, exe = bench_mode(python, mode, driver, args.runs)
                rows.append((f"{mode} ({driver})", f"{run:.1f}", f"{exe:.1f}"))
            except (RuntimeError, subprocess.TimeoutExpired, AssertionError) as e:
                rows.append((f"{mode} ({driver})", "error", "error"))
                print(f"  failed: {e}", file=sys.stderr)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    head = ("mode (driver)", "`run --rm busybox true` median (ms)", "`exec box true` median (ms)")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in [head, *rows]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    report = "\n".join([
        "# LayerLab: unprivileged modes beside root mode",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- Machine: nproc={os.cpu_count()}, kernel {platform.release()}, load "
        f"{os.getloadavg()[0]:.1f}",
        f"- Median of {args.runs} runs after one warm-up; whole CLI invocations, one "
        "byte-compiled venv on the system Python for every row; unprivileged rows as uid "
        "65534 under `setpriv --no-new-privs`.",
        "",
        *lines,
        "",
    ])
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
