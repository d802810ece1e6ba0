#!/usr/bin/env python3
"""A ``docker ps`` cell in the LayerLab kernel against a ``pass`` cell in IPython's kernel.

Both kernels run side by side, started from their kernelspecs as JupyterLab starts them;
each sample is one cell's round trip as a front-end sees it: execute_request sent →
execute_reply received and the kernel back to idle on IOPub. We report the median and
90th percentile of N runs after a few untimed warm-ups (first cells pay for imports).
The target is a ``docker ps`` round trip within 2× of IPython's ``pass``.

    python bench/kernel_bench.py [--runs 50] [--containers 5]

State lives in a temporary LAYERLAB_ROOT holding busybox and a few created containers, so
``ps -a`` lists real rows; nothing is left behind.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from layerlab.engine.commands import IO, execute
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer.bootstrap import bootstrap
from layerlab.kernel.install import install


def round_trip(kc: BlockingKernelClient, code: str) -> float:
    """Seconds from sending the cell to having both its reply and its idle status."""
    start = time.perf_counter()
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id and reply["content"]["status"] == "ok"
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            return time.perf_counter() - start


def measure(kernel: str, code: str, runs: int, warmup: int = 5) -> list[float]:
    km = KernelManager(kernel_name=kernel)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        for _ in range(warmup):
            round_trip(kc, code)
        return [round_trip(kc, code) for _ in range(runs)]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--containers", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="layerlab-kbench-") as tmp:
        root = Path(tmp) / "root"
        install(prefix=str(Path(tmp) / "prefix"))
        os.environ["JUPYTER_PATH"] = str(Path(tmp) / "prefix" / "share" / "jupyter")
        os.environ["LAYERLAB_ROOT"] = str(root)
        engine = Engine(root)
        bootstrap(engine)
        with open(os.devnull, "rb") as i, open(os.devnull, "wb") as o:
            for n in range(args.containers):
                execute(engine, ["create", "--name", f"bench{n}", "busybox", "true"],
                        IO(i, o, o))
        ipython = measure("python3", "pass", args.runs)
        layerlab = measure("layerlab", "docker ps -a", args.runs)
        # created containers only: no processes, mounts or cgroups to clean up
    rows = [("IPython kernel: `pass`", ipython), ("LayerLab kernel: `docker ps -a`", layerlab)]
    print(f"Cell round trip (execute_request → reply + idle), {args.runs} runs, "
          f"{args.containers} containers, Python {sys.version.split()[0]}\n")
    print("| cell | median (ms) | p90 (ms) | ratio (median) |")
    print("|---|---:|---:|---:|")
    base = statistics.median(ipython)
    for name, samples in rows:
        print(f"| {name} | {1000 * statistics.median(samples):.1f} | "
              f"{1000 * p90(samples):.1f} | "
              f"{statistics.median(samples) / base:.2f}× |")
    ratio = statistics.median(layerlab) / base
    print(f"\nTarget ≤ 2×: {'met' if ratio <= 2 else 'NOT met'} ({ratio:.2f}×).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
