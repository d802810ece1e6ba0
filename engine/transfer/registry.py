"""``pull`` and ``push`` over the OCI distribution API (S22), with urllib only.

Pulled blobs are checked against their digests as they stream in, layers against the
config's diffIDs, and the image becomes visible all at once through ``archives.Staging``, so
an interrupted or corrupt pull leaves nothing behind. Pushes send layers uncompressed, as
they are stored, so their digests are their diffIDs and the image ID survives the trip.

Docker Hub is not reachable from LayerLab's machines: a name without a registry host only
works for ``busybox:latest``, which falls back to the image built from the host's busybox.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, BinaryIO

from ..errors import EngineError, InvalidArgument, NotFound
from ..oci import reference as refs
from ..oci.digest import digest, strip_algo
from ..oci.imageconfig import host_arch
from ..oci.imageconfig import parse as parse_config
from ..oci.manifest import (
    INDEX_TYPES,
    LAYER_TYPES,
    MANIFEST_TYPES,
    MAX_JSON,
    MT_DOCKER_LIST,
    MT_DOCKER_MANIFEST,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    descriptor_digest,
    platform_matches,
)
from ..services.engine import Engine
from ..services.events import image_event
from . import auth
from .archive import image_manifest
from .bootstrap import REF as BUSYBOX_REF
from .bootstrap import bootstrap
from .staging import NewImage, Staging

Progress = Callable[[str], None]
ACCEPT = ", ".join((MT_OCI_INDEX, MT_OCI_MANIFEST, MT_DOCKER_LIST, MT_DOCKER_MANIFEST))
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
TIMEOUT = 60.0


def _host(domain: str) -> str:
    """``127.0.0.1:5000`` → ``127.0.0.1``; ``[::1]:5000`` → ``[::1]``."""
    return domain if domain.endswith("]") else domain.rpartition(":")[0] or domain


def registry_base(domain: str) -> str:
    """``http://`` for loopback and ``LAYERLAB_INSECURE_REGISTRIES`` hosts, else ``https://``."""
    host = _host(domain)
    insecure = {h.strip() for h in os.environ.get("LAYERLAB_INSECURE_REGISTRIES", "").split(",")}
    plain = host in LOOPBACK or domain in insecure or host in insecure
    return f"{'http' if plain else 'https'}://{domain}"


def _opener(domain: str) -> urllib.request.OpenerDirector:
    """A loopback registry is never reached through a proxy from the environment."""
    handlers = [urllib.request.ProxyHandler({})] if _host(domain) in LOOPBACK else []
    return urllib.request.build_opener(*handlers)


def login(domain: str, creds: auth.Credentials) -> str:
    """``docker login``: the registry accepts ``creds`` (``GET /v2/``), or Unauthorized."""
    return auth.login(registry_base(domain), domain, creds, _opener(domain))


class _Client:
    """One repository on one registry; answers its 401 challenge (Basic, or a Bearer token)
    with the credentials ``docker login`` stored, if any (``auth``)."""

    def __init__(self, domain: str, repo: str, actions: str) -> None:
        self.domain = domain
        self.base = f"{registry_base(domain)}/v2/{repo}"
        self.scope = f"repository:{repo}:{actions}"
        self.creds = auth.lookup(domain)
        self.authorization = ""
        self.opener = _opener(domain)

    def request(self, method: str, url: str, what: str, *, headers: dict[str, str] | None = None,
                data: bytes | BinaryIO | None = None, expect: tuple[int, ...] = (200,),
                ) -> tuple[int, Any]:
        """(status, response); statuses outside ``expect`` raise a Docker-like error."""
        url = urllib.parse.urljoin(self.base, url)
        retried = False
        while True:
            req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
            if self.authorization:
                req.add_unredirected_header("Authorization", self.authorization)
            try:
                resp: Any = self.opener.open(req, timeout=TIMEOUT)
                status = resp.status
            except urllib.error.HTTPError as e:
                resp, status = e, e.code
                if status == 401 and not retried and self._authenticate(e):
                    e.close()
                    retried = True
                    if hasattr(data, "seek"):
                        data.seek(0)  # type: ignore[union-attr]
                    continue
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise EngineError(f'{method} "{url}": cannot reach registry {self.domain}: '
                                  f"{reason}") from None
            if status in expect:
                return status, resp
            raise _http_error(what, status, resp)

    def _authenticate(self, e: urllib.error.HTTPError) -> bool:
        """Answer the ``WWW-Authenticate`` challenge; False if there is nothing to answer."""
        self.authorization = auth.authorization(e.headers.get("WWW-Authenticate") or "",
                                                self.creds, self.scope, self.opener)
        return bool(self.authorization)

    def manifest(self, reference: str, what: str) -> tuple[dict[str, Any], str, str]:
        """(manifest, its media type, its digest) for a tag or digest, checked if by digest."""
        _, resp = self.request("GET", f"{self.base}/manifests/{reference}",
                               f"manifest for {what}", headers={"Accept": ACCEPT})
        with resp:
            body = _read_small(resp, f"manifest for {what}")
            content_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        dgst = digest(body)
        if reference.startswith("sha256:") and dgst != reference:
            raise InvalidArgument(f"manifest {reference} from {self.domain} does not match its "
                                  "digest")
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise InvalidArgument(f"manifest for {what} is not valid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"manifest for {what} is not a JSON object")
        return doc, doc.get("mediaType") or content_type, dgst

    def blob(self, desc: dict[str, Any], what: str) -> Any:
        return self.request("GET", f"{self.base}/blobs/{descriptor_digest(desc, what)}", what)[1]

    def blob_bytes(self, desc: dict[str, Any], what: str) -> bytes:
        with self.blob(desc, what) as resp:
            data = _read_small(resp, what)
        if digest(data) != desc["digest"] or desc.get("size", len(data)) != len(data):
            raise InvalidArgument(f"{what} does not match its digest or size")
        return data

    def has_blob(self, dgst: str) -> bool:
        status, resp = self.request("HEAD", f"{self.base}/blobs/{dgst}", f"blob {dgst}",
                                    expect=(200, 404))
        resp.close()
        return status == 200

    def upload(self, dgst: str, data: bytes | BinaryIO, size: int) -> None:
        """Monolithic upload: POST opens a session, one PUT with ``?digest=`` closes it."""
        _, resp = self.request("POST", f"{self.base}/blobs/uploads/", f"upload of {dgst}",
                               data=b"", expect=(202,))
        resp.close()
        location = resp.headers.get("Location")
        if not location:
            raise EngineError(f"registry {self.domain} gave no upload location for {dgst}")
        sep = "&" if "?" in location else "?"
        url = f"{location}{sep}digest={urllib.parse.quote(dgst)}"
        self.request("PUT", url, f"upload of {dgst}", data=data, expect=(201,),
                     headers={"Content-Type": "application/octet-stream",
                              "Content-Length": str(size)})[1].close()


def _read_small(resp: Any, what: str) -> bytes:
    data = resp.read(MAX_JSON + 1)
    if len(data) > MAX_JSON:
        raise InvalidArgument(f"{what} is too large")
    return bytes(data)


def _http_error(what: str, status: int, resp: Any) -> EngineError:
    """The registry's own error codes and messages, worded as Docker words them."""
    try:
        errors = json.loads(resp.read(65536) or b"{}").get("errors") or []
        detail = "; ".join(f"{str(e.get('code', '')).lower().replace('_', ' ')}: "
                           f"{e.get('message', '')}" for e in errors)
    except (ValueError, AttributeError, OSError):
        detail = ""
    detail = detail or f"HTTP {status}"
    if status == 404:
        return NotFound(f"{what} not found: {detail}")
    if status in (401, 403):
        return NotFound(f"{what}: access denied ({detail}): the repository does not exist or "
                        "may require 'docker login'")
    return EngineError(f"{what}: registry answered {detail}")


def _pick_platform(index: dict[str, Any], what: str) -> dict[str, Any]:
    for desc in index.get("manifests") or []:
        if isinstance(desc, dict) and desc.get("mediaType", MT_OCI_MANIFEST) in MANIFEST_TYPES \
                and platform_matches(desc):
            return desc
    raise NotFound(f"no matching manifest for linux/{host_arch()} in the manifest list "
                   f"entries of {what}")


def _from_hub(engine: Engine, ref: refs.Reference, progress: Progress) -> str:
    """Docker Hub is out of reach: ``busybox:latest`` comes from the host's busybox instead."""
    if str(ref) != BUSYBOX_REF or ref.digest:
        raise NotFound(
            f"cannot pull {ref}: no registry is reachable from here (Docker Hub is offline for "
            "LayerLab); load or import the image instead, or push it to a local registry and "
            f"pull it from there, e.g. 127.0.0.1:5000/{ref.repo}:{ref.tag}")
    existed = engine.images.refs().get(BUSYBOX_REF)
    progress(f"{ref.tag}: Docker Hub is not reachable from here; making {BUSYBOX_REF} from "
             "this host's static busybox instead")
    image_id = bootstrap(engine)
    image_event(engine, BUSYBOX_REF, ref.repo, "pull")
    status = "Image is up to date" if existed == image_id else "Downloaded newer image"
    progress(f"Status: {status} for {BUSYBOX_REF}")
    return image_id


def pull(engine: Engine, ref: str, progress: Progress) -> str:
    """Pull ``ref`` for linux/this machine's architecture, tag it, and return the image ID."""
    r = refs.parse(ref)
    if "@" not in ref and ":" not in ref.rpartition("/")[2]:
        progress("Using default tag: latest")
    if not r.domain:
        return _from_hub(engine, r, progress)
    name = f"{r.repo}@{r.digest}" if r.digest else str(r)
    client = _Client(r.domain, r.path, "pull")
    progress(f"{r.digest or r.tag}: Pulling from {r.path}")
    manifest, media_type, top_digest = client.manifest(r.digest or r.tag, name)
    if media_type in INDEX_TYPES or "manifests" in manifest:
        chosen = _pick_platform(manifest, name)
        manifest, media_type, _ = client.manifest(descriptor_digest(chosen, name), name)
    if media_type not in MANIFEST_TYPES and "config" not in manifest:
        raise InvalidArgument(f"manifest for {name} has unsupported type {media_type!r}")
    raw = client.blob_bytes(manifest.get("config") or {}, f"config of {name}")
    diff_ids = parse_config(raw, f"config of {name}")["rootfs"]["diff_ids"]
    layers = manifest.get("layers") or []
    if len(layers) != len(diff_ids):
        raise InvalidArgument(f"manifest for {name} names {len(layers)} layers but its config "
                              f"lists {len(diff_ids)}")
    image_id = digest(raw)
    up_to_date = engine.images.exists(image_id) and bool(
        r.digest or engine.images.refs().get(name) == image_id)
    with Staging(engine, f"invalid image {name}", "pull") as staging:
        for i, (desc, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
            dgst = descriptor_digest(desc, f"layer {i} of {name}")
            short = strip_algo(dgst)[:12]
            if staging.has_layer(diff_ids, i):
                progress(f"{short}: Already exists")
                continue
            if desc.get("mediaType") not in LAYER_TYPES:
                raise InvalidArgument(f"layer {dgst} of {name} has unsupported type "
                                      f"{desc.get('mediaType')!r}")
            progress(f"{short}: Pulling fs layer")
            with client.blob(desc, f"layer {dgst}") as resp:
                got = staging.ingest_layer(resp, f"layer {dgst}", dgst, desc.get("size"))
            progress(f"{short}: Download complete")
            if got != diff_id:
                raise staging.error(f"layer {dgst} has diffID {got} but the image config "
                                    f"expects {diff_id}")
            progress(f"{short}: Pull complete")
        staging.commit([NewImage(raw, [] if r.digest else [name])])
    engine.images.add_repo_digest(image_id, r.repo, top_digest)
    image_event(engine, name, r.repo, "pull")
    progress(f"Digest: {top_digest}")
    status = "Image is up to date" if up_to_date else "Downloaded newer image"
    progress(f"Status: {status} for {name}")
    return image_id


def push(engine: Engine, ref: str, progress: Progress) -> None:
    """Push a local tag: its layers (uncompressed, skipping what the registry has), its
    config, then an OCI manifest under the tag."""
    r = refs.parse(ref)
    image_id = engine.images.resolve(ref)
    if not r.domain:
        raise NotFound(
            f"cannot push {r}: Docker Hub is not reachable from here; tag the image for a "
            f"local registry (docker tag {r} 127.0.0.1:5000/{r.repo}:{r.tag}) and push that")
    client = _Client(r.domain, r.path, "pull,push")
    progress(f"The push refers to repository [{r.repo}]")
    manifest, layers = image_manifest(engine, image_id)
    for diff_id, _, _ in reversed(layers):
        progress(f"{strip_algo(diff_id)[:12]}: Preparing")
    done: set[str] = set()
    for diff_id, path, size in reversed(layers):
        short = strip_algo(diff_id)[:12]
        if diff_id in done or client.has_blob(diff_id):
            progress(f"{short}: Layer already exists")
            continue
        progress(f"{short}: Pushing")
        with path.open("rb") as f:
            client.upload(diff_id, f, size)
        done.add(diff_id)
        progress(f"{short}: Pushed")
    raw = engine.store.images.raw_config(image_id)
    if not client.has_blob(image_id):
        client.upload(image_id, raw, len(raw))
    client.request("PUT", f"{client.base}/manifests/{r.tag}", f"manifest for {r}",
                   data=manifest, expect=(201,),
                   headers={"Content-Type": MT_OCI_MANIFEST})[1].close()
    engine.images.add_repo_digest(image_id, r.repo, digest(manifest))
    image_event(engine, str(r), r.repo, "push")
    progress(f"{r.tag}: digest: {digest(manifest)} size: {len(manifest)}")
