"""Helpers for the Docker API tests: the service in a subprocess, a raw HTTP/1.1 client,
and test-only endpoints (never part of the production routes).

Run as a script, this file is the service with the production routes plus the test
endpoints below: ``python tests/dockerapi_kit.py --root DIR unix:///path``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11

KIT = Path(__file__).resolve()
START_TIMEOUT = 60.0  # seconds; only a broken server takes anything near this
WAIT = 30.0  # how long a test endpoint waits for the event a test promised to cause


# -- the service in a subprocess -----------------------------------------------------------
@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    uri: str
    stderr: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        assert self.uri.startswith("unix://")
        return Path(self.uri[len("unix://"):])

    def log(self) -> str:
        return "".join(self.stderr)


PRODUCTION = [sys.executable, "-m", "layerlab.engine.dockerapi", "--storage-driver", "vfs"]
WITH_TEST_ROUTES = [sys.executable, str(KIT)]


def start_service(root: Path, uri: str, *args: str, umask: int = -1,
                  command: list[str] = WITH_TEST_ROUTES) -> Service:
    """Start the service (by default with the test endpoints) and return once it prints
    ``API listen on``."""
    proc = subprocess.Popen([*command, "--root", str(root), *args, uri],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, umask=umask)
    lines: list[str] = []
    ready = threading.Event()
    found: list[str] = []

    def drain() -> None:  # keeps the pipe empty for the server's whole life
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace")
            lines.append(line)
            if line.startswith("API listen on ") and not found:
                found.append(line.split("API listen on ", 1)[1].strip())
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(START_TIMEOUT) or not found:
        stop_service(proc)
        raise AssertionError(f"the API service did not start:\n{''.join(lines)}")
    return Service(proc, found[0], lines)


def stop_service(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


@contextlib.contextmanager
def service(root: Path, uri: str, *args: str, umask: int = -1,
            command: list[str] = WITH_TEST_ROUTES) -> Iterator[Service]:
    svc = start_service(root, uri, *args, umask=umask, command=command)
    try:
        yield svc
    finally:
        stop_service(svc.proc)


# -- the Docker CLI and LayerLab's CLI on one engine ------------------------------------------
DOCKER = shutil.which("docker")


@dataclass
class Clients:
    """The real ``docker`` through the service's socket, and ``layerlab`` on the same
    engine root: the same command line through both must give the same result."""

    svc: Service
    root: Path

    def env(self, buildkit: bool = False) -> dict[str, str]:
        """The Docker CLI's environment: our socket, a configuration of its own (no user
        contexts leak in), the classic builder unless ``buildkit``."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DOCKER_") and k != "BUILDKIT_PROGRESS"}
        env.update(DOCKER_HOST=self.svc.uri, DOCKER_CONFIG=str(self.root.parent / "dockercfg"))
        if not buildkit:
            env["DOCKER_BUILDKIT"] = "0"
        return env

    def docker(self, *args: str, input: str | None = None, buildkit: bool = False,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
        assert DOCKER is not None
        return subprocess.run([DOCKER, *args], capture_output=True, text=True,
                              env=self.env(buildkit),
                              timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def layerlab(self, *args: str, input: str | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "layerlab.engine.cli", "--root",
                               str(self.root), "--storage-driver", "vfs", *args],
                              capture_output=True, text=True, timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def both(self, *args: str, input: str | None = None) -> tuple[
            subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
        return self.docker(*args, input=input), self.layerlab(*args, input=input)


@contextlib.contextmanager
def clients() -> Iterator[Clients]:
    """The production service on a fresh root with busybox in it, torn down fully."""
    from conftest import cleanup_root

    work = Path(tempfile.mkdtemp(prefix="llapi", dir="/tmp"))
    root = work / "root"
    try:
        with service(root, f"unix://{work}/api.sock", command=PRODUCTION) as svc:
            pair = Clients(svc, root)
            pulled = pair.layerlab("pull", "busybox")
            assert pulled.returncode == 0, pulled.stderr
            yield pair
    finally:
        cleanup_root(root)
        shutil.rmtree(work, ignore_errors=True)


# -- a raw HTTP/1.1 client ------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks: list[bytes]  # the body as the server framed it (one entry per chunk)


class Client:
    """h11 on a blocking socket: nothing between the test and the bytes on the wire."""

    def __init__(self, path: Path, timeout: float = WAIT) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.h11 = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            self.sock.sendall(data)

    def start(self, method: str, target: str, headers: list[tuple[str, str]] | None = None,
              body: bytes | None = None) -> None:
        """Send a request; with framing headers and no ``body``, the caller sends the body."""
        hs = [("Host", "docker"), *(headers or [])]
        framed = any(k.lower() in ("transfer-encoding", "content-length") for k, _ in hs)
        if body is not None and not framed:
            hs.append(("Content-Length", str(len(body))))
        self.send(h11.Request(method=method, target=target, headers=hs))
        if body:
            self.send(h11.Data(data=body))
        if body is not None or not framed:
            self.send(h11.EndOfMessage())

    def next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.h11.receive_data(self.sock.recv(65536))

    def head(self) -> tuple[int, dict[str, str]]:
        event = self.next_event()
        assert isinstance(event, h11.Response | h11.InformationalResponse), event
        return event.status_code, {k.decode().lower(): v.decode() for k, v in event.headers}

    def rest(self, status: int, headers: dict[str, str]) -> Reply:
        chunks: list[bytes] = []
        while True:
            event = self.next_event()
            if isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise AssertionError(f"unexpected {event!r}")
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        return Reply(status, headers, b"".join(chunks), chunks)

    def request(self, method: str, target: str, headers: list[tuple[str, str]] | None = None,
                body: bytes | None = None) -> Reply:
        self.start(method, target, headers, body)
        return self.rest(*self.head())

    def hijack(self, target: str, early_stdin: bytes = b"",
               upgrade: bool = True) -> tuple[int, dict[str, str], bytes]:
        """POST ``target`` asking for an upgrade, sending ``early_stdin`` right behind the
        request; returns the status, headers and whatever raw bytes followed them."""
        hs = [("Host", "docker"), ("Content-Length", "0")]
        if upgrade:
            hs += [("Connection", "Upgrade"), ("Upgrade", "tcp")]
        data = self.h11.send(h11.Request(method="POST", target=target, headers=hs))
        data = (data or b"") + (self.h11.send(h11.EndOfMessage()) or b"")
        self.sock.sendall(data + early_stdin)
        status, headers = self.head()
        trailing, _ = self.h11.trailing_data  # from here on the bytes are not HTTP
        return status, headers, bytes(trailing)


class RawStream:
    """The raw bytes of a hijacked connection, with Docker's 8-byte frames decoded."""

    def __init__(self, sock: socket.socket, buffered: bytes) -> None:
        self.sock = sock
        self.buf = buffered

    def read_exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(f"EOF after {len(self.buf)} of {n} bytes")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self) -> tuple[int, bytes]:
        head = self.read_exactly(8)
        assert head[1:4] == b"\0\0\0", head
        return head[0], self.read_exactly(int.from_bytes(head[4:], "big"))

    def at_eof(self) -> bool:
        if self.buf:
            return False
        return self.sock.recv(1) == b""


# -- test-only endpoints ----------------------------------------------------------------------
def kit_routes() -> Any:
    from layerlab.engine.dockerapi import RouteTable, StreamType
    from layerlab.engine.dockerapi.responses import JSON, Hijack, Progress, Raw, Stream
    from layerlab.engine.errors import Conflict, InvalidArgument, NotFound, RuntimeFailure

    routes = RouteTable()
    release = threading.Event()
    flood_closed = threading.Event()
    hold_saw_gone = threading.Event()
    barrier = threading.Barrier(16, timeout=WAIT)

    @routes.route("POST", "/test/echo")
    def echo(req: Any) -> Any:
        """Echo stdin as stdout; after the client's half-close, one more line on stderr."""
        def session(conn: Any) -> None:
            while data := conn.read_stdin():
                conn.write_frame(StreamType.STDOUT, data)
            conn.write_frame(StreamType.STDERR, b"stdin closed\n")
            conn.close()
        return Hijack(session, multiplexed=not req.query.flag("tty"))

    # A stand-in running container for the Docker CLI's `attach` sequence (wait, inspect,
    # attach): its attach is the echo session, its exit code 3.
    @routes.route("GET", "/containers/{id}/json")
    def inspect(req: Any) -> Any:
        return JSON({"Id": req.params["id"], "Config": {"Tty": False, "OpenStdin": True},
                     "State": {"Status": "running", "Running": True, "Paused": False,
                               "Restarting": False}})

    routes.route("POST", "/containers/{id}/attach")(echo)

    @routes.route("POST", "/containers/{id}/wait")
    def wait(req: Any) -> Any:
        return Stream(iter([b'{"StatusCode":3}\n']), content_type="application/json",
                      eager_headers=True)

    @routes.route("POST", "/test/echo-fail")
    def echo_fail(req: Any) -> Any:
        def session(conn: Any) -> None:
            raise Conflict("the session failed")
        return Hijack(session, multiplexed=True)

    @routes.route("POST", "/test/upload", streamed_body=True)
    def upload(req: Any) -> Any:
        digest, size = hashlib.sha256(), 0
        while chunk := req.stream.read(7919):
            digest.update(chunk)
            size += len(chunk)
        return JSON({"size": size, "sha256": digest.hexdigest()})

    @routes.route("POST", "/test/bounded")
    def bounded(req: Any) -> Any:
        return JSON({"size": len(req.body), "json": req.json()})

    @routes.route("GET", "/test/raise")
    def fail(req: Any) -> Any:
        kinds: dict[str, type[Exception]] = {
            "NotFound": NotFound, "Conflict": Conflict, "InvalidArgument": InvalidArgument,
            "RuntimeFailure": RuntimeFailure, "ValueError": ValueError}
        raise kinds[req.query.get("kind")](f"boom: {req.query.get('kind')}")

    @routes.route("GET", "/test/args/{name:path}/json")
    def args(req: Any) -> Any:
        return JSON({"params": req.params, "path": req.path,
                     "api": ".".join(map(str, req.api_version)),
                     "flags": {k: req.query.flag(k) for k in req.query.all("names")},
                     "filters": req.query.filters()})

    @routes.route("GET", "/test/progress")
    def progress(req: Any) -> Any:
        def messages() -> Iterator[dict[str, Any]]:
            if req.query.flag("fail_first"):
                raise NotFound("No such image: nothing")
            yield {"status": "first"}
            if not release.wait(WAIT):
                raise AssertionError("the test never released the stream")
            release.clear()
            yield {"status": "second"}
            if req.query.flag("fail"):
                raise Conflict("went wrong after two messages")
        return Progress(messages())

    @routes.route("POST", "/test/release")
    def do_release(req: Any) -> Any:
        release.set()
        return Raw(b"", 204)

    @routes.route("GET", "/test/flood")
    def flood(req: Any) -> Any:
        def chunks() -> Iterator[bytes]:
            try:
                while True:
                    yield b"x" * 65536
            finally:
                flood_closed.set()  # the generator was closed: the server saw the client go
        return Stream(chunks())

    @routes.route("GET", "/test/flood-closed")
    def flood_result(req: Any) -> Any:
        return JSON({"closed": flood_closed.wait(WAIT)})

    @routes.route("GET", "/test/hold")
    def hold(req: Any) -> Any:
        def chunks() -> Iterator[bytes]:
            if req.gone.wait(WAIT):
                hold_saw_gone.set()
            yield b"the client is still here\n"
        return Stream(chunks(), content_type="application/json", eager_headers=True)

    @routes.route("GET", "/test/hold-result")
    def hold_result(req: Any) -> Any:
        return JSON({"gone": hold_saw_gone.wait(WAIT)})

    @routes.route("GET", "/test/barrier")
    def meet(req: Any) -> Any:
        try:
            return JSON({"arrived": barrier.wait()})
        except threading.BrokenBarrierError:
            raise Conflict("the 16 clients were not served at the same time") from None

    return routes


def main() -> None:
    import argparse

    from layerlab.engine import Engine
    from layerlab.engine.dockerapi import Router, serve
    from layerlab.engine.dockerapi.server import production_router

    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--time", type=float, default=None)
    parser.add_argument("--group", default=None)
    args = parser.parse_args()
    router: Router = production_router(first=[kit_routes()])  # the stand-ins win
    serve(lambda: Engine(args.root, "vfs"), args.uri, args.time, socket_group=args.group,
          router=router)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
