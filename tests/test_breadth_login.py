"""``docker login``/``logout`` and registries that want credentials (issue 10, item 10).

A real registry: Debian's ``docker-registry`` with htpasswd (Basic) auth on a random
loopback port. The Bearer token flow is played by a few lines of ``http.server`` whose token
endpoint wants the same Basic credentials. Credentials go to ``$DOCKER_CONFIG/config.json``
of each test's own temporary directory, never to a real ``~/.docker``.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlparse

import bcrypt
import pytest
from conftest import Docker, needs_root
from test_registry import FakeRegistry, _image, serve_fake, serve_registry

pytestmark = needs_root
USER, SECRET = "alice", "s3cret pass"


@pytest.fixture
def driver() -> str:
    return "vfs"


@pytest.fixture
def config_dir(docker: Docker, tmp_path: Path) -> Path:
    """Where this test's docker keeps credentials (``DOCKER_CONFIG``)."""
    d = tmp_path / "docker-config"
    docker.env["DOCKER_CONFIG"] = str(d)
    docker.env.pop("HOME", None)
    return d


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A distribution registry on 127.0.0.1 that wants USER/SECRET (htpasswd, bcrypt)."""
    d = tmp_path_factory.mktemp("auth-registry")
    (d / "htpasswd").write_text(
        f"{USER}:{bcrypt.hashpw(SECRET.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    with serve_registry(d, f"auth:\n  htpasswd:\n    realm: lab-realm\n"
                           f"    path: {d / 'htpasswd'}\n") as address:
        yield address


def login(docker: Docker, server: str, password: str = SECRET,
          check: bool = True) -> subprocess.CompletedProcess[str]:
    return docker("login", "-u", USER, "--password-stdin", server,
                  input=(password + "\n").encode(), check=check)


def test_push_and_pull_need_login_with_basic_auth(docker: Docker, auth_registry: str,
                                                  config_dir: Path) -> None:
    name = f"{auth_registry}/lab/box:1"
    docker("tag", "busybox", name)
    p = docker("push", name, check=False)
    assert p.returncode == 1 and "may require 'docker login'" in p.stderr
    p = login(docker, auth_registry, password="wrong", check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (f"Error response from daemon: login attempt to http://"
                                f"{auth_registry}/v2/ failed with status: 401 Unauthorized")
    assert not config_dir.exists()  # refused credentials are not kept

    p = login(docker, auth_registry)
    assert p.stdout == "Login Succeeded\n"
    assert f"WARNING! Your credentials are stored unencrypted in '{config_dir}/config.json'" \
        in p.stderr
    config = json.loads((config_dir / "config.json").read_text())
    assert config == {"auths": {auth_registry: {
        "auth": base64.b64encode(f"{USER}:{SECRET}".encode()).decode()}}}
    assert stat.S_IMODE((config_dir / "config.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700

    pushed = docker.out("push", name).splitlines()
    assert pushed[-1].startswith("1: digest: sha256:")
    digest = pushed[-1].split()[2]
    docker("rmi", name)
    assert docker.out("pull", name).splitlines()[-1] == \
        f"Status: Downloaded newer image for {name}"
    row = docker.out("images", "--digests", "--format",
                     "{{.Repository}} {{.Tag}} {{.Digest}}", f"{auth_registry}/lab/box")
    assert row == f"{auth_registry}/lab/box 1 {digest}"
    assert json.loads(docker.out("inspect", name))[0]["RepoDigests"] == [
        f"{auth_registry}/lab/box@{digest}"]

    p = docker("login", auth_registry)  # stored credentials are used without -u/-p
    assert p.stdout == "Login Succeeded\n"
    assert p.stderr.startswith(f"Authenticating with existing credentials... [Username: {USER}]")
    assert docker.out("logout", auth_registry) == f"Removing login credentials for {auth_registry}"
    assert json.loads((config_dir / "config.json").read_text()) == {"auths": {}}
    docker("rmi", name)
    p = docker("pull", name, check=False)
    assert p.returncode == 1 and "may require 'docker login'" in p.stderr


def test_login_keeps_the_rest_of_the_config_and_honours_config_flag(
        docker: Docker, auth_registry: str, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.json").write_text(json.dumps({
        "proxies": {"default": {"noProxy": "127.0.0.1"}}, "HttpHeaders": {"X-Lab": "1"},
        "auths": {"other.example:5000": {"auth": "b3RoZXI6eA=="}}}))
    docker.env.pop("DOCKER_CONFIG", None)
    p = docker("--config", str(elsewhere), "login", "-u", USER, "--password-stdin",
               auth_registry, input=SECRET.encode())
    assert p.stdout == "Login Succeeded\n"
    config = json.loads((elsewhere / "config.json").read_text())
    assert config["proxies"] == {"default": {"noProxy": "127.0.0.1"}}
    assert config["HttpHeaders"] == {"X-Lab": "1"}
    assert set(config["auths"]) == {"other.example:5000", auth_registry}


@pytest.mark.parametrize(("flags", "stdin", "message"), [
    (["-u", USER, "-p", "x", "--password-stdin"], b"y",
     "conflicting options: cannot specify both --password and --password-stdin"),
    (["--password-stdin"], b"y", "the --password-stdin option requires --username to be set"),
    (["-u", USER, "--password-stdin"], b"\n", "password is empty"),
    ([], None, "error: cannot perform an interactive login from a non-TTY device"),
    (["-u", USER], None, "error: cannot perform an interactive login from a non-TTY device"),
])
def test_login_flag_errors(docker: Docker, config_dir: Path, flags: list[str],
                           stdin: bytes | None, message: str) -> None:
    p = docker("login", *flags, "127.0.0.1:1", input=stdin, check=False)
    assert p.returncode == 1 and p.stderr.strip().splitlines()[-1] == message
    assert not config_dir.exists()


def test_password_on_the_command_line_is_warned_about(docker: Docker, auth_registry: str,
                                                      config_dir: Path) -> None:
    p = docker("login", "-u", USER, "-p", SECRET, auth_registry)
    assert p.stderr.startswith("WARNING! Using --password via the CLI is insecure. "
                               "Use --password-stdin.\n")
    assert p.stdout == "Login Succeeded\n"


# -- the Bearer token flow --------------------------------------------------------------------
def _token_handler(state: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    basic = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

        def reply(self, status: int, body: bytes, media_type: str = "application/json",
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/token":
                state.token_queries.append({"auth": [self.headers.get("Authorization", "")]})
                if self.headers.get("Authorization") != basic:
                    self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"incorrect '
                               b'username or password"}]}')
                    return
                self.reply(200, b'{"token": "granted"}')
                return
            if self.headers.get("Authorization") != "Bearer granted":
                self.reply(401, b'{"errors": []}', extra={"WWW-Authenticate": (
                    f'Bearer realm="{state.url}/token",service="lab"')})
                return
            state.authorized.append(url.path)
            if url.path == "/v2/":
                self.reply(200, b"{}")
            elif url.path in state.routes:
                media_type, body = state.routes[url.path]
                self.reply(200, body, media_type)
            else:
                self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}')

        do_HEAD = do_GET

    return Handler


@pytest.fixture
def token_registry() -> Iterator[FakeRegistry]:
    state = FakeRegistry()
    with serve_fake(state, _token_handler(state)):
        yield state


def test_bearer_token_flow_uses_the_stored_credentials(docker: Docker, config_dir: Path,
                                                       token_registry: FakeRegistry,
                                                       tmp_path: Path) -> None:
    host = token_registry.url.removeprefix("http://")
    _, manifest = _image(token_registry, {"hello": b"from a token registry\n"})
    from layerlab.engine.oci import manifest as mt

    token_registry.add("/v2/demo/manifests/1", mt.MT_DOCKER_MANIFEST, manifest)
    p = docker("pull", f"{host}/demo:1", check=False)  # anonymous: the token is refused
    assert p.returncode == 1
    assert "incorrect username or password" in p.stderr
    p = login(docker, host, password="wrong", check=False)
    assert p.returncode == 1 and "unauthorized: incorrect username or password" in p.stderr
    assert login(docker, host).stdout == "Login Succeeded\n"
    docker("pull", f"{host}/demo:1")
    docker("create", "--name", "pulled", f"{host}/demo:1", "/hello")
    docker("export", "-o", str(tmp_path / "fs.tar"), "pulled")
    with tarfile.open(tmp_path / "fs.tar") as tf:
        member = tf.extractfile("hello")
        assert member is not None and member.read() == b"from a token registry\n"
    assert "/v2/demo/manifests/1" in token_registry.authorized


# -- credential helpers -----------------------------------------------------------------------
HELPER = """#!{python}
import json, sys
store = {store!r}
try:
    data = json.load(open(store))
except FileNotFoundError:
    data = {{}}
action, text = sys.argv[1], sys.stdin.read().strip()
if action == "store":
    rec = json.loads(text)
    data[rec["ServerURL"]] = [rec["Username"], rec["Secret"]]
elif action == "get":
    if text not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": text, "Username": data[text][0], "Secret": data[text][1]}}))
elif action == "erase":
    data.pop(text, None)
json.dump(data, open(store, "w"))
"""


def test_credential_helper_named_in_the_config(docker: Docker, auth_registry: str,
                                               config_dir: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-lab"
    store = tmp_path / "keychain.json"
    helper.write_text(HELPER.format(python=sys.executable, store=str(store)))
    helper.chmod(0o755)
    docker.env["PATH"] = f"{bin_dir}{os.pathsep}{docker.env['PATH']}"
    config_dir.mkdir(mode=0o700)
    (config_dir / "config.json").write_text('{"credsStore": "lab"}')
    p = login(docker, auth_registry)
    assert p.stdout == "Login Succeeded\n" and "unencrypted" not in p.stderr
    assert json.loads(store.read_text()) == {auth_registry: [USER, SECRET]}
    assert json.loads((config_dir / "config.json").read_text()) == {"credsStore": "lab"}
    name = f"{auth_registry}/lab/helper:1"
    docker("tag", "busybox", name)
    docker("push", name)  # the helper's credentials answer the registry
    docker("logout", auth_registry)
    assert json.loads(store.read_text()) == {}
