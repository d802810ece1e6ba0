"""Copy-outs a container cannot race (issue 11): commit, export and diff read the tree by
descriptor, so a file swapped for a symlink to a host file never brings host bytes into a
tar, and readers sharing a view never unmount it under each other."""

from __future__ import annotations

import io
import os
import tarfile
import threading
import uuid
from pathlib import Path

import pytest
from conftest import needs_root
from layerlab.engine.services.containers import CreateOptions
from layerlab.engine.services.engine import Engine

pytestmark = needs_root
SECRET = b"host secret, never in a tar\n"


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    d = tmp_path / "host"
    d.mkdir()
    (d / "f").write_bytes(SECRET)
    return d


def names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return sorted(tf.getnames())


def tar_bytes(write) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    write(buf)
    return buf.getvalue()


def test_commit_never_reads_through_a_directory_swapped_for_a_symlink(
        engine: Engine, host_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = engine.containers.create("busybox", CreateOptions(cmd=["true"]))
    driver = engine.driver(c.Driver)
    src = driver.source(c.ID)
    (src / "a").mkdir()
    (src / "a" / "f").write_bytes(b"container data\n")
    stale = driver.changes(c.ID, engine.containers.chain(c))
    # the container swaps a/ for a symlink to a host directory after the diff was taken
    os.rename(src / "a", src / "a.old")
    os.symlink(str(host_dir), src / "a")
    monkeypatch.setattr(type(driver), "changes", lambda self, cid, chain: stale)
    image_id = engine.containers.commit(c.ID)
    top = engine.images.get(image_id).diff_ids[-1]
    with engine.store.content.open(top) as f:
        data = f.read()
    assert SECRET not in data
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert not any(m.name == "a/f" and m.isreg() for m in tf.getmembers())


def test_export_of_a_live_container_swapping_symlinks(engine: Engine, host_dir: Path) -> None:
    """A running container swaps /x between a file and a symlink to a host file while
    ``export`` reads its tree: host bytes never reach the tar."""
    secret = Path("/tmp") / f"layerlab-secret-{uuid.uuid4().hex}"
    secret.write_bytes(SECRET)
    try:
        script = (f"while :; do echo safe > /x.t; mv -f /x.t /x; ln -sfn {secret} /x.l; "
                  "mv -f /x.l /x; done")
        c = engine.containers.create("busybox", CreateOptions(cmd=["sh", "-c", script]))
        engine.tasks.start(c.ID)
        try:
            for _ in range(30):
                data = tar_bytes(lambda out: engine.containers.export(c.ID, out))
                assert SECRET not in data
        finally:
            engine.containers.remove(c.ID, force=True)
    finally:
        secret.unlink()


def test_readers_never_unmount_a_view_under_each_other(engine: Engine) -> None:
    if engine.driver_name != "overlay":
        pytest.skip("only the overlay driver mounts views")
    c = engine.containers.create("busybox", CreateOptions(cmd=["true"]))
    driver = engine.driver(c.Driver)
    chain = engine.containers.chain(c)
    first = driver.view(c.ID, chain)
    first.__enter__()
    second = driver.view(c.ID, chain)
    path = second.__enter__()
    first.__exit__(None, None, None)  # the first reader is done while the second reads
    try:
        assert "bin" in os.listdir(path)
    finally:
        second.__exit__(None, None, None)
    assert not driver.is_mounted(c.ID)


def test_parallel_exports_of_a_stopped_container_are_complete(engine: Engine) -> None:
    c = engine.containers.create("busybox", CreateOptions(cmd=["true"]))
    expected = names(tar_bytes(lambda out: engine.containers.export(c.ID, out)))
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def export() -> None:
        try:
            for _ in range(4):
                data = tar_bytes(lambda out: Engine(engine.root, engine.driver_name)
                                 .containers.export(c.ID, out))
                results.append(names(data))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=export) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 24 and all(r == expected for r in results)
    if engine.driver_name == "overlay":
        assert not engine.driver(c.Driver).is_mounted(c.ID)
