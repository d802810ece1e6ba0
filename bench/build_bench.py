#!/usr/bin/env python3
"""`build` of a 10-step RUN Dockerfile, cold and fully cached: LayerLab beside `podman build`
(issue #3, target ratio ≤ 0.5 for both).

Each sample is the wall clock of one whole `build` invocation. Cold: the image and every
intermediate it left are removed before each run (LayerLab: `rmi` of the tag, which takes
its untagged parents with it; Podman: `rmi` plus `image prune` in a private store, so no
one else's images are touched), so every step runs a container and commits a layer.
Cached: the same build again, every step a cache hit. Median of N runs after one untimed
warm-up. Set-up helpers (byte-compiling, the Podman reference set-up, the real LayerLab
entry point) come from `bench/run.py`.

    python bench/build_bench.py [--runs 5] [--driver overlay|vfs] [--no-podman]

Run it as root; the table goes to stdout and to bench/results/build.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "build.md"
STEPS = 10
TAG = "llbuildbench:latest"
TARGET = 0.5


def _common():  # type: ignore[no-untyped-def]
    """bench/run.py's set-up helpers, loaded as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_run", BENCH_DIR / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class Builder:
    """One engine's CLI with the commands this benchmark needs."""

    def __init__(self, name: str, argv: list[str], base: str, env: dict[str, str],
                 context: Path, build_flags: list[str], clear: list[list[str]]) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.context = context
        self.build_flags = build_flags
        self.clear_cmds = clear
        (context / "Dockerfile").write_text(dockerfile(base))

    def call(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run([*self.argv, *args], cwd="/tmp", env=self.env, text=True,
                              capture_output=True, timeout=600, check=False)
        if check and proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"{self.name} {' '.join(args)}: exit {proc.returncode}: "
                               f"{tail[0][:300]}")
        return proc.stdout

    def build(self) -> float:
        start = time.perf_counter()
        self.call("build", *self.build_flags, "-t", TAG, str(self.context))
        return (time.perf_counter() - start) * 1000.0

    def clear(self) -> None:
        """Remove the built image and the intermediates it left: the next build is cold."""
        for cmd in self.clear_cmds:
            self.call(*cmd, check=False)


def dockerfile(base: str) -> str:
    steps = "".join(f"RUN echo step {i} > /step{i}\n" for i in range(1, STEPS + 1))
    return f"FROM {base}\n{steps}"


def measure(builders: list[Builder], runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """(cold, cached) samples per engine. The engines take turns run by run, so load from
    anything else on the machine falls on both alike; one untimed warm-up round each."""
    cold: dict[str, list[float]] = {b.name: [] for b in builders}
    cached: dict[str, list[float]] = {b.name: [] for b in builders}
    for i in range(runs + 1):
        for b in builders:
            b.clear()
            ms = b.build()
            if i:
                cold[b.name].append(ms)
    for i in range(runs + 1):
        for b in builders:
            ms = b.build()
            if i:
                cached[b.name].append(ms)
    for b in builders:
        b.clear()
    return {b.name: (cold[b.name], cached[b.name]) for b in builders}


def podman_store(tmp: Path, env: dict[str, str]) -> list[str]:
    """A private Podman store (short path: Podman limits the runroot's length) holding
    only localhost/busybox, copied from the reference set-up's store."""
    root = Path(tempfile.mkdtemp(prefix="llbb-", dir="/tmp"))
    argv = [shutil.which("podman") or "podman", "--root", str(root / "root"), "--runroot",
            str(root / "run")]
    archive = tmp / "busybox.tar"
    subprocess.run(["podman", "save", "-o", str(archive), "localhost/busybox:latest"],
                   cwd="/tmp", env=env, check=True, capture_output=True)
    subprocess.run([*argv, "load", "-i", str(archive)], cwd="/tmp", env=env, check=True,
                   capture_output=True)
    return argv


def table(rows: list[tuple[str, list[float], list[float] | None]]) -> str:
    head = ["build (10 RUN steps)", "LayerLab median (ms)", "Podman median (ms)",
            "ratio (LayerLab/Podman)", "target", "met?"]
    body = []
    for label, ll, pd in rows:
        ours = statistics.median(ll)
        if pd:
            ratio = ours / statistics.median(pd)
            cells = [f"{statistics.median(pd):.1f}", f"{ratio:.2f}",
                     "yes" if ratio <= TARGET else "no"]
        else:
            cells = ["n/a", "n/a", "n/a"]
        body.append([label, f"{ours:.1f}", cells[0], cells[1], f"≤ {TARGET:g}", cells[2]])
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in [head, *body]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs per case (default 5)")
    p.add_argument("--driver", choices=["overlay", "vfs"], default="overlay")
    p.add_argument("--no-podman", action="store_true", help="LayerLab numbers only")
    p.add_argument("--output", type=Path, default=RESULTS_FILE)
    args = p.parse_args(argv)
    common = _common()
    env = common.bench_env()
    tmp = Path(tempfile.mkdtemp(prefix="llbuildbench-"))
    podman_argv: list[str] = []
    try:
        package = common.compile_layerlab()
        llargv = common.layerlab_argv()
        root = tmp / "root"
        ll = [*llargv, "--root", str(root), "--storage-driver", args.driver]
        (tmp / "ll").mkdir()
        layerlab = Builder("LayerLab", ll, "busybox", env, tmp / "ll", [],
                           [["rmi", TAG], ["image", "prune", "-f"]])
        layerlab.call("pull", "busybox")
        builders = [layerlab]
        why_not = common.setup_podman(args.no_podman)
        if why_not is None:
            podman_argv = podman_store(tmp, env)
            (tmp / "pd").mkdir()
            builders.append(Builder("Podman", podman_argv, "localhost/busybox:latest", env,
                                    tmp / "pd", ["--network", "none"],
                                    [["rmi", "-f", TAG], ["image", "prune", "-f"]]))
        print(f"{' and '.join(b.name for b in builders)}: {args.runs} cold and {args.runs} "
              "cached builds each, taking turns ...", file=sys.stderr)
        samples = measure(builders, args.runs)
        ll_cold, ll_cached = samples["LayerLab"]
        pd_cold, pd_cached = samples.get("Podman") or (None, None)
        report = "\n".join([
            "# `build`: LayerLab vs Podman, wall clock of whole CLI invocations",
            "",
            f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
            f"- LayerLab ({args.driver} driver, invoked as `{' '.join(llargv)}`, "
            f"byte-compiled {package})",
            f"- {common.first_line(['podman', '--version'])}, private store (overlay), "
            "`build --network none`, run from /tmp" if why_not is None
            else f"- **Podman not measured: {why_not}.**",
            f"- Median of {args.runs} runs after one warm-up, the engines taking turns. Cold: "
            "image and intermediates removed before each run. Cached: every step a cache hit.",
            "",
            table([("cold", ll_cold, pd_cold), ("fully cached", ll_cached, pd_cached)]),
            "",
        ])
        print(report)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        return 0
    finally:
        if podman_argv:
            store = Path(podman_argv[2]).parent
            subprocess.run([*podman_argv, "rmi", "-af"], cwd="/tmp", capture_output=True,
                           check=False)
            common.unmount_under(store)
            shutil.rmtree(store, ignore_errors=True)
        common.unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
