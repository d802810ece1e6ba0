#!/usr/bin/env python3
"""Side-by-side CLI benchmark of LayerLab against Podman (issue #2).

Every sample is the wall clock of whole CLI invocations (process start to exit), because
that is what a user of ``docker``-style commands waits for: interpreter start-up, imports
and store locking count as much as the work itself. We report the median of N runs after
one untimed warm-up, since single runs on a shared VM are noisy and the first run pays for
cold caches.

Run as root (both engines need namespaces and mounts):

    python bench/run.py [--runs 15] [--heavy-runs 5] [--driver overlay|vfs] [--no-podman]

The table goes to stdout and to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import importlib.metadata
import io
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_FILE = BENCH_DIR / "results" / "latest.md"
PODMAN_SETUP = BENCH_DIR.parent / "tests" / "podman-setup.sh"
PODMAN_IMAGE = "localhost/busybox:latest"  # imported by podman-setup.sh
LAYERLAB_IMAGE = "busybox:latest"  # bootstrapped by `layerlab pull busybox`
PREFIX = f"llbench{os.getpid()}"  # unique names, so cleanup never touches others' podman objects
NET_PREFIX = f"b{os.getpid() % 4096:03x}"  # LayerLab's interfaces in this run: b<pid>br0 …
CALL_TIMEOUT = 600  # seconds; a hung CLI must not hang the benchmark forever

Invocations = list[list[str]]


class CommandFailed(RuntimeError):
    """A CLI invocation exited non-zero; the message carries its stderr for the report."""


class NotMeasured(RuntimeError):
    """An operation deliberately not run for this engine; the message says why."""


@dataclass
class Engine:
    """One container CLI: how to invoke it, plus everything it created, so cleanup can undo it.

    The per-engine flags: both run with ``--network none`` except in the bridge row (so
    every other row times the same work: no network set-up), and Podman needs
    ``rm -f -t 0`` to kill at once as Docker's ``rm -f`` does (Podman otherwise waits 10 s
    for ``sleep`` to ignore SIGTERM).
    """

    name: str
    argv: list[str]
    image: str
    env: dict[str, str]
    work: Path
    flat_tar: Path
    run_flags: list[str] = field(default_factory=list)
    rm_flags: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    default_network: bool = True  # measure the engine's default network (bridge row)
    sleeper_name: str | None = None
    layered_ref: str | None = None
    facts: list[str] = field(default_factory=list)

    def call(self, *args: str, check: bool = True) -> str:
        """Run one CLI invocation from /tmp (conmon drops an "oom" file into its cwd)."""
        proc = subprocess.run(
            [*self.argv, *args], cwd="/tmp", env=self.env, capture_output=True, text=True,
            timeout=CALL_TIMEOUT, check=False,
        )
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
            raise CommandFailed(
                f"{self.name} {' '.join(args)}: exit {proc.returncode}: {detail[0][:300]}")
        return proc.stdout

    def timed(self, invocations: Invocations) -> float:
        """Milliseconds for the invocations run back to back, each a whole CLI process."""
        start = time.perf_counter()
        for args in invocations:
            self.call(*args)
        return (time.perf_counter() - start) * 1000.0

    def track_container(self, name: str) -> str:
        """Remember a container before creating it, so an interrupted run still removes it."""
        if name not in self.containers:
            self.containers.append(name)
        return name

    def track_image(self, ref: str) -> str:
        """Remember an image (in creation order: children are removed before parents)."""
        if ref not in self.images:
            self.images.append(ref)
        return ref

    def run_detached(self, name: str, image: str, *command: str) -> str:
        """Start a long-running container used as a fixture (not timed)."""
        self.track_container(name)
        self.call("run", "-d", "--name", name, *self.run_flags, image, *command)
        return name

    def remove_container(self, name: str, check: bool = True) -> None:
        """Kill and remove a container at once (Docker's `rm -f`)."""
        self.call("rm", "-f", *self.rm_flags, name, check=check)
        if name in self.containers:
            self.containers.remove(name)

    def remove_image(self, ref: str, check: bool = True) -> None:
        """Remove an image between timed runs, so every run does the same work."""
        self.call("rmi", ref, check=check)

    def sleeper(self) -> str:
        """A running container for exec and pause: started once, shared by those ops."""
        if self.sleeper_name is None:
            self.sleeper_name = self.run_detached(f"{PREFIX}-sleeper", self.image, "sleep", "3600")
        return self.sleeper_name

    def layered(self) -> str:
        """busybox + two committed layers of 10 MiB random data: a 3-layer, ~23 MB image.

        Random data, because compressible or sparse files would flatter whichever engine
        compresses or detects holes; two separate commits, because one container committed
        twice would put both files into the second layer.
        """
        if self.layered_ref is None:
            parent = self.image
            for n in (1, 2):
                box = self.run_detached(f"{PREFIX}-layer{n}", parent, "sleep", "3600")
                self.call("exec", box, "dd", "if=/dev/urandom", f"of=/layer{n}.bin",
                          "bs=1M", "count=10")
                parent = self.track_image(f"{PREFIX}-layers{n}")
                self.call("commit", box, parent)
                self.remove_container(box)
            self.layered_ref = parent
        return self.layered_ref

    def cleanup(self) -> None:
        """Remove every container and image this run created; never fail, never ask twice."""
        for name in reversed(self.containers):
            with contextlib.suppress(Exception):
                self.call("rm", "-f", *self.rm_flags, name, check=False)
        for ref in reversed(self.images):
            with contextlib.suppress(Exception):
                self.call("rmi", "-f", ref, check=False)
        self.containers.clear()
        self.images.clear()


def measure(engine: Engine, runs: int, step: Callable[[int], Invocations],
            after: Callable[[int], None] | None = None) -> list[float]:
    """One untimed warm-up plus `runs` timed samples; `after` resets state, untimed."""
    samples = []
    for i in range(runs + 1):
        ms = engine.timed(step(i))
        if after is not None:
            after(i)
        if i > 0:
            samples.append(ms)
    return samples


# --- operations: each returns the timed samples (ms) for one engine ---------------------------

def op_run(e: Engine, runs: int) -> list[float]:
    """The headline number: a throw-away container, start to exit to removal."""
    return measure(e, runs, lambda i: [["run", "--rm", *e.run_flags, e.image, "true"]])


def op_run_bridge(e: Engine, runs: int) -> list[float]:
    """The same on the engine's default network: LayerLab's default bridge (a veth pair,
    an address, a route, no NAT), Podman's netavark bridge only with --podman-network,
    because netavark turns on IP forwarding and NAT rules on the host."""
    if e.name == "Podman" and not e.default_network:
        raise NotMeasured("Podman's default network not run: netavark enables IP forwarding "
                          "and masquerade on the host (pass --podman-network to measure it)")
    return measure(e, runs, lambda i: [["run", "--rm", e.image, "true"]])


def op_lifecycle(e: Engine, runs: int) -> list[float]:
    """create + start + rm -f as three invocations, as scripts and compose tools do it."""
    def step(i: int) -> Invocations:
        name = e.track_container(f"{PREFIX}-life{i}")
        return [["create", "--name", name, *e.run_flags, e.image, "sleep", "60"],
                ["start", name],
                ["rm", "-f", *e.rm_flags, name]]

    return measure(e, runs, step, after=lambda i: e.containers.remove(f"{PREFIX}-life{i}"))


def op_exec(e: Engine, runs: int) -> list[float]:
    """A trivial exec into a running container: the cost of joining its namespaces."""
    box = e.sleeper()
    return measure(e, runs, lambda i: [["exec", box, "true"]])


def op_pause(e: Engine, runs: int) -> list[float]:
    """pause + unpause as two invocations (cgroup freezer round trip)."""
    box = e.sleeper()
    return measure(e, runs, lambda i: [["pause", box], ["unpause", box]])


def op_commit(e: Engine, runs: int) -> list[float]:
    """Commit of a 50 MiB random file in the RW layer; the committed image is removed after
    each run so every commit writes a new layer instead of hitting a tag that exists."""
    box = e.run_detached(f"{PREFIX}-big", e.image, "sleep", "3600")
    e.call("exec", box, "dd", "if=/dev/urandom", "of=/big", "bs=1M", "count=50")
    ref = e.track_image(f"{PREFIX}-committed")
    try:
        return measure(e, runs, lambda i: [["commit", box, ref]],
                       after=lambda i: e.remove_image(ref))
    finally:
        e.remove_container(box, check=False)


def op_save(e: Engine, runs: int) -> list[float]:
    """save -o of the 3-layer image; the archive is deleted after each run."""
    ref, out = e.layered(), e.work / "save.tar"
    return measure(e, runs, lambda i: [["save", "-o", str(out), ref]],
                   after=lambda i: out.unlink())


def op_export(e: Engine, runs: int) -> list[float]:
    """export -o of a created (never started) container of the 3-layer image: mount + tar."""
    box = e.track_container(f"{PREFIX}-export")
    e.call("create", "--name", box, *e.run_flags, e.layered(), "true")
    out = e.work / "export.tar"
    try:
        return measure(e, runs, lambda i: [["export", "-o", str(out), box]],
                       after=lambda i: out.unlink())
    finally:
        e.remove_container(box, check=False)


def op_load(e: Engine, runs: int) -> list[float]:
    """load -i of the engine's own save of the 3-layer image. Both committed images are
    removed first and the loaded one after each run, so every load stores two new layers
    over busybox (which both engines already hold)."""
    ref, archive = e.layered(), e.work / "load.tar"
    e.call("save", "-o", str(archive), ref)
    e.facts.append(f"{e.name}'s save of the 3-layer image: {describe_archive(archive)}.")
    e.remove_image(ref)
    e.remove_image(f"{PREFIX}-layers1")
    e.layered_ref = None
    return measure(e, runs, lambda i: [["load", "-i", str(archive)]],
                   after=lambda i: e.remove_image(ref))


def op_import(e: Engine, runs: int) -> list[float]:
    """import of a 50 MiB flat tar (the same file for both engines); removed after each run."""
    ref = e.track_image(f"{PREFIX}-imported")
    return measure(e, runs, lambda i: [["import", str(e.flat_tar), ref]],
                   after=lambda i: e.remove_image(ref))


@dataclass(frozen=True)
class Op:
    """One row of the table: what it measures, how many runs, and the issue's target."""

    label: str
    bench: Callable[[Engine, int], list[float]]
    heavy: bool = False
    target: float = 1.0


# Order matters: load removes the 3-layer image that save and export use.
OPS = [
    Op("`run --rm --network none IMAGE true`", op_run, target=0.35),
    Op("`run --rm IMAGE true` (default bridge)", op_run_bridge, target=1.0),
    Op("`create` + `start` + `rm -f` (`sleep 60`)", op_lifecycle),
    Op("`exec CONTAINER true`", op_exec),
    Op("`pause` + `unpause`", op_pause),
    Op("`commit` (50 MB RW layer)", op_commit, heavy=True),
    Op("`save -o` (3 layers, ~23 MB)", op_save, heavy=True),
    Op("`export -o` (3-layer container)", op_export, heavy=True),
    Op("`load -i` (3 layers, ~23 MB)", op_load, heavy=True),
    Op("`import` (50 MB flat tar)", op_import, heavy=True),
]


# --- set-up -------------------------------------------------------------------------------------

def layerlab_argv() -> list[str]:
    """LayerLab's real entry point. `shutil.which` finds pyenv's bash shim, which adds ~40 ms
    to every call; the console script next to sys.executable (if it is a Python script) or
    `python -m` with the real interpreter avoids it."""
    script = Path(sys.executable).parent / "layerlab"
    if script.is_file() and os.access(script, os.X_OK):
        with script.open("rb") as f:
            first = f.readline()
        if first.startswith(b"#!") and b"python" in first:
            return [str(script)]
    return [sys.executable, "-m", "layerlab.engine.cli"]


def compile_layerlab() -> Path:
    """Byte-compile LayerLab: this environment sets PYTHONDONTWRITEBYTECODE=1 and an editable
    install ships no .pyc, so every call would otherwise re-compile every module it imports."""
    import layerlab.engine

    package_dir = Path(layerlab.engine.__file__).resolve().parent
    if not compileall.compile_dir(str(package_dir), quiet=1):
        raise RuntimeError(f"byte-compiling {package_dir} failed")
    return package_dir


def bench_env() -> dict[str, str]:
    """The subprocess environment: ours, minus PYTHONDONTWRITEBYTECODE (see compile_layerlab)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def setup_podman(skip: bool) -> str | None:
    """Run the shared, idempotent Podman set-up; return None if Podman is usable, else why not."""
    if skip:
        return "--no-podman was given"
    if os.geteuid() != 0:
        return "not running as root (podman-setup.sh and rootful Podman need root)"
    if not PODMAN_SETUP.is_file():
        return f"{PODMAN_SETUP} not found"
    try:
        proc = subprocess.run(["bash", str(PODMAN_SETUP)], cwd="/tmp", capture_output=True,
                              text=True, timeout=1800, check=False)
    except subprocess.TimeoutExpired:
        return "podman-setup.sh timed out"
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"podman-setup.sh failed (exit {proc.returncode}): {last[0][:200]}"
    if shutil.which("podman") is None:
        return "podman is not installed"
    return None


def free_subnet() -> str:
    """A 10.213.X.0/24 the host does not route: LayerLab's default bridge for this run."""
    from ipaddress import IPv4Network

    out = subprocess.run(["ip", "-j", "-4", "route"], capture_output=True, text=True)
    used = [IPv4Network(r["dst"], strict=False) for r in json.loads(out.stdout or "[]")
            if r.get("dst", "default") != "default"]
    for x in range(200, 256):
        net = IPv4Network(f"10.213.{x}.0/24")
        if not any(net.overlaps(u) for u in used):
            return str(net)
    raise RuntimeError("no free 10.213.X.0/24 for LayerLab's default bridge")


def remove_bridges(prefix: str) -> None:
    """The run's default bridge (a store's docker0 stays while the store lives)."""
    out = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True)
    for link in json.loads(out.stdout or "[]"):
        if link["ifname"].startswith(prefix):
            subprocess.run(["ip", "link", "del", link["ifname"]], capture_output=True)


def remove_cgroup_parent(name: str) -> None:
    """The run's parent cgroup (``LAYERLAB_CGROUP_ROOT``) in every hierarchy: containers
    remove their own groups, the parent stays until this. Only empty groups go (rmdir)."""
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if " - cgroup" in line]
    for mount in mounts:
        parent = Path(mount) / name
        if parent.is_dir():
            for group in [*sorted(parent.rglob("*"), reverse=True), parent]:
                if group.is_dir():
                    with contextlib.suppress(OSError):
                        group.rmdir()


def make_flat_tar(path: Path, mib: int = 50) -> None:
    """A single-file tar of random (incompressible) bytes: the import payload."""
    data = os.urandom(mib << 20)
    info = tarfile.TarInfo("data/big.bin")
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    with tarfile.open(path, "w") as tar:
        tar.addfile(info, io.BytesIO(data))


def describe_archive(path: Path) -> str:
    """Layer count and size of a docker-archive, to show both engines handled the same image."""
    size = f"{path.stat().st_size / 1e6:.1f} MB"
    try:
        with tarfile.open(path) as tar:
            member = tar.extractfile("manifest.json")
            layers = len(json.load(member)[0]["Layers"]) if member else "?"
    except (KeyError, IndexError, ValueError, tarfile.TarError):
        layers = "?"
    return f"{layers} layers, {size}"


def unmount_under(root: Path) -> None:
    """Lazily unmount anything left mounted below a LayerLab root, so rmtree cannot cross
    into a live overlay mount after an interrupted run."""
    prefix = str(root) + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def first_line(argv: list[str]) -> str:
    """The first output line of a version command, or "unknown"."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        return (out.stdout.strip().splitlines() or ["unknown"])[0]
    except OSError:
        return "unknown"


def machine_lines(driver: str, llargv: list[str], podman: Engine | None) -> list[str]:
    """Machine and version facts, so numbers from different hosts are not compared blindly."""
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    lines = [
        f"- Machine: nproc={os.cpu_count()}, kernel {platform.release()}, CPU {cpu}",
        f"- LayerLab {importlib.metadata.version('layerlab')} ({driver} driver, "
        f"Python {platform.python_version()}, invoked as `{' '.join(llargv)}`)",
    ]
    if podman is not None:
        graph = podman.call("info", "--format", "{{.Store.GraphDriverName}}", check=False).strip()
        lines.append(f"- {first_line(['podman', '--version'])} ({graph} driver, "
                     f"{first_line(['runc', '--version'])})")
    return lines


# --- report -------------------------------------------------------------------------------------

def fmt_ms(samples: list[float] | str) -> str:
    """Median in ms, or the error/placeholder text."""
    return f"{statistics.median(samples):.1f}" if isinstance(samples, list) else samples


def table(rows: list[tuple[Op, list[float] | str, list[float] | str]]) -> str:
    """The Markdown table the issue asks for."""
    head = ["operation", "LayerLab median (ms)", "Podman median (ms)",
            "ratio (LayerLab/Podman)", "target", "met?"]
    body = []
    for op, ll, pd in rows:
        if isinstance(ll, list) and isinstance(pd, list):
            ratio = statistics.median(ll) / statistics.median(pd)
            ratio_s, met = f"{ratio:.2f}", "yes" if ratio <= op.target else "no"
        else:
            ratio_s, met = "n/a", "n/a"
        body.append([op.label, fmt_ms(ll), fmt_ms(pd), ratio_s, f"≤ {op.target:g}", met])
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in [head, *body]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def short_error(exc: BaseException) -> str:
    """A table cell for a failed operation (the full message goes into the notes)."""
    return "error" if isinstance(exc, CommandFailed | subprocess.TimeoutExpired) else "failed"


# --- main ---------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description="Benchmark LayerLab's CLI against Podman's.")
    p.add_argument("--runs", type=int, default=15, help="timed runs per light op (default 15)")
    p.add_argument("--heavy-runs", type=int, default=5,
                   help="timed runs for commit/save/export/load/import (default 5)")
    p.add_argument("--driver", choices=["overlay", "vfs"], default="overlay",
                   help="LayerLab storage driver (default overlay)")
    p.add_argument("--no-podman", action="store_true", help="skip Podman; LayerLab numbers only")
    p.add_argument("--podman-network", action="store_true",
                   help="also time Podman's default network (netavark enables IP forwarding "
                        "and NAT on the host)")
    p.add_argument("--output", type=Path, default=RESULTS_FILE, help="Markdown report path")
    p.add_argument("--only", default="", help="run only the rows whose label contains this")
    args = p.parse_args(argv)
    if args.runs < 1 or args.heavy_runs < 1:
        p.error("--runs and --heavy-runs must be at least 1")
    return args


def log(msg: str) -> None:
    """Progress goes to stderr so stdout stays the report."""
    print(msg, file=sys.stderr, flush=True)


def raise_interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so the cleanup in main() runs."""
    raise KeyboardInterrupt


def run_ops(engines: list[Engine], args: argparse.Namespace,
            notes: list[str]) -> list[tuple[Op, list[float] | str, list[float] | str]]:
    """Run each op on each engine in turn (interleaved, so drift hits both alike)."""
    rows = []
    for op in [op for op in OPS if args.only in op.label]:
        runs = args.heavy_runs if op.heavy else args.runs
        results: dict[str, list[float] | str] = {"LayerLab": "n/a", "Podman": "n/a"}
        for e in engines:
            log(f"{e.name}: {op.label} x{runs} (+1 warm-up) ...")
            try:
                results[e.name] = op.bench(e, runs)
                log(f"  median {fmt_ms(results[e.name])} ms")
            except NotMeasured as exc:
                results[e.name] = "not run"
                notes.append(f"{e.name}, {op.label}: {exc}")
                log(f"  not run: {exc}")
            except (CommandFailed, subprocess.TimeoutExpired, OSError) as exc:
                results[e.name] = short_error(exc)
                notes.append(f"{e.name}, {op.label}: {exc}")
                log(f"  FAILED: {exc}")
        rows.append((op, results["LayerLab"], results["Podman"]))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Set up both engines, time every op, print and save the report, always clean up."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(signal.SIGHUP, raise_interrupt)
    notes: list[str] = []
    env = bench_env()
    tmp = Path(tempfile.mkdtemp(prefix="llbench-"))
    engines: list[Engine] = []
    try:
        package_dir = compile_layerlab()
        notes.append(f"Byte-compiled {package_dir} and removed PYTHONDONTWRITEBYTECODE from the "
                     "benchmark's environment, so LayerLab starts from cached bytecode.")
        flat_tar = tmp / "flat-50M.tar"
        make_flat_tar(flat_tar)
        llargv = layerlab_argv()
        (tmp / "layerlab").mkdir()
        env["LAYERLAB_NET_PREFIX"] = NET_PREFIX
        env["LAYERLAB_BRIDGE_SUBNET"] = free_subnet()
        layerlab = Engine("LayerLab", [*llargv, "--root", str(tmp / "root"),
                                       "--storage-driver", args.driver],
                          LAYERLAB_IMAGE, env, tmp / "layerlab", flat_tar,
                          run_flags=["--network", "none"])
        engines.append(layerlab)
        log(f"LayerLab: fresh root {tmp / 'root'}; pulling busybox ...")
        layerlab.call("pull", "busybox")

        podman: Engine | None = None
        log("Podman: running podman-setup.sh ...")
        why_not = setup_podman(args.no_podman)
        if why_not is None:
            (tmp / "podman").mkdir()
            podman = Engine("Podman", [shutil.which("podman") or "podman"], PODMAN_IMAGE, env,
                            tmp / "podman", flat_tar, run_flags=["--network", "none"],
                            rm_flags=["-t", "0"], default_network=args.podman_network)
            engines.append(podman)
        else:
            log(f"Podman not measured: {why_not}")

        rows = run_ops(engines, args, notes)
        podman_line = (
            "- Both run with `--network none` but in the default-bridge row; Podman runs from "
            "cwd /tmp with `rm -f -t 0` (Docker's `rm -f` kills at once; Podman's waits 10 s "
            "for SIGTERM)."
            if podman else f"- **Podman not measured: {why_not}.** Ratios are n/a.")
        notes.extend(fact for e in engines for fact in e.facts)
        report = "\n".join([
            "# LayerLab vs Podman: CLI wall clock",
            "",
            f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
            *machine_lines(args.driver, llargv, podman),
            f"- Median of {args.runs} runs ({args.heavy_runs} for commit, save, export, load, "
            "import) after one warm-up; each sample times whole CLI invocations.",
            podman_line,
            "",
            table(rows),
            "",
            *(f"- {n}" for n in notes),
            "",
        ])
        print(report)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        log(f"wrote {args.output}")
        return 0
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        for e in engines:
            e.cleanup()
        remove_bridges(NET_PREFIX)
        unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
