#!/usr/bin/env python3
"""How fast the Docker API service starts and answers (issue 14).

- **start-up**: from spawning ``python -m layerlab.engine.dockerapi`` to its
  ``API listen on`` line (clients can connect from then on);
- **docker version**: the whole real CLI invocation against the running service (the CLI
  pings, then asks for ``/version``), next to the same CLI against ``podman system
  service`` and to LayerLab's own ``layerlab version``;
- **GET /version**: one request on a kept-alive connection, the server's own share;
- **docker run --rm busybox true**: the whole container round trip through the real CLI
  (create, attach, wait for removal, start, exit code), against the LayerLab service and
  against ``podman system service`` (its own throwaway storage, busybox loaded into it
  through the same CLI), next to ``layerlab run --rm busybox true``.

Medians of N runs after one untimed warm-up. Run with the interpreter that has LayerLab
installed: ``python bench/dockerapi_bench.py [--runs 15] [--no-podman]``.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SERVICE = [sys.executable, "-m", "layerlab.engine.dockerapi", "--storage-driver", "vfs"]


def median_ms(fn: Callable[[], None], runs: int) -> float:
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def start(command: list[str], ready: str, env: dict[str, str] | None = None,
          ) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    for line in proc.stderr:
        if ready.encode() in line:
            return proc
    raise RuntimeError(f"{command[0]} did not start (exit {proc.wait()})")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for_socket(path: Path, proc: subprocess.Popen[bytes]) -> None:
    """Podman prints nothing when ready: connect until it answers (bench only)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(str(path))
                return
            except OSError:
                time.sleep(0.01)
    raise RuntimeError("podman system service did not start")


def get_version(path: Path, runs: int) -> float:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(path))
        request = b"GET /v1.43/version HTTP/1.1\r\nHost: d\r\n\r\n"

        def once() -> None:
            s.sendall(request)
            data = b""
            while not data.endswith(b"}\n"):
                data += s.recv(65536)

        return median_ms(once, runs)


def run_true(client: list[str], env: dict[str, str]) -> None:
    # --network none on both engines: Podman's default network (netavark) would turn on IP
    # forwarding and NAT on the host, which nothing here may do.
    p = subprocess.run([*client, "run", "--rm", "--network", "none", "busybox", "true"], env=env,
                       capture_output=True)
    if p.returncode != 0:
        raise RuntimeError(f"{client[0]} run failed: {p.stderr.decode(errors='replace')}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-podman", action="store_true")
    args = parser.parse_args()
    import layerlab.engine

    compileall.compile_dir(Path(layerlab.engine.__file__).parent, quiet=1)
    docker = shutil.which("docker")
    podman = None if args.no_podman else shutil.which("podman")
    work = Path(tempfile.mkdtemp(prefix="llbench", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["DOCKER_CONFIG"] = str(work / "docker-config")
    rows: list[tuple[str, float]] = []
    try:
        uri = f"unix://{work}/api.sock"
        command = [*SERVICE, "--root", str(work / "root"), uri]
        rows.append(("service start-up (spawn → API listen on)",
                     median_ms(lambda: stop(start(command, "API listen on", env)), args.runs)))
        layerlab = [sys.executable, "-m", "layerlab.engine.cli", "--root", str(work / "root"),
                    "--storage-driver", "vfs"]
        subprocess.run([*layerlab, "pull", "busybox"], env=env, check=True,
                       capture_output=True)
        subprocess.run([*layerlab, "save", "-o", str(work / "busybox.tar"), "busybox"],
                       env=env, check=True, capture_output=True)
        proc = start(command, "API listen on", env)
        try:
            rows.append(("GET /v1.43/version, kept-alive connection",
                         get_version(work / "api.sock", 200)))
            if docker:
                rows.append(("docker version → LayerLab service", median_ms(
                    lambda: subprocess.run([docker, "-H", uri, "version"], env=env,
                                           check=True, capture_output=True), args.runs)))
                rows.append(("docker run --rm busybox true → LayerLab service", median_ms(
                    lambda: run_true([docker, "-H", uri], env), args.runs)))
        finally:
            stop(proc)
        rows.append(("layerlab version (own CLI, no service)", median_ms(
            lambda: subprocess.run([*layerlab, "version"], env=env, check=True,
                                   capture_output=True), args.runs)))
        rows.append(("layerlab run --rm busybox true (own CLI, vfs)", median_ms(
            lambda: run_true(layerlab, env), args.runs)))
        if docker and podman:
            puri = f"unix://{work}/podman.sock"
            podman_store = ["--root", str(work / "podman"), "--runroot",
                            str(work / "podman-run"), "--storage-driver", "vfs"]
            pproc = subprocess.Popen([podman, *podman_store, "system", "service", "--time",
                                      "0", puri],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd="/tmp")
            try:
                wait_for_socket(work / "podman.sock", pproc)
                rows.append(("docker version → podman system service", median_ms(
                    lambda: subprocess.run([docker, "-H", puri, "version"], env=env,
                                           check=True, capture_output=True), args.runs)))
                subprocess.run([docker, "-H", puri, "load", "-i", str(work / "busybox.tar")],
                               env=env, check=True, capture_output=True)
                rows.append(("docker run --rm busybox true → podman system service",
                             median_ms(lambda: run_true([docker, "-H", puri], env),
                                       args.runs)))
            finally:
                stop(pproc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"| measurement (median of {args.runs}) | ms |\n|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} |")


if __name__ == "__main__":
    main()
