"""Registry credentials kept as the Docker CLI keeps them, and the two ways registries ask
for them (HTTP Basic, and the Bearer token flow of the distribution spec).

Where: ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json`` — Docker's own file,
not a LayerLab one, on purpose: a learner who ran ``docker login`` once (here or with
Docker) is logged in for both, tools that read Docker's file (skopeo, crane, buildah) see
the same credentials, and ``DOCKER_CONFIG``/``--config`` mean what Docker's documentation
says. Keys LayerLab does not use (``proxies``, ``HttpHeaders`` …) are kept as they are.

How: ``auths[host].auth`` is base64 of ``user:password`` and the file is mode 0600 in a
0700 directory, exactly Docker's unencrypted store, with Docker's warning about it. When
the file names a credential helper (``credsStore``, ``credHelpers``), the helper is used
through Docker's protocol (``docker-credential-NAME get|store|erase``), as Docker does.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EngineError, InvalidArgument, NotFound
from ..fs.atomic import atomic_write

INDEX_SERVER = "https://index.docker.io/v1/"  # the key Docker stores Hub credentials under
TIMEOUT = 60.0
MAX_TOKEN_RESPONSE = 1 << 20


class Unauthorized(EngineError):
    """The registry refused the credentials (``docker login`` exits 1 with it)."""


@dataclass
class Credentials:
    username: str
    password: str


def config_dir() -> Path:
    """``$DOCKER_CONFIG``, else ``~/.docker`` (the CLI's ``--config`` sets the former)."""
    env = os.environ.get("DOCKER_CONFIG")
    return Path(env) if env else Path.home() / ".docker"


def config_path() -> Path:
    return config_dir() / "config.json"


def server_key(domain: str) -> str:
    """The ``auths`` key of a registry: its host[:port], Hub's historical index URL."""
    host = to_hostname(domain)
    return INDEX_SERVER if host in ("", "docker.io", "index.docker.io") else host


def to_hostname(address: str) -> str:
    """Docker's ConvertToHostname: ``https://host:5000/v2/`` → ``host:5000``."""
    if "://" in address:
        address = address.partition("://")[2]
    return address.partition("/")[0]


# -- the config file -------------------------------------------------------------------------
def _load() -> dict[str, Any]:
    path = config_path()
    try:
        data = json.loads(path.read_bytes() or b"{}")
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise InvalidArgument(f"loading config file {path}: {e}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"loading config file {path}: not a JSON object")
    return data


def _save(data: dict[str, Any]) -> None:
    """Atomically, mode 0600 in a 0700 directory, tab-indented as Docker writes it."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent="\t").encode(), mode=0o600)


def _helper(data: dict[str, Any], key: str) -> str:
    helpers = data.get("credHelpers") or {}
    return str(helpers.get(key) or data.get("credsStore") or "")


def lookup(domain: str) -> Credentials | None:
    """Stored credentials for a registry, or None (anonymous)."""
    data = _load()
    key = server_key(domain)
    if helper := _helper(data, key):
        return _helper_get(helper, key)
    auths = data.get("auths") or {}
    entry = auths.get(key)
    if entry is None:  # legacy keys with a scheme or a path
        entry = next((v for k, v in auths.items() if server_key(k) == key), None)
    if not isinstance(entry, dict) or not entry.get("auth"):
        return None
    return _decode(entry["auth"], key)


def store(domain: str, creds: Credentials) -> Path | None:
    """Keep the credentials; returns the file they were written to in plain base64, or None
    when a credential helper took them."""
    data = _load()
    key = server_key(domain)
    if helper := _helper(data, key):
        _run_helper(helper, "store", json.dumps(
            {"ServerURL": key, "Username": creds.username, "Secret": creds.password}))
        return None
    auths = data.setdefault("auths", {})
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    auths[key] = {**(auths.get(key) or {}), "auth": token}
    _save(data)
    return config_path()


def erase(domain: str) -> None:
    """Forget the credentials of a registry under every key Docker may have used."""
    data = _load()
    key = server_key(domain)
    if helper := _helper(data, key):
        with contextlib.suppress(EngineError):  # nothing stored is not an error
            _run_helper(helper, "erase", key)
        return
    auths = data.get("auths") or {}
    host = to_hostname(domain)
    gone = [k for k in dict.fromkeys((domain, key, host, f"http://{host}", f"https://{host}"))
            if k in auths]
    for k in gone:
        del auths[k]
    if gone:
        _save(data)


def _decode(token: str, key: str) -> Credentials:
    try:
        user, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        sep = ""
    if not sep:
        raise InvalidArgument(f"invalid auth configuration file: the credentials for {key} "
                              f"in {config_path()} are not base64 of user:password")
    return Credentials(user, password.strip("\x00"))


def _helper_get(helper: str, key: str) -> Credentials | None:
    try:
        out = _run_helper(helper, "get", key)
    except NotFound:
        return None
    try:
        rec = json.loads(out)
        return Credentials(rec["Username"], rec["Secret"])
    except (ValueError, KeyError, TypeError):
        raise EngineError(f"docker-credential-{helper} get: unreadable answer") from None


def _run_helper(helper: str, action: str, stdin: str) -> str:
    """Docker's credential-helper protocol; "credentials not found" is NotFound."""
    program = f"docker-credential-{helper}"
    if shutil.which(program) is None:
        raise EngineError(f'error getting credentials - err: exec: "{program}": executable '
                          "file not found in $PATH, out: ``")
    p = subprocess.run([program, action], input=stdin.encode(), capture_output=True,
                       timeout=TIMEOUT, check=False)
    out = p.stdout.decode(errors="replace").strip()
    if p.returncode != 0:
        if "credentials not found" in out.lower():
            raise NotFound(out)
        raise EngineError(f"error {action} credentials - err: exit status {p.returncode}, "
                          f"out: `{out}`")
    return out


# -- answering a registry's challenge --------------------------------------------------------
def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…"`` → ("bearer", {realm, service, …})."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', params))


def authorization(header: str, creds: Credentials | None, scope: str,
                  opener: urllib.request.OpenerDirector) -> str:
    """The ``Authorization`` value answering a 401's ``WWW-Authenticate``, or "" when
    there is nothing to answer with (Basic without credentials, an unknown scheme)."""
    scheme, params = parse_challenge(header)
    if scheme == "basic":
        return basic(creds) if creds else ""
    if scheme != "bearer" or "realm" not in params:
        return ""
    query = {}
    if params.get("scope") or scope:
        query["scope"] = params.get("scope") or scope
    if "service" in params:
        query["service"] = params["service"]
    if creds:
        query["account"] = creds.username
    url = f"{params['realm']}?{urllib.parse.urlencode(query)}"
    req = urllib.request.Request(url)
    if creds:
        req.add_header("Authorization", basic(creds))
    try:
        with opener.open(req, timeout=TIMEOUT) as resp:
            body = json.loads(resp.read(MAX_TOKEN_RESPONSE))
    except urllib.error.HTTPError as e:
        raise Unauthorized(f'Get "{url}": {_token_refusal(e)}') from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise EngineError(f"cannot get a token from {params['realm']}: {err}") from None
    token = (body.get("token") or body.get("access_token") or "") if isinstance(body, dict) \
        else ""
    return f"Bearer {token}" if token else ""


def basic(creds: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


def _token_refusal(e: urllib.error.HTTPError) -> str:
    """What a token server said when it refused (distribution's ``errors``, else status)."""
    with contextlib.suppress(ValueError, AttributeError, OSError):
        errors = json.loads(e.read(65536) or b"{}").get("errors") or []
        if errors:
            return "; ".join(f"{str(x.get('code', '')).lower()}: {x.get('message', '')}"
                             for x in errors)
    return "unauthorized: incorrect username or password" if e.code == 401 else \
        f"{e.code} {e.reason}"


def login(base: str, domain: str, creds: Credentials,
          opener: urllib.request.OpenerDirector) -> str:
    """Check credentials as the daemon's ``/auth`` does: ``GET /v2/`` answering the
    registry's challenge with them; "Login Succeeded" or Unauthorized."""
    endpoint = f"{base}/v2/"
    header = ""
    for _ in range(2):
        req = urllib.request.Request(endpoint)
        if header:
            req.add_unredirected_header("Authorization", header)
        try:
            with opener.open(req, timeout=TIMEOUT):
                return "Login Succeeded"
        except urllib.error.HTTPError as e:
            status, reason = e.code, e.reason
            challenge = e.headers.get("WWW-Authenticate") or ""
            if status != 401 or header:
                break
            header = authorization(challenge, creds, "", opener)
            if not header:
                break
        except (urllib.error.URLError, OSError) as e:
            raise EngineError(f'Get "{endpoint}": cannot reach registry {domain}: '
                              f"{getattr(e, 'reason', e)}") from None
    raise Unauthorized(f"login attempt to {endpoint} failed with status: {status} {reason}")
