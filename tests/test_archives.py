"""``save``/``load`` (S19, S20, S22): round trips, both archive formats, bad input, Podman.

Archives are checked with hashlib against the OCI layout and docker-archive rules rather than
against our own reader, so a bug shared by ``save`` and ``load`` cannot hide. Podman is the
independent peer: it must load what we save, and we must load what it saves.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from layerlab.engine.errors import InvalidArgument
from layerlab.engine.oci import manifest as mt
from layerlab.engine.oci.imageconfig import compact, host_arch
from layerlab.engine.oci.layertar import TarStream
from layerlab.engine.services.engine import Engine
from layerlab.engine.transfer import archive as archives
from layerlab.engine.transfer.bootstrap import bootstrap

PODMAN_SETUP = Path(__file__).resolve().parent / "podman-setup.sh"  # shipped in the repo
CREATED = "2026-01-02T03:04:05Z"


# -- helpers (also used by test_registry.py) -------------------------------------------------
def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes], members: list[tarfile.TarInfo] | None = None) -> bytes:
    """A deterministic layer tar of ``files`` plus raw ``members`` (for hostile names)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            tf.addfile(ti, io.BytesIO(data))
        for ti in members or []:
            tf.addfile(ti, io.BytesIO(b"x" * ti.size))
    return buf.getvalue()


def add_layer(engine: Engine, base: str, files: dict[str, bytes], tag: str) -> str:
    """What ``commit`` makes, without running a container: base + one layer + history."""
    diff_id = engine.store.layers.ingest(io.BytesIO(layer_tar(files)))
    parent = engine.images.get(base)
    with engine.store.lock():
        engine.store.layers.register_chain([*parent.diff_ids, diff_id])
        config = {
            **parent.config,
            "created": CREATED,
            "rootfs": {"type": "layers", "diff_ids": [*parent.diff_ids, diff_id]},
            "history": [*parent.history,
                        {"created": CREATED, "created_by": f"/bin/sh -c #(nop) ADD {tag}"},
                        {"created": CREATED, "created_by": "/bin/sh -c #(nop) ENV X=1",
                         "empty_layer": True}],
        }
        return engine.images.put(config, parent=parent.id, tag=tag)


def image_config(diff_ids: list[str], comment: str) -> bytes:
    return compact({
        "architecture": host_arch(), "os": "linux", "created": CREATED,
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": CREATED, "created_by": f"layer {i}", "comment": comment}
                    for i in range(len(diff_ids))],
    })


def make_tar(members: dict[str, bytes | str]) -> bytes:
    """A tar of regular files (bytes) and symlinks (str: the link target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            if isinstance(data, str):
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def store_listing(root: Path) -> dict[str, bytes]:
    """Every image, layer, tag and content record of a store, with the small files' bytes."""
    out = {}
    for sub in ("images", "layers", "blobs"):
        for p in sorted((root / sub).rglob("*")):
            small = p.is_file() and sub != "blobs"
            out[str(p.relative_to(root))] = p.read_bytes() if small else b""
    tags = root / "repositories.json"
    out["repositories.json"] = tags.read_bytes() if tags.exists() else b""
    return out


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        names = [m.name for m in tf.getmembers()]
        assert len(names) == len(set(names)), "a blob was written twice"
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}


def save_bytes(engine: Engine, names: list[str]) -> bytes:
    buf = io.BytesIO()
    archives.save(engine, names, buf)
    return buf.getvalue()


# -- fixtures ----------------------------------------------------------------------------
@pytest.fixture
def source(tmp_path: Path) -> Engine:
    """busybox, plus two images that share its layer, one of them two layers above it."""
    e = Engine(tmp_path / "source", "vfs")
    bootstrap(e)
    one = add_layer(e, "busybox", {"etc/greeting": b"hello\n"}, "demo:one")
    add_layer(e, one, {"etc/second": b"2\n"}, "demo:two")
    add_layer(e, "busybox", {"etc/other": b"other\n"}, "other:latest")
    return e


@pytest.fixture
def target(tmp_path: Path) -> Engine:
    return Engine(tmp_path / "target", "vfs")


# -- save → load ---------------------------------------------------------------------------
def test_round_trip_keeps_ids_tags_layers_history(source: Engine, target: Engine) -> None:
    lines = archives.load(target, io.BytesIO(save_bytes(source, ["busybox", "demo", "other"])))
    assert sorted(lines) == ["Loaded image: busybox:latest", "Loaded image: demo:one",
                             "Loaded image: demo:two", "Loaded image: other:latest"]
    for ref in ("busybox", "demo:one", "demo:two", "other"):
        old, new = source.images.get(ref), target.images.get(ref)
        assert new.id == old.id
        assert new.tags == old.tags
        assert new.diff_ids == old.diff_ids and new.history == old.history
        assert target.store.images.raw_config(new.id) == source.store.images.raw_config(old.id)
        assert [h.created_by for h in target.images.history(ref)] == \
               [h.created_by for h in source.images.history(ref)]
        for layer in target.images.layers(new):
            assert sha(target.store.content.path(layer.diff_id).read_bytes()) == layer.diff_id
    assert {lay.chain_id for lay in target.store.layers.all()} == \
           {lay.chain_id for lay in source.store.layers.all()}
    # Parent links saved together survive too (Docker's manifest.json "Parent").
    assert target.images.get("demo:two").parent == source.images.get("demo:one").id


def test_saved_archive_is_an_oci_layout(source: Engine) -> None:
    files = members(save_bytes(source, ["demo:two", "other"]))
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    assert index["schemaVersion"] == 2 and index["mediaType"] == mt.MT_OCI_INDEX
    names = {}
    for desc in index["manifests"]:
        raw = files[f"blobs/sha256/{desc['digest'][7:]}"]
        assert sha(raw) == desc["digest"] and len(raw) == desc["size"]
        assert desc["platform"] == {"architecture": host_arch(), "os": "linux"}
        manifest = json.loads(raw)
        assert manifest["mediaType"] == desc["mediaType"] == mt.MT_OCI_MANIFEST
        config_raw = files[f"blobs/sha256/{manifest['config']['digest'][7:]}"]
        assert sha(config_raw) == manifest["config"]["digest"]
        assert len(config_raw) == manifest["config"]["size"]
        config = json.loads(config_raw)
        assert [lay["digest"] for lay in manifest["layers"]] == config["rootfs"]["diff_ids"]
        for lay in manifest["layers"]:
            blob = files[f"blobs/sha256/{lay['digest'][7:]}"]
            assert lay["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
            assert sha(blob) == lay["digest"] and len(blob) == lay["size"]
            with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as layer:
                assert layer.getmembers()  # an uncompressed tar
        ann = desc["annotations"]
        names[ann["io.containerd.image.name"]] = ann["org.opencontainers.image.ref.name"]
        local_name = ann["io.containerd.image.name"].removeprefix("docker.io/library/")
        assert manifest["config"]["digest"] == source.images.get(local_name).id
    assert names == {"docker.io/library/demo:two": "two",
                     "docker.io/library/other:latest": "latest"}
    # The busybox layer both images share is stored once (members() checks names are unique).
    busybox_layer = source.images.get("busybox").diff_ids[0]
    assert f"blobs/sha256/{busybox_layer[7:]}" in files


def test_saved_archive_is_a_docker_archive(source: Engine) -> None:
    files = members(save_bytes(source, ["demo:two", source.images.get("other").id]))
    items = json.loads(files["manifest.json"])
    assert [i["RepoTags"] for i in items] == [["demo:two"], None]  # by ID: no tag, as Docker
    for item in items:
        config_raw = files[item["Config"]]
        assert item["Config"] == f"blobs/sha256/{sha(config_raw)[7:]}"
        diff_ids = json.loads(config_raw)["rootfs"]["diff_ids"]
        assert [sha(files[p]) for p in item["Layers"]] == diff_ids
    top = source.images.get("demo:two").diff_ids[-1]
    assert json.loads(files["repositories"]) == {"demo": {"two": top[7:]}}
    untagged = [d for d in json.loads(files["index.json"])["manifests"] if "annotations" not in d]
    assert len(untagged) == 1


def test_save_and_load_through_pipes(source: Engine, target: Engine) -> None:
    """``save`` to stdout and ``load`` from stdin: neither end can seek."""
    class Sink:
        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        def write(self, data: bytes) -> int:
            self.chunks.append(bytes(data))
            return len(data)

    sink = Sink()
    archives.save(source, ["demo:one"], sink)  # type: ignore[arg-type]
    r, w = os.pipe()

    def writer() -> None:  # the other end of "docker save | gzip | docker load"
        with os.fdopen(w, "wb") as out:
            out.write(gzip.compress(b"".join(sink.chunks)))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with os.fdopen(r, "rb") as stdin:
            assert archives.load(target, stdin) == ["Loaded image: demo:one"]
    finally:
        thread.join()
    assert target.images.get("demo:one").id == source.images.get("demo:one").id
    assert not [p for p in target.root.iterdir() if p.name.startswith(".load-")]


def test_load_oci_only_uses_containerd_names(source: Engine, target: Engine) -> None:
    """Without manifest.json (e.g. containerd's export) the names come from index.json."""
    files = members(save_bytes(source, ["demo:one"]))
    oci = make_tar({k: v for k, v in files.items() if k not in ("manifest.json", "repositories")})
    assert archives.load(target, io.BytesIO(oci)) == ["Loaded image: demo:one"]
    assert target.images.get("demo:one").id == source.images.get("demo:one").id


def test_load_moves_an_existing_tag(source: Engine, target: Engine) -> None:
    bootstrap(target)
    target.images.tag("busybox", "demo:one")
    old = target.images.get("demo:one").id
    lines = archives.load(target, io.BytesIO(save_bytes(source, ["demo:one"])))
    assert lines == [f"The image demo:one already exists, renaming the old one with ID {old} "
                     "to empty string", "Loaded image: demo:one"]
    assert target.images.get("demo:one").id == source.images.get("demo:one").id


# -- other writers' formats ----------------------------------------------------------------
def test_load_pre25_docker_archive_with_gzip_layers(target: Engine) -> None:
    """``<id>/layer.tar`` paths, ``<hex>.json`` configs, gzip layers and a symlinked layer,
    as ``docker save`` before 25 and ``podman save --format docker-archive`` write them."""
    plain = [layer_tar({"a": b"A\n"}), layer_tar({"b": b"B\n"})]
    diff_ids = [sha(t) for t in plain]
    one, two = image_config(diff_ids, "one"), image_config(diff_ids[:1], "two")
    v1 = [hashlib.sha256(f"v1-{i}".encode()).hexdigest() for i in range(3)]
    archive = make_tar({
        f"{v1[0]}/layer.tar": gzip.compress(plain[0]),
        f"{v1[0]}/json": b"{}", f"{v1[0]}/VERSION": b"1.0",
        f"{v1[1]}/layer.tar": gzip.compress(plain[1]),
        f"{v1[2]}/layer.tar": f"../{v1[0]}/layer.tar",  # Docker's dedup of a shared layer
        f"{sha(one)[7:]}.json": one,
        f"{sha(two)[7:]}.json": two,
        "manifest.json": json.dumps([
            {"Config": f"{sha(one)[7:]}.json", "RepoTags": ["old:one"],
             "Layers": [f"{v1[0]}/layer.tar", f"{v1[1]}/layer.tar"]},
            {"Config": f"{sha(two)[7:]}.json", "RepoTags": ["localhost/old:two"],
             "Layers": [f"{v1[2]}/layer.tar"]},
        ]).encode(),
        "repositories": json.dumps({"old": {"one": v1[1]}}).encode(),
    })
    assert archives.load(target, io.BytesIO(archive)) == [
        "Loaded image: old:one", "Loaded image: localhost/old:two"]
    img = target.images.get("old:one")
    assert img.id == sha(one) and img.diff_ids == diff_ids and len(img.history) == 2
    assert target.images.get("localhost/old:two").id == sha(two)
    for d, t in zip(diff_ids, plain, strict=True):  # stored uncompressed, byte for byte
        assert target.store.content.path(d).read_bytes() == t


def oci_layout(configs: list[tuple[bytes, list[bytes]]], name: str) -> bytes:
    """An OCI layout tar with gzip layers, reached through a nested multi-platform index
    whose other entries (another arch, an attestation) have no blobs here, like a partial
    ``docker save`` from containerd."""
    blobs: dict[str, bytes] = {}
    manifests = []
    for config, layers in configs:
        blobs[sha(config)] = config
        layer_descs = []
        for i, layer in enumerate(layers):
            gz = gzip.compress(layer)
            blobs[sha(gz)] = gz
            layer_descs.append({"mediaType": mt.MT_DOCKER_LAYER if i else
                                "application/vnd.oci.image.layer.v1.tar+gzip",
                                "digest": sha(gz), "size": len(gz)})
        manifest = json.dumps({"schemaVersion": 2, "mediaType": mt.MT_OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": sha(config), "size": len(config)},
                               "layers": layer_descs}).encode()
        blobs[sha(manifest)] = manifest
        manifests.append(manifest)
    absent = "sha256:" + "0" * 64
    inner = json.dumps({"schemaVersion": 2, "mediaType": mt.MT_OCI_INDEX, "manifests": [
        {"mediaType": mt.MT_OCI_MANIFEST, "digest": absent, "size": 1,
         "platform": {"architecture": "s390x" if host_arch() != "s390x" else "ppc64le",
                      "os": "linux"}},
        {"mediaType": mt.MT_OCI_MANIFEST, "digest": absent, "size": 1,
         "platform": {"architecture": "unknown", "os": "unknown"}},
        *({"mediaType": mt.MT_OCI_MANIFEST, "digest": sha(m), "size": len(m),
           "platform": {"architecture": host_arch(), "os": "linux"}} for m in manifests),
    ]}).encode()
    blobs[sha(inner)] = inner
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": mt.MT_OCI_INDEX, "digest": sha(inner), "size": len(inner),
         "annotations": {"org.opencontainers.image.ref.name": name}}]}
    return make_tar({"oci-layout": mt.OCI_LAYOUT, "index.json": json.dumps(index).encode(),
                     **{f"blobs/sha256/{d[7:]}": b for d, b in blobs.items()}})


def test_load_oci_layout_with_gzip_layers(target: Engine) -> None:
    plain = [layer_tar({"x": b"X\n"}), layer_tar({"y": b"Y\n"})]
    config = image_config([sha(t) for t in plain], "oci")
    archive = gzip.compress(oci_layout([(config, plain)], "localhost/oci:v1"))  # whole tar gz
    assert archives.load(target, io.BytesIO(archive)) == ["Loaded image: localhost/oci:v1"]
    img = target.images.get("localhost/oci:v1")
    assert img.id == sha(config) and img.diff_ids == [sha(t) for t in plain]
    assert target.store.content.path(img.diff_ids[1]).read_bytes() == plain[1]


# -- bad input: an error, and the store exactly as before --------------------------------------
def _docker25(config: bytes, layers: dict[str, bytes], tag: str = "bad:1") -> bytes:
    return make_tar({
        f"blobs/sha256/{sha(config)[7:]}": config, **layers,
        "manifest.json": json.dumps([{"Config": f"blobs/sha256/{sha(config)[7:]}",
                                      "RepoTags": [tag], "Layers": list(layers)}]).encode(),
    })


def _with_hostile_member(ti: tarfile.TarInfo) -> bytes:
    """A good new layer, then one whose member escapes: the first must not survive either."""
    good, evil = layer_tar({"fine": b"ok\n"}), layer_tar({}, [ti])
    config = image_config([sha(good), sha(evil)], "evil")
    return _docker25(config, {f"blobs/sha256/{sha(good)[7:]}": good,
                              f"blobs/sha256/{sha(evil)[7:]}": evil})


def _missing_blob() -> bytes:
    layer = layer_tar({"m": b"m\n"})
    config = image_config([sha(layer)], "missing")
    archive = _docker25(config, {f"blobs/sha256/{sha(layer)[7:]}": layer})
    files = members(archive)
    del files[f"blobs/sha256/{sha(layer)[7:]}"]
    return make_tar(files)


def _diff_id_mismatch() -> bytes:
    layer, other = layer_tar({"real": b"1\n"}), layer_tar({"claimed": b"2\n"})
    config = image_config([sha(other)], "mismatch")
    return _docker25(config, {"layer0/layer.tar": gzip.compress(layer)})


def _misnamed_blob(compress: bool) -> bytes:
    """A layer whose diffID is right but whose blob path names another digest: a plain
    layer is hashed once for both, a gzip one twice, and either way the lie is caught."""
    layer = layer_tar({"named": b"wrongly\n"})
    blob = gzip.compress(layer) if compress else layer
    config = image_config([sha(layer)], "misnamed")
    return _docker25(config, {f"blobs/sha256/{'ab' * 32}": blob})


def _evil(name: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size = 4
    return ti


BAD_ARCHIVES = {
    "not a tar": (lambda: b"this is not a tar archive\n" * 100, "not a tar file"),
    "no manifest": (lambda: make_tar({"hello.txt": b"hi\n"}), "no manifest.json or index.json"),
    "missing blob": (_missing_blob, "which is not in the archive"),
    "dotdot member": (lambda: _with_hostile_member(_evil("../evil")), "escapes"),
    "absolute member": (lambda: _with_hostile_member(_evil("/abs")), "absolute path"),
    "diffID mismatch": (_diff_id_mismatch, "diffID"),
    "escaping archive member": (lambda: make_tar({"manifest.json": b"[]", "../x": b"x"}),
                                "escapes"),
    "bad gzip": (lambda: b"\x1f\x8b" + b"\x00" * 64, "invalid archive"),
    "plain blob misnamed": (lambda: _misnamed_blob(False), f"expected sha256:{'ab' * 32}"),
    "gzip blob misnamed": (lambda: _misnamed_blob(True), f"expected sha256:{'ab' * 32}"),
}


@pytest.mark.parametrize("case", list(BAD_ARCHIVES))
def test_bad_archive_is_refused_and_leaves_no_trace(tmp_path: Path, case: str) -> None:
    engine = Engine(tmp_path / "root", "vfs")
    bootstrap(engine)
    before = store_listing(engine.root)
    make, expected = BAD_ARCHIVES[case]
    with pytest.raises(InvalidArgument) as err:
        archives.load(engine, io.BytesIO(make()))
    message = str(err.value)
    assert message.startswith("invalid archive: ") and "\n" not in message
    assert expected in message
    assert store_listing(engine.root) == before


def test_tar_stream_writes_what_tarfile_writes(tmp_path: Path) -> None:
    """``TarStream`` (save, commit, export) bypasses ``tarfile``'s writer: its bytes must
    be exactly that writer's, into memory, a file (``sendfile``) and a pipe, and a file
    that shrank under it is padded with zeros to the size in its header."""
    data = tmp_path / "data"
    data.write_bytes(os.urandom((3 << 20) + 77))

    def infos() -> list[tarfile.TarInfo]:
        d, f, long, link = (tarfile.TarInfo(n) for n in ("d", "d/f", "x" * 300, "d/l"))
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        f.size, f.mtime, f.uid = data.stat().st_size, 1234, 70000
        long.size = 5
        link.type, link.linkname = tarfile.SYMTYPE, "\u00fc" * 120
        return [d, f, long, link]

    expected = io.BytesIO()
    with tarfile.open(fileobj=expected, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        d, f, long, link = infos()
        with data.open("rb") as src:
            tf.addfile(d), tf.addfile(f, src), tf.addfile(long, io.BytesIO(b"hello"))
            tf.addfile(link)

    def write(out: Any) -> None:
        tar = TarStream(out)
        d, f, long, link = infos()
        tar.add(d)
        with data.open("rb", buffering=0) as src:
            tar.add_fd(f, src.fileno())
        tar.add(long, b"hello")
        tar.add(link)
        tar.close()

    into_memory = io.BytesIO()
    write(into_memory)
    assert into_memory.getvalue() == expected.getvalue()
    with (tmp_path / "out.tar").open("wb") as out:
        write(out)
    assert (tmp_path / "out.tar").read_bytes() == expected.getvalue()
    r, w = os.pipe()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(os.fdopen(r, "rb").read()))
    reader.start()
    with os.fdopen(w, "wb") as out:
        write(out)
    reader.join()
    assert got == [expected.getvalue()]

    shrunk = tarfile.TarInfo("shrunk")
    shrunk.size = 10_000
    out = io.BytesIO()
    tar = TarStream(out)
    with data.open("rb", buffering=0) as src:
        os.lseek(src.fileno(), -100, os.SEEK_END)
        tar.add_fd(shrunk, src.fileno())
    tar.close()
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        padded = tf.extractfile("shrunk").read()  # type: ignore[union-attr]
    assert padded == data.read_bytes()[-100:] + bytes(9_900)


# -- Podman interop ------------------------------------------------------------------------
@pytest.fixture(scope="session")
def podman() -> str:
    """Podman set up as the reference peer (once per session), or a skip saying why not."""
    if os.geteuid() != 0:
        pytest.skip("the Podman reference setup needs root")
    if not PODMAN_SETUP.exists():
        pytest.skip(f"no Podman setup script at {PODMAN_SETUP}")
    p = subprocess.run(["bash", str(PODMAN_SETUP)], cwd="/tmp", capture_output=True, text=True,
                       timeout=1800)
    if p.returncode != 0 or not shutil.which("podman"):
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"Podman is not usable here: {PODMAN_SETUP.name} failed: {tail[0]}")
    return shutil.which("podman") or "podman"


@pytest.fixture
def podman_store(podman: str) -> Iterator[list[str]]:
    """A throwaway Podman store, so interop tests never touch the host's images (short
    path: Podman refuses a runroot longer than 50 characters)."""
    store = Path(tempfile.mkdtemp(prefix="llpod-", dir="/tmp"))
    cmd = [podman, "--root", str(store / "root"), "--runroot", str(store / "run"),
           "--storage-driver", "vfs"]
    try:
        yield cmd
    finally:
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if str(store) in line]
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(store, ignore_errors=True)


def run_podman(cmd: list[str], *args: str) -> str:
    p = subprocess.run([*cmd, *args], cwd="/tmp", capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"podman {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}"
    return p.stdout


def test_podman_loads_and_runs_our_archive(source: Engine, podman_store: list[str],
                                           tmp_path: Path) -> None:
    source.images.tag("busybox", "localhost/layerlab-interop:busybox")
    archive = tmp_path / "ours.tar"
    with archive.open("wb") as f:
        archives.save(source, ["localhost/layerlab-interop:busybox", "demo:two"], f)
    out = run_podman(podman_store, "load", "-i", str(archive))
    assert "localhost/layerlab-interop:busybox" in out
    inspect = json.loads(run_podman(podman_store, "image", "inspect",
                                    "localhost/layerlab-interop:busybox", "demo:two"))
    assert [i["Id"] for i in inspect] == [source.images.get("busybox").id[7:],
                                          source.images.get("demo:two").id[7:]]
    assert inspect[1]["RootFS"]["Layers"] == source.images.get("demo:two").diff_ids
    hi = run_podman(podman_store, "run", "--rm", "--network", "none",
                    "localhost/layerlab-interop:busybox", "echo", "hi")
    assert hi == "hi\n"
    layered = run_podman(podman_store, "run", "--rm", "--network", "none", "demo:two",
                         "cat", "/etc/greeting", "/etc/second")
    assert layered == "hello\n2\n"


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_we_load_podman_save(podman: str, target: Engine, tmp_path: Path, fmt: str) -> None:
    archive = tmp_path / f"podman-{fmt}.tar"
    run_podman([podman], "save", "--format", fmt, "-o", str(archive), "localhost/busybox:latest")
    with archive.open("rb") as f:
        assert archives.load(target, f) == ["Loaded image: localhost/busybox:latest"]
    theirs: dict[str, Any] = json.loads(run_podman([podman], "image", "inspect",
                                                   "localhost/busybox:latest"))[0]
    img = target.images.get("localhost/busybox:latest")
    assert img.id == "sha256:" + theirs["Id"]
    assert img.diff_ids == theirs["RootFS"]["Layers"]
    assert len(img.history) == len(theirs["History"])
