"""The service as a child process, for a front-end that runs threads (the notebook
kernel): ``start_service`` fork+execs ``python -m layerlab.engine.dockerapi`` — a fresh
interpreter, so nothing of the caller's threads is copied — and returns once clients can
connect. The caller puts ``service.uri`` into ``DOCKER_HOST`` for its terminals.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EngineError

START_TIMEOUT = 60.0


@dataclass
class BackgroundService:
    proc: subprocess.Popen[bytes]
    uri: str
    log: list[str] = field(default_factory=list)  # the service's stderr lines so far

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (containers keep running: their monitors are their own), then wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def start_service(root: Path, driver: str | None = None, uri: str | None = None,
                  idle_timeout: float | None = None,
                  with_caller: bool = False) -> BackgroundService:
    """Serve the Docker API for the engine at ``root`` from a child process; with
    ``with_caller`` it stops when the calling thread's process dies (a killed kernel)."""
    from .listen import default_uri

    command = [sys.executable, "-m", "layerlab.engine.dockerapi", "--root", str(root)]
    if with_caller:
        command += ["--parent", str(os.getpid())]
    if driver:
        command += ["--storage-driver", driver]
    if idle_timeout is not None:
        command += ["--time", str(idle_timeout)]
    command.append(uri or default_uri())
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    service = BackgroundService(proc, "")
    ready = threading.Event()

    def drain() -> None:  # the whole life of the service: its stderr never fills up
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            service.log.append(line)
            if line.startswith("API listen on ") and not service.uri:
                service.uri = line.removeprefix("API listen on ").strip()
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True, name="layerlab-service-log").start()
    if not ready.wait(START_TIMEOUT) or not service.uri:
        service.stop()
        why = service.log[-1] if service.log else "no output"
        raise EngineError(f"the Docker API service did not start: {why}")
    return service
