"""docker-py against the service: containers, exec, images, build, commit, save/load, and
8 clients running containers at once through the socket (issue 14)."""

from __future__ import annotations

import io
import os
import tarfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import needs_root
from dockerapi_kit import Clients, clients

docker = pytest.importorskip("docker")
pytestmark = needs_root


@pytest.fixture(scope="module")
def pair() -> Iterator[Clients]:
    with clients() as c:
        yield c


@pytest.fixture
def client(pair: Clients) -> Iterator[Any]:
    c = docker.DockerClient(base_url=pair.svc.uri, timeout=120)
    try:
        yield c
    finally:
        c.close()


def test_run_wait_logs_remove(client: Any) -> None:
    assert client.containers.run("busybox", ["echo", "hi"], remove=True) == b"hi\n"
    with pytest.raises(docker.errors.ContainerError) as caught:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
    assert caught.value.exit_status == 3
    c = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], detach=True,
                              name="pyrun", labels={"suite": "api"})
    try:
        assert c.wait() == {"StatusCode": 0}
        assert c.logs(stdout=True, stderr=False) == b"out\n"
        assert c.logs(stdout=False, stderr=True) == b"err\n"
        c.reload()
        assert c.status == "exited" and c.labels["suite"] == "api"
        listed = client.containers.list(all=True, filters={"label": "suite=api"})
        assert [x.name for x in listed] == ["pyrun"]
        assert client.containers.list(all=True, filters={"label": "suite=other"}) == []
    finally:
        c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("pyrun")


def test_exec_run_and_top(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "300"], detach=True)
    try:
        result = c.exec_run(["sh", "-c", "echo $X; exit 4"], environment={"X": "from-env"})
        assert (result.exit_code, result.output) == (4, b"from-env\n")
        out, err = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True).output
        assert (out, err) == (b"o\n", b"e\n")
        assert [p[-1] for p in c.top()["Processes"]] == ["sleep 300"]
        c.pause()
        c.reload()
        assert c.status == "paused"
        c.unpause()
        c.kill()
        assert c.wait()["StatusCode"] == 137
    finally:
        c.remove(force=True)


def test_image_list_has_dockers_full_shape(client: Any) -> None:
    raw = client.api.images()
    assert raw, raw
    for item in raw:
        assert set(item) >= {"Id", "ParentId", "RepoTags", "RepoDigests", "Created", "Size",
                             "SharedSize", "VirtualSize", "Labels", "Containers"}
    busybox = client.images.get("busybox")
    assert "busybox:latest" in busybox.tags
    assert [h["CreatedBy"] for h in busybox.history()][-1].startswith("/bin/sh -c #(nop) ADD")


def test_build_commit_save_load(client: Any, tmp_path: Any) -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tf:
        data = b"FROM busybox\nRUN echo made > /made\nLABEL purpose=test\n"
        ti = tarfile.TarInfo("Dockerfile")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    context.seek(0)
    image, logs = client.images.build(fileobj=context, custom_context=True, tag="pybuilt:1")
    lines = [entry.get("stream", "") for entry in logs]
    assert lines[0] == "Step 1/3 : FROM busybox\n"
    assert any(line.startswith("Successfully built ") for line in lines)
    assert image.labels == {"purpose": "test"}
    assert client.containers.run(image.id, ["cat", "/made"], remove=True) == b"made\n"

    c = client.containers.run("busybox", ["sh", "-c", "echo c > /committed"], detach=True)
    try:
        c.wait()
        snap = c.commit("pysnap", "1")  # docker-py sends "{}" as the body
    finally:
        c.remove()
    assert client.containers.run("pysnap:1", ["cat", "/committed"], remove=True) == b"c\n"

    saved = tmp_path / "pysnap.tar"
    with saved.open("wb") as f:
        for chunk in snap.save(named=True):
            f.write(chunk)
    client.images.remove("pysnap:1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("pysnap:1")
    loaded = client.images.load(saved.read_bytes())
    assert [img.id for img in loaded] == [snap.id]


def test_wait_for_removal_keeps_the_exit_code(client: Any) -> None:
    """``auto_remove`` + ``wait(condition="removed")`` is what ``docker run --rm`` does."""
    c = client.containers.create("busybox", ["sh", "-c", "exit 9"], auto_remove=True)
    waited: list[Any] = []
    waiter = threading.Thread(target=lambda: waited.append(
        c.wait(condition="removed")))
    waiter.start()
    c.start()
    waiter.join(60)
    assert waited == [{"StatusCode": 9}]
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)


def test_eight_clients_run_containers_at_once(pair: Clients) -> None:
    """8 clients, each on its own connection, each running a container of its own."""
    barrier = threading.Barrier(8, timeout=60)
    results: dict[int, Any] = {}

    def one(i: int) -> None:
        c = docker.DockerClient(base_url=pair.svc.uri, timeout=120)
        try:
            barrier.wait()
            results[i] = c.containers.run("busybox", ["sh", "-c", f"echo client {i}; exit {i}"],
                                          remove=True)
        except docker.errors.ContainerError as e:
            results[i] = (e.exit_status, e.stderr)
        except Exception as e:  # reported below, with the others
            results[i] = e
        finally:
            c.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == {0: b"client 0\n", **{i: (i, b"") for i in range(1, 8)}}


def test_containers_started_through_the_socket_belong_to_no_server_process(
        client: Any, pair: Clients) -> None:
    """The spawner's worker double-forks the monitor exactly as the CLI does: the monitor
    is nobody's child in the service (it is reparented), and its init is the container."""
    c = client.containers.run("busybox", ["sleep", "300"], detach=True)
    try:
        state = (pair.root / "containers" / c.id / "state.json").read_text()
        import json

        monitor = json.loads(state)["MonitorPid"]
        with open(f"/proc/{monitor}/status") as f:
            ppid = int(next(line for line in f if line.startswith("PPid:")).split()[1])
        service_tree = {pair.svc.proc.pid, *_children(pair.svc.proc.pid)}
        assert ppid not in service_tree
        assert monitor not in service_tree
    finally:
        c.remove(force=True)


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            for child in f.read().split():
                out |= {int(child), *_children(int(child))}
    return out
