#!/usr/bin/env python3
"""Every performance target of issue 12 in one table: kernel cells, CLI start, listings at
scale and the data path, LayerLab beside Podman and beside the floors (what the machine
itself takes for the same work), as Markdown on stdout and in ``--output``.

    python bench/all.py                          # a few minutes on a 2-core VM
    python bench/all.py --only cli,scale --runs 5 --images 100 --containers 100
    python bench/all.py --data-mib 1024          # the issue's 1 GB layer

Run as root with the interpreter that has LayerLab installed. Sections:

- **kernel**: a cell's round trip (execute_request → reply and idle) in the LayerLab
  kernel and a ``pass`` cell in IPython's, both started from their kernelspecs;
- **cli**: whole CLI invocations: ``layerlab version`` against ``python -c pass`` (the
  same interpreter and site), ``run --rm --network none busybox true`` against Podman's
  and against ``unshare -pmuin --fork true`` (the namespaces alone), ``pause`` +
  ``unpause`` of a running container against Podman's. Commands are served by the warm
  CLI's server (``engine/cliserver``, started before any timing), as a user's are after
  their first; ``version`` and ``run`` are timed cold too (``LAYERLAB_CLI_SERVER=0``);
- **scale**: ``history`` of a ``--depth``-layer image, ``images -a`` with ``--images``
  images, ``ps -a`` with ``--containers`` containers. Both engines load the *same*
  docker-archive (one deep image and N images of busybox plus one small layer each) and
  create the same containers (Podman with ``--network none``), set-up untimed;
- **data**: ``commit``, ``save`` and ``load`` of a container layer holding one
  ``--data-mib`` MiB file of random bytes, beside ``tar c | sha256sum`` of that file
  (the floor: reading and hashing the bytes once).

Podman runs in a private store under /tmp (``podman-setup.sh`` must have set Podman up),
always with ``--network none``: its default network would enable IP forwarding and NAT
on the host. Everything made is removed at the end, even after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SECTIONS = ("kernel", "cli", "scale", "data")


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH_DIR / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


common = _load("run")  # set-up helpers shared with run.py: entry point, bytecode, Podman


@dataclass
class Row:
    section: str
    label: str
    ours: list[float] | None
    ref_label: str = ""
    ref: list[float] | None = None
    target: float | None = None
    note: str = ""


def median(samples: list[float] | None) -> str:
    return f"{statistics.median(samples):.1f}" if samples else "n/a"


def render(rows: list[Row]) -> str:
    head = ["section", "what", "LayerLab (ms)", "reference", "reference (ms)", "ratio",
            "target", "met?"]
    body = []
    for r in rows:
        if r.ours and r.ref:
            ratio = statistics.median(r.ours) / statistics.median(r.ref)
            ratio_s = f"{ratio:.2f}×"
            met = "n/a" if r.target is None else ("yes" if ratio <= r.target else "no")
        else:
            ratio_s, met = "n/a", "n/a"
        body.append([r.section, r.label + (f" ({r.note})" if r.note else ""), median(r.ours),
                     r.ref_label or "—", median(r.ref), ratio_s,
                     "—" if r.target is None else f"≤ {r.target:g}×", met])
    lines = ["| " + " | ".join(row) + " |" for row in [head, *body]]
    lines.insert(1, "|" + "|".join("---" for _ in head) + "|")
    return "\n".join(lines)


def timed(argv: list[str], env: dict[str, str], runs: int,
          before: Callable[[], None] | None = None) -> list[float]:
    """Wall clock of ``argv`` as one process, one untimed warm-up, then ``runs`` samples;
    ``before`` (untimed) resets state before each."""
    out = []
    for i in range(runs + 1):
        if before is not None:
            before()
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd="/tmp", env=env, capture_output=True,
                              timeout=common.CALL_TIMEOUT, check=False)
        ms = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace').strip()[-300:]}")
        if i:
            out.append(ms)
    return out


class Engines:
    """LayerLab (a fresh root) and Podman (a private store), with their argv and cleanup."""

    def __init__(self, tmp: Path, env: dict[str, str], podman: bool) -> None:
        self.tmp, self.env = tmp, env
        # the warm CLI's servers (engine/cliserver) of this run, stopped at its end
        self.servers = tmp / "cli-servers"
        env["LAYERLAB_CLI_SERVER_DIR"] = str(self.servers)
        self.root = tmp / "root"
        self.ll = [*common.layerlab_argv(), "--root", str(self.root), "--storage-driver",
                   "overlay"]
        self.podman: list[str] | None = None
        self.why_not = common.setup_podman(not podman)
        if self.why_not is None:
            store = Path(tempfile.mkdtemp(prefix="llall-", dir="/tmp"))  # a short runroot
            self.podman_store = store
            self.podman = [shutil.which("podman") or "podman", "--root", str(store / "root"),
                           "--runroot", str(store / "run")]
        self.call(self.ll, "pull", "busybox")  # and the CLI server starts
        for _ in range(600):  # every timed command is served, the warm-ups included
            if any(self.servers.glob("*.sock")):
                break
            time.sleep(0.05)
        self.busybox_archive = tmp / "busybox.tar"
        self.call(self.ll, "save", "-o", str(self.busybox_archive), "busybox")
        if self.podman:
            self.call(self.podman, "load", "-i", str(self.busybox_archive))

    def call(self, argv: list[str], *args: str) -> str:
        proc = subprocess.run([*argv, *args], cwd="/tmp", env=self.env, capture_output=True,
                              text=True, timeout=common.CALL_TIMEOUT, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join([*argv[:1], *args])}: exit {proc.returncode}: "
                               f"{(proc.stderr or proc.stdout).strip()[-300:]}")
        return proc.stdout

    def cleanup(self) -> None:
        if self.podman:
            with contextlib.suppress(Exception):
                subprocess.run([*self.podman, "rm", "-af", "-t", "0"], cwd="/tmp",
                               env=self.env, capture_output=True, timeout=600)
                subprocess.run([*self.podman, "rmi", "-af"], cwd="/tmp", env=self.env,
                               capture_output=True, timeout=600)
            common.unmount_under(self.podman_store)
            shutil.rmtree(self.podman_store, ignore_errors=True)
        with contextlib.suppress(Exception):
            ids = self.call(self.ll, "ps", "-aq").split()
            if ids:
                self.call(self.ll, "rm", "-f", *ids)
        common.unmount_under(self.root)
        from layerlab.engine.cliserver import server

        server.stop(str(self.servers))


# -- kernel ----------------------------------------------------------------------------------
def _round_trip(kc, code: str) -> float:  # type: ignore[no-untyped-def]
    """kernel_bench's round trip, skipping replies to other requests (wait_for_ready's
    kernel_info) and failing on a cell that errs."""
    start = time.perf_counter()
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"cell {code!r}: {reply['content'].get('evalue', '')[:300]}")
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"):
            return time.perf_counter() - start


def kernel_rows(e: Engines, runs: int) -> list[Row]:
    kb = _load("kernel_bench")
    kb.round_trip = _round_trip
    from layerlab.kernel.install import install

    prefix = e.tmp / "prefix"
    install(prefix=str(prefix))
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    os.environ["LAYERLAB_ROOT"] = str(e.root)
    for name in ("LAYERLAB_NET_PREFIX", "LAYERLAB_CGROUP_ROOT"):  # the run's own bridge
        os.environ[name] = e.env[name]
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    ipython = [t * 1000 for t in kb.measure("python3", "pass", runs)]
    rows = []
    # the cells, on the default bridge network (ours makes no NAT and turns on no
    # forwarding), and the first again without a network, to show what wiring one costs
    for cell, target in (("docker run --rm busybox true", 3.0),
                         ("docker run --rm busybox echo hi", 4.0),
                         ("docker run --rm --network none busybox true", 3.0),
                         ("docker ps -a", 2.0)):
        ours = [t * 1000 for t in kb.measure("layerlab", cell, runs)]
        rows.append(Row("kernel", f"cell `{cell}`", ours, "IPython `pass` cell", ipython,
                        target))
        if cell.endswith("none busybox true"):
            floor = start_floor(e.env, runs)
            if floor:
                rows.append(Row("kernel", f"cell `{cell}`", ours, floor[0], floor[1], None,
                                "floor: what the kernel alone takes to start one"))
    return rows


def start_floor(env: dict[str, str], runs: int) -> tuple[str, list[float]] | None:
    """The kernel's own share of a container start on this host: a shell moves itself
    into a cgroup v1 group (the first move of a process waits out an RCU grace period)
    and execs ``unshare -pmuin --fork true``. None on a host without the v1 freezer."""
    parent = Path("/sys/fs/cgroup/freezer")
    if not parent.is_dir() or os.geteuid() != 0:
        return None
    group = parent / f"llbench-floor-{os.getpid()}"
    group.mkdir()
    try:
        samples = timed(["sh", "-c", f"echo $$ > {group}/cgroup.procs && "
                                     "exec unshare -pmuin --fork true"], env, runs)
    finally:
        group.rmdir()
    return "cgroup v1 move + `unshare -pmuin --fork true`", samples


# -- cli -------------------------------------------------------------------------------------
def cli_rows(e: Engines, runs: int) -> list[Row]:
    floor = timed([sys.executable, "-c", "pass"], e.env, runs)
    cold = {**e.env, "LAYERLAB_CLI_SERVER": "0"}
    rows = [Row("cli", "`layerlab version`", timed([*e.ll, "version"], e.env, runs),
                "`python -c pass`", floor, 2.5),
            Row("cli", "`layerlab version`", timed([*e.ll, "version"], cold, runs),
                "`python -c pass`", floor, None, "cold: `LAYERLAB_CLI_SERVER=0`")]
    argv = [*e.ll, "run", "--rm", "--network", "none", "busybox", "true"]
    run = timed(argv, e.env, runs)
    if e.podman:
        podman = timed([*e.podman, "run", "--rm", "--network", "none",
                        "docker.io/library/busybox:latest", "true"], e.env, runs)
        rows.append(Row("cli", "`run --rm busybox true`", run, "Podman", podman, 0.35))
        rows.append(Row("cli", "`run --rm busybox true`", timed(argv, cold, runs), "Podman",
                        podman, None, "cold: `LAYERLAB_CLI_SERVER=0`"))
    unshare = timed(["unshare", "-pmuin", "--fork", "true"], e.env, runs)
    rows.append(Row("cli", "`run --rm busybox true`", run, "`unshare -pmuin --fork true`",
                    unshare, None, "floor: the namespaces alone"))
    if e.podman:
        rows.append(Row("cli", "`pause` + `unpause`", pause_unpause(e, e.ll, "busybox", runs),
                        "Podman", pause_unpause(e, e.podman, "docker.io/library/busybox:latest",
                                                runs), 1.0))
    return rows


def pause_unpause(e: Engines, argv: list[str], image: str, runs: int) -> list[float]:
    """``pause`` then ``unpause`` of one running container, two CLI processes per sample
    (the freezer round trip and twice the CLI's start); the container is removed after."""
    e.call(argv, "run", "-d", "--name", "llall-paused", "--network", "none", image,
           "sleep", "3600")
    try:
        out = []
        for i in range(runs + 1):
            start = time.perf_counter()
            e.call(argv, "pause", "llall-paused")
            e.call(argv, "unpause", "llall-paused")
            if i:
                out.append((time.perf_counter() - start) * 1000)
        return out
    finally:
        _quiet(e, argv, "rm", "-f", *(["-t", "0"] if argv is e.podman else []), "llall-paused")


# -- scale -----------------------------------------------------------------------------------
def _layer(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
        tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def scale_archive(busybox: Path, depth: int, images: int, out: Path) -> None:
    """A docker-archive: ``deep:latest`` (busybox topped up to ``depth`` layers) and
    ``scale<k>:latest`` (busybox + one layer each), sharing busybox's layer blobs."""
    base = _busybox_layers(busybox)
    tops = {"deep:latest": [_layer(f"deep/{k}", str(k).encode())
                            for k in range(depth - base)]}
    tops.update({f"scale{k}:latest": [_layer(f"scale/{k}", str(k).encode())]
                 for k in range(images)})
    _archive(busybox, tops, out)


def _busybox_layers(busybox: Path) -> int:
    with tarfile.open(busybox) as src:
        return len(json.load(src.extractfile("manifest.json"))[0]["Layers"])  # type: ignore[arg-type]


def _archive(busybox: Path, tops: dict[str, list[bytes]], out: Path) -> None:
    """A docker-archive of one image per tag: busybox's layers, then that tag's layers."""
    with tarfile.open(busybox) as src:
        files = {m.name: src.extractfile(m).read()  # type: ignore[union-attr]
                 for m in src.getmembers() if m.isfile()}
    manifest = json.loads(files["manifest.json"])[0]
    base_config = json.loads(files[manifest["Config"]])
    blobs = {p: files[p] for p in manifest["Layers"]}
    entries = []
    for tag, extra in tops.items():
        config = json.loads(json.dumps(base_config))
        paths = list(manifest["Layers"])
        for data in extra:
            digest = hashlib.sha256(data).hexdigest()
            paths.append(f"blobs/sha256/{digest}")
            blobs[paths[-1]] = data
            config["rootfs"]["diff_ids"].append(f"sha256:{digest}")
            config["history"].append({"created": "2024-01-01T00:00:00Z",
                                      "created_by": f"ADD layer {len(paths)}"})
        raw = json.dumps(config).encode()
        path = f"blobs/sha256/{hashlib.sha256(raw).hexdigest()}"
        blobs[path] = raw
        entries.append({"Config": path, "RepoTags": [tag], "Layers": paths})
    with tarfile.open(out, "w") as tf:
        for name, data in {**blobs, "manifest.json": json.dumps(entries).encode()}.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))


def scale_rows(e: Engines, runs: int, depth: int, images: int, containers: int) -> list[Row]:
    archive = e.tmp / "scale.tar"
    scale_archive(e.busybox_archive, depth, images, archive)
    common.log(f"scale: loading {depth}-layer image and {images} images, creating "
               f"{containers} containers (untimed) ...")
    engines = [("LayerLab", e.ll, "busybox")]
    if e.podman:
        engines.append(("Podman", e.podman, "docker.io/library/busybox:latest"))
    for name, argv, image in engines:
        e.call(argv, "load", "-i", str(archive))
        create = ["create", "--network", "none", "--name", "llall-{k}", image, "true"]
        if name == "LayerLab":  # through the engine API in this process: the same records
            from layerlab.engine import IO, Engine, execute

            engine = Engine(e.root, "overlay")
            with open(os.devnull, "rb") as i, open(os.devnull, "wb") as o:
                for k in range(containers):
                    execute(engine, [a.format(k=k) for a in create], IO(i, o, o))
        else:  # a few CLI calls at a time: set-up, untimed
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda k, v=argv, c=create: e.call(v, *(a.format(k=k) for a in c)),
                              range(containers)))
    rows = []
    listed = f"{images + 2} images"
    for label, args, target in (
            (f"`history` of a {depth}-layer image", ["history", "deep"], 1.0),
            (f"`images -a`, {listed}", ["images", "-a"], 1.0),
            (f"`ps -a`, {containers} containers", ["ps", "-a"], 1.0),
            (f"`inspect` of the {depth}-layer image, {listed}", ["inspect", "deep"], None),
            (f"`inspect` of a container, {containers} containers", ["inspect", "llall-0"],
             None)):
        ours = timed([*e.ll, *args], e.env, runs)
        ref = timed([*e.podman, *args], e.env, runs) if e.podman else None
        rows.append(Row("scale", label, ours, "Podman", ref, target))
    # Podman has no `images --tree`: beside the plain listing of the same store it shows
    # what drawing the shared layers (and each container's read-write size) adds.
    tree = timed([*e.ll, "images", "--tree"], e.env, runs)
    rows.append(Row("scale", f"`images --tree`, {listed}, {containers} containers", tree,
                    "LayerLab `images -a`", rows[1].ours, None))
    rows.append(_rmi_row(e, engines, runs, listed))
    for _, argv, _ in engines:  # one call each: the data rows must not list these
        with contextlib.suppress(RuntimeError):
            e.call(argv, "rm", *(f"llall-{k}" for k in range(containers)))
    return rows


def _rmi_row(e: Engines, engines: list[tuple[str, list[str], str]], runs: int,
             listed: str) -> Row:
    """``rmi`` of an image with a layer of its own, in the full store: each sample loads it
    again first (untimed), so every ``rmi`` deletes an image and a layer."""
    archive = e.tmp / "rmi.tar"
    _archive(e.busybox_archive, {"llall-rmi:latest": [_layer("rmi/once", b"rmi")]}, archive)
    samples: dict[str, list[float]] = {}
    for name, argv, _ in engines:
        def load(argv: list[str] = argv) -> None:
            e.call(argv, "load", "-i", str(archive))

        samples[name] = timed([*argv, "rmi", "llall-rmi"], e.env, runs, before=load)
    return Row("scale", f"`rmi` of an image and its layer, {listed}", samples["LayerLab"],
               "Podman", samples.get("Podman"), None)


# -- data ------------------------------------------------------------------------------------
def data_rows(e: Engines, runs: int, mib: int) -> list[Row]:
    payload = e.tmp / "payload"
    payload.mkdir()
    with open(payload / "big.bin", "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    floor_argv = ["sh", "-c", f"tar -C {payload} -cf - big.bin | sha256sum"]
    floors: dict[str, list[float]] = {}  # op → a floor sample before each of ours

    def floor_then(op: str, reset: Callable[[], None]) -> Callable[[], None]:
        """``timed``'s untimed hook before each LayerLab sample: one floor sample, then
        ``reset``, so each ratio compares runs made side by side on this shared machine
        (not against a floor timed minutes earlier, before Podman's runs)."""
        def before() -> None:
            start = time.perf_counter()
            subprocess.run(floor_argv, cwd="/tmp", env=e.env, capture_output=True,
                           check=True, timeout=common.CALL_TIMEOUT)
            floors.setdefault(op, []).append((time.perf_counter() - start) * 1000)
            reset()
        return before

    engines = [("LayerLab", e.ll, "busybox")]
    if e.podman:
        engines.append(("Podman", e.podman, "docker.io/library/busybox:latest"))
    results: dict[str, dict[str, list[float]]] = {}
    for name, argv, image in engines:
        # the layer: one file of random bytes, written by the container itself (untimed)
        e.call(argv, "run", "--network", "none", "--name", "llall-data", image, "dd",
               "if=/dev/urandom", "of=/big.bin", "bs=1M", f"count={mib}")
        out = e.tmp / f"{name}-saved.tar"
        resets: dict[str, Callable[[], None]] = {
            "commit": lambda a=argv: _quiet(e, a, "rmi", "llall-data:1"),
            "save": lambda o=out: o.unlink(missing_ok=True),
            "load": lambda a=argv: _quiet(e, a, "rmi", "llall-data:1"),
        }
        ops = {"commit": ["commit", "llall-data", "llall-data:1"],
               "save": ["save", "-o", str(out), "llall-data:1"],
               "load": ["load", "-i", str(out)]}
        r: dict[str, list[float]] = {}
        for op, args in ops.items():
            reset = resets[op]
            r[op] = timed([*argv, *args], e.env, runs,
                          before=floor_then(op, reset) if name == "LayerLab" else reset)
            if name == "LayerLab":
                floors[op] = floors[op][1:]  # the warm-up's
        _quiet(e, argv, "rm", "-f", "llall-data")
        _quiet(e, argv, "rmi", "llall-data:1")
        out.unlink(missing_ok=True)
        results[name] = r
    rows = []
    for op in ("commit", "save", "load"):
        ours = results["LayerLab"][op]
        rows.append(Row("data", f"`{op}` of a {mib} MiB layer", ours,
                        "`tar c | sha256sum`", floors[op], 1.5,
                        "floor: the bytes read and hashed, timed beside each run"))
        if "Podman" in results:
            rows.append(Row("data", f"`{op}` of a {mib} MiB layer", ours, "Podman",
                            results["Podman"][op], None))
    return rows


def _quiet(e: Engines, argv: list[str], *args: str) -> None:
    subprocess.run([*argv, *args], cwd="/tmp", env=e.env, capture_output=True, check=False,
                   timeout=common.CALL_TIMEOUT)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections ({', '.join(SECTIONS)})")
    p.add_argument("--runs", type=int, default=10, help="timed samples per CLI row")
    p.add_argument("--kernel-runs", type=int, default=20, help="timed cells per kernel row")
    p.add_argument("--heavy-runs", type=int, default=3, help="timed samples per data row")
    p.add_argument("--depth", type=int, default=100, help="layers of the history image")
    p.add_argument("--images", type=int, default=500, help="images for images -a")
    p.add_argument("--containers", type=int, default=500, help="containers for ps -a")
    p.add_argument("--data-mib", type=int, default=256, help="size of the data-path layer")
    p.add_argument("--no-podman", action="store_true", help="LayerLab and floors only")
    p.add_argument("--output", type=Path, default=BENCH_DIR / "results" / "all.md")
    args = p.parse_args(argv)
    args.sections = [s for s in args.only.split(",") if s]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = common.bench_env()
    env["LAYERLAB_NET_PREFIX"] = common.NET_PREFIX
    env.setdefault("LAYERLAB_CGROUP_ROOT", f"llbench-{os.getpid()}")
    common.compile_layerlab()
    tmp = Path(tempfile.mkdtemp(prefix="llall-"))
    engines: Engines | None = None
    rows: list[Row] = []
    try:
        engines = Engines(tmp, env, podman=not args.no_podman)
        if "kernel" in args.sections:
            common.log("kernel cells ...")
            rows += kernel_rows(engines, args.kernel_runs)
        if "cli" in args.sections:
            common.log("CLI ...")
            rows += cli_rows(engines, args.runs)
        if "scale" in args.sections:
            rows += scale_rows(engines, args.runs, args.depth, args.images, args.containers)
        if "data" in args.sections:
            common.log(f"data path, {args.data_mib} MiB ...")
            rows += data_rows(engines, args.heavy_runs, args.data_mib)
        podman_line = (f"- {common.first_line(['podman', '--version'])}, private store, "
                       "`--network none`" if engines.podman else
                       f"- Podman not measured: {engines.why_not}")
        report = "\n".join([
            "# LayerLab performance (issue 12): `python bench/all.py`", "",
            f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; load average "
            f"{os.getloadavg()[0]:.1f} at the end (the machine is shared: compare ratios)",
            *common.machine_lines("overlay", common.layerlab_argv(), None), podman_line,
            f"- Medians: {args.runs} runs per CLI/scale row, {args.kernel_runs} cells per "
            f"kernel row, {args.heavy_runs} per data row, each after one warm-up.", "",
            render(rows), ""])
        print(report)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        common.log(f"wrote {args.output}")
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if engines is not None:
            engines.cleanup()
        common.remove_bridges(common.NET_PREFIX)
        common.remove_cgroup_parent(env["LAYERLAB_CGROUP_ROOT"])
        common.unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
