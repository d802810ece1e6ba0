#!/usr/bin/env python3
"""``commit`` and ``export`` of a container holding 50 MB, timed as whole CLI invocations
(median of N after one warm-up, as ``run.py`` does): what reading by descriptor costs.

    python bench/copyout_bench.py [--runs 7] [--driver overlay|vfs] [--engine DIR]

``--engine DIR`` times another checkout's engine directory (e.g. main's, to compare).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRY = ("import sys, types; engine_dir = sys.argv.pop(1)\n"
         "if engine_dir:\n"
         "    sys.meta_path[:] = [f for f in sys.meta_path\n"
         "                        if 'editable' not in type(f).__module__.lower()]\n"
         "    pkg = types.ModuleType('layerlab'); pkg.__path__ = []\n"
         "    sys.modules['layerlab'] = pkg\n"
         "    import importlib.util as u\n"
         "    spec = u.spec_from_file_location('layerlab.engine', engine_dir + '/__init__.py',\n"
         "                                     submodule_search_locations=[engine_dir])\n"
         "    m = u.module_from_spec(spec); sys.modules['layerlab.engine'] = m\n"
         "    spec.loader.exec_module(m)\n"
         "from layerlab.engine.cli import run; run()\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--driver", default="overlay")
    ap.add_argument("--engine", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="llcopyout-") as tmp:
        env = {**os.environ, "LAYERLAB_ROOT": f"{tmp}/root",
               "LAYERLAB_STORAGE_DRIVER": args.driver}

        def cli(*argv: str) -> str:
            p = subprocess.run([sys.executable, "-c", ENTRY, args.engine, *argv], env=env,
                               capture_output=True, text=True, check=True)
            return p.stdout.strip()

        cli("pull", "busybox")
        cid = cli("create", "busybox", "true")
        src = Path(tmp, "root", args.driver, cid, "diff" if args.driver == "overlay"
                   else "rootfs", "data")
        src.mkdir()
        for i in range(50):
            (src / f"f{i}").write_bytes(os.urandom(1 << 20))
        rows = []
        for name, argv in (("commit 50 MB", ["commit", cid]),
                           ("export 50 MB", ["export", "-o", f"{tmp}/out.tar", cid])):
            times = []
            for i in range(args.runs + 1):
                start = time.perf_counter()
                out = cli(*argv)
                elapsed = (time.perf_counter() - start) * 1000
                if name.startswith("commit"):
                    cli("rmi", out)
                if i:
                    times.append(elapsed)
            rows.append(f"| {name} | {statistics.median(times):.0f} ms |")
        print(f"engine: {args.engine or 'this checkout'}, driver {args.driver}, "
              f"median of {args.runs}")
        print("| op | median |\n|---|---|\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
