"""``pull``/``push`` over the OCI distribution API (S22), against real and fake registries.

The real one is Debian's ``docker-registry`` (the CNCF distribution registry) on a random
loopback port; the fake one is a few lines of ``http.server`` that adds what the real one is
not configured for here: Bearer token auth, a multi-platform manifest list, gzip layers and a
corrupt blob. Nothing leaves the loopback interface.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from layerlab.engine.errors import InvalidArgument, NotFound
from layerlab.engine.oci import manifest as mt
from layerlab.engine.oci.imageconfig import host_arch
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer import registry
from layerlab.engine.transfer.bootstrap import bootstrap
from test_archives import add_layer, image_config, layer_tar, sha, store_listing

REGISTRY_BIN = Path("/usr/bin/docker-registry")


# -- a real registry -------------------------------------------------------------------------
def _stop_packaged_service() -> None:
    """Installing the package may start its own registry on :5000; it must not keep running."""
    if shutil.which("systemctl") and subprocess.run(
            ["systemctl", "is-active", "--quiet", "docker-registry"], check=False,
            capture_output=True).returncode == 0:
        subprocess.run(["systemctl", "disable", "--now", "docker-registry"], check=False,
                       capture_output=True)
    init = Path("/etc/init.d/docker-registry")
    if init.exists() and subprocess.run([str(init), "status"], check=False,
                                        capture_output=True).returncode == 0:
        subprocess.run([str(init), "stop"], check=False, capture_output=True)


def _install_registry() -> str:
    """Install Debian's docker-registry; returns why not, or "" on success."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "installing it needs root and apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "docker-registry"]
    p = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=900)
        p = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
    _stop_packaged_service()
    return "" if p.returncode == 0 and REGISTRY_BIN.exists() else \
        f"apt-get install docker-registry failed: {p.stderr.strip()[-200:]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_registry(d: Path, extra_config: str = "") -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1:<random port>, storage in ``d``; its
    address while it runs (``extra_config``: more YAML, e.g. an ``auth:`` section)."""
    if not REGISTRY_BIN.exists() and (why := _install_registry()):
        pytest.skip(f"no docker-registry: {why}")
    port = _free_port()
    config = d / "config.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {d / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
                      + extra_config)
    with (d / "log").open("wb") as log:
        proc = subprocess.Popen([str(REGISTRY_BIN), "serve", str(config)], cwd=d,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            try:  # waiting on the process is the pause, and notices if it died
                proc.wait(0.05)
                pytest.fail(f"docker-registry exited: {(d / 'log').read_text()[-500:]}")
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    pytest.fail("docker-registry did not listen within 30 s")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A distribution registry on 127.0.0.1:<random port> with throwaway storage."""
    with serve_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture
def pusher(tmp_path: Path) -> Engine:
    """busybox and a two-layer image on top of it."""
    e = Engine(tmp_path / "pusher", "vfs")
    bootstrap(e)
    one = add_layer(e, "busybox", {"etc/greeting": b"hello\n"}, "demo:one")
    add_layer(e, one, {"etc/second": b"2\n"}, "demo:two")
    return e


def test_push_then_pull_into_another_engine(local_registry: str, pusher: Engine,
                                            tmp_path: Path) -> None:
    name = f"{local_registry}/demo:two"
    pusher.images.tag("demo:two", name)
    pushed: list[str] = []
    registry.push(pusher, name, pushed.append)
    assert pushed[0] == f"The push refers to repository [{local_registry}/demo]"
    assert sum(line.endswith(": Pushed") for line in pushed) == 3
    manifest_digest = pushed[-1].split()[2]
    assert pushed[-1].startswith("two: digest: sha256:")
    again: list[str] = []
    registry.push(pusher, name, again.append)
    assert sum(line.endswith(": Layer already exists") for line in again) == 3

    # What the registry holds is a plain OCI manifest with uncompressed layers.
    req = urllib.request.Request(f"http://{local_registry}/v2/demo/manifests/two",
                                 headers={"Accept": mt.MT_OCI_MANIFEST})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req) as resp:
        body = resp.read()
    assert sha(body) == manifest_digest
    assert {lay["mediaType"] for lay in json.loads(body)["layers"]} == {mt.MT_OCI_LAYER}

    puller = Engine(tmp_path / "puller", "vfs")
    progress: list[str] = []
    image_id = registry.pull(puller, name, progress.append)
    ours, theirs = pusher.images.get(name), puller.images.get(name)
    assert image_id == ours.id == theirs.id
    assert theirs.tags == [name]
    assert theirs.diff_ids == ours.diff_ids and theirs.history == ours.history
    assert puller.store.images.raw_config(image_id) == pusher.store.images.raw_config(image_id)
    assert progress[0] == "two: Pulling from demo"
    assert sum(line.endswith(": Pull complete") for line in progress) == 3
    assert progress[-2:] == [f"Digest: {manifest_digest}",
                             f"Status: Downloaded newer image for {name}"]

    progress.clear()
    assert registry.pull(puller, name, progress.append) == image_id
    assert sum(line.endswith(": Already exists") for line in progress) == 3
    assert progress[-1] == f"Status: Image is up to date for {name}"

    by_digest = Engine(tmp_path / "by-digest", "vfs")
    assert registry.pull(by_digest, f"{local_registry}/demo@{manifest_digest}",
                         lambda _: None) == image_id
    assert by_digest.images.get(image_id).tags == []  # a digest pull records no tag


def test_pull_of_unknown_tag_is_not_found(local_registry: str, tmp_path: Path) -> None:
    engine = Engine(tmp_path / "root", "vfs")
    with pytest.raises(NotFound, match=r"manifest for .*/nothing:here not found"):
        registry.pull(engine, f"{local_registry}/nothing:here", lambda _: None)


# -- a fake registry: token auth, manifest lists, gzip, corruption ----------------------------
@dataclass
class FakeRegistry:
    url: str = ""
    routes: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    token_queries: list[dict[str, list[str]]] = field(default_factory=list)
    authorized: list[str] = field(default_factory=list)

    def add(self, path: str, media_type: str, data: bytes) -> str:
        self.routes[path] = (media_type, data)
        return sha(data)

    def blob(self, data: bytes, served: bytes | None = None) -> str:
        dgst = sha(data)
        self.routes[f"/v2/demo/blobs/{dgst}"] = ("application/octet-stream",
                                                 data if served is None else served)
        return dgst


def _handler(state: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test asserts on what matters."""

        def reply(self, status: int, media_type: str, body: bytes, head: bool,
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def serve(self, head: bool) -> None:
            url = urlparse(self.path)
            if url.path == "/token":
                state.token_queries.append(parse_qs(url.query))
                self.reply(200, "application/json", b'{"token": "t0k"}', head)
                return
            if self.headers.get("Authorization") != "Bearer t0k":
                challenge = (f'Bearer realm="{state.url}/token",service="fake",'
                             'scope="repository:demo:pull"')
                self.reply(401, "application/json", b'{"errors": []}', head,
                           {"WWW-Authenticate": challenge})
                return
            state.authorized.append(url.path)
            if url.path in state.routes:
                self.reply(200, *state.routes[url.path], head)
            else:
                self.reply(404, "application/json", b'{"errors": [{"code": "MANIFEST_UNKNOWN", '
                           b'"message": "manifest unknown"}]}', head)

        def do_GET(self) -> None:
            self.serve(head=False)

        def do_HEAD(self) -> None:
            self.serve(head=True)

    return Handler


def _image(state: FakeRegistry, files: dict[str, bytes], corrupt: bool = False) -> tuple[
        bytes, bytes]:
    """Serve a gzip-layered Docker v2 manifest; returns (config, manifest)."""
    plain = layer_tar(files)
    gz = gzip.compress(plain)
    config = image_config([sha(plain)], "fake")
    state.blob(config)
    state.blob(gz, served=gzip.compress(layer_tar({"tampered": b"!"})) if corrupt else None)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mt.MT_DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": mt.MT_DOCKER_LAYER, "digest": sha(gz), "size": len(gz)}],
    }).encode()
    state.add(f"/v2/demo/manifests/{sha(manifest)}", mt.MT_DOCKER_MANIFEST, manifest)
    return config, manifest


@contextlib.contextmanager
def serve_fake(state: FakeRegistry,
               handler: type[BaseHTTPRequestHandler]) -> Iterator[FakeRegistry]:
    """``handler`` answering on 127.0.0.1:<random port> (``state.url``) while in use."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def fake_registry() -> Iterator[FakeRegistry]:
    state = FakeRegistry()
    with serve_fake(state, _handler(state)):
        yield state


def test_pull_with_token_auth_picks_this_platform(fake_registry: FakeRegistry,
                                                  tmp_path: Path) -> None:
    other_config, other = _image(fake_registry, {"arch": b"other\n"})
    config, mine = _image(fake_registry, {"arch": b"mine\n"})
    other_arch = "s390x" if host_arch() != "s390x" else "ppc64le"
    index = json.dumps({"schemaVersion": 2, "mediaType": mt.MT_DOCKER_LIST, "manifests": [
        {"mediaType": mt.MT_DOCKER_MANIFEST, "digest": sha(other), "size": len(other),
         "platform": {"architecture": other_arch, "os": "linux"}},
        {"mediaType": mt.MT_DOCKER_MANIFEST, "digest": sha(mine), "size": len(mine),
         "platform": {"architecture": host_arch(), "os": "linux"}},
    ]}).encode()
    fake_registry.add("/v2/demo/manifests/latest", mt.MT_DOCKER_LIST, index)
    host = fake_registry.url.removeprefix("http://")
    engine = Engine(tmp_path / "root", "vfs")
    progress: list[str] = []
    image_id = registry.pull(engine, f"{host}/demo", progress.append)
    assert image_id == sha(config) != sha(other_config)
    assert engine.images.get(f"{host}/demo:latest").id == image_id
    layer = engine.images.layers(engine.images.get(image_id))[0]
    assert engine.store.content.path(layer.diff_id).read_bytes() == layer_tar({"arch": b"mine\n"})
    assert fake_registry.token_queries[0] == {"scope": ["repository:demo:pull"],
                                              "service": ["fake"]}
    assert progress[0] == "Using default tag: latest"
    assert progress[-2:] == [f"Digest: {sha(index)}",
                             f"Status: Downloaded newer image for {host}/demo:latest"]


def test_pull_of_corrupt_blob_leaves_no_trace(fake_registry: FakeRegistry,
                                              tmp_path: Path) -> None:
    _, manifest = _image(fake_registry, {"good": b"data\n"}, corrupt=True)
    fake_registry.add("/v2/demo/manifests/bad", mt.MT_DOCKER_MANIFEST, manifest)
    engine = Engine(tmp_path / "root", "vfs")
    bootstrap(engine)
    before = store_listing(engine.root)
    host = fake_registry.url.removeprefix("http://")
    with pytest.raises(InvalidArgument, match=r"has digest sha256:.*, expected sha256:"):
        registry.pull(engine, f"{host}/demo:bad", lambda _: None)
    assert store_listing(engine.root) == before


# -- Docker Hub is out of reach --------------------------------------------------------------
def test_busybox_from_hub_falls_back_to_the_host_busybox(tmp_path: Path) -> None:
    engine = Engine(tmp_path / "root", "vfs")
    progress: list[str] = []
    image_id = registry.pull(engine, "busybox", progress.append)
    assert engine.images.get("busybox:latest").id == image_id
    assert any("static busybox" in line for line in progress)
    assert progress[-1] == "Status: Downloaded newer image for busybox:latest"
    progress.clear()
    assert registry.pull(engine, "busybox:latest", progress.append) == image_id
    assert progress[-1] == "Status: Image is up to date for busybox:latest"


@pytest.mark.parametrize("ref", ["alpine", "busybox:1.36", "library/debian:12"])
def test_other_hub_images_say_how_to_get_them(tmp_path: Path, ref: str) -> None:
    engine = Engine(tmp_path / "root", "vfs")
    with pytest.raises(NotFound, match=r"no registry is reachable.*load or import"):
        registry.pull(engine, ref, lambda _: None)
    assert engine.store.images.ids() == []


def test_push_to_hub_is_refused(pusher: Engine) -> None:
    with pytest.raises(NotFound, match="local registry"):
        registry.push(pusher, "demo:two", lambda _: None)


def test_plain_http_only_for_loopback_and_listed_registries(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAYERLAB_INSECURE_REGISTRIES", raising=False)
    assert registry.registry_base("127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert registry.registry_base("localhost") == "http://localhost"
    assert registry.registry_base("[::1]:5000") == "http://[::1]:5000"
    assert registry.registry_base("registry.lab:5000") == "https://registry.lab:5000"
    monkeypatch.setenv("LAYERLAB_INSECURE_REGISTRIES", "other.lab, registry.lab:5000")
    assert registry.registry_base("registry.lab:5000") == "http://registry.lab:5000"
    assert registry.registry_base("other.lab") == "http://other.lab"
    assert registry.registry_base("third.lab") == "https://third.lab"
