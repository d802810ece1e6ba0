"""Real clients against the Docker API service: the Docker CLI on PATH, and docker-py.

The CLI negotiates down to our API version, prints the server's facts, and turns our
error bodies into its own "Error response from daemon: …" lines; docker-py asks for
``/version`` unprefixed, refuses servers below 1.24, and then speaks ``/v1.43/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import cleanup_root
from dockerapi_kit import PRODUCTION, Service, service
from layerlab.engine import VERSION
from layerlab.engine.oci.imageconfig import host_arch

DOCKER = shutil.which("docker")
needs_cli = pytest.mark.skipif(DOCKER is None, reason="no Docker CLI on PATH")


@pytest.fixture(scope="module")
def api() -> Iterator[Service]:
    work = Path(tempfile.mkdtemp(prefix="llapi", dir="/tmp"))
    try:
        with service(work / "root", f"unix://{work}/api.sock", command=PRODUCTION) as svc:
            yield svc
    finally:
        cleanup_root(work / "root")
        shutil.rmtree(work, ignore_errors=True)


def cli(api: Service, *args: str, host_flag: bool = False,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """The docker CLI, with a configuration of its own (no user contexts leak in)."""
    assert DOCKER is not None
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DOCKER_") and k != "BUILDKIT_PROGRESS"}
    env["DOCKER_CONFIG"] = str(api.path.parent / "docker-config")
    argv = [DOCKER, *args]
    if host_flag:
        argv = [DOCKER, "-H", api.uri, *args]
    else:
        env["DOCKER_HOST"] = api.uri
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


@needs_cli
def test_docker_version(api: Service) -> None:
    p = cli(api, "version")
    assert (p.returncode, p.stderr) == (0, "")
    server = p.stdout.split("\nServer: ", 1)[1].splitlines()
    assert server[0] == "LayerLab Engine"
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in server[2:])}
    assert fields["Version"] == VERSION
    assert fields["API version"] == "1.43 (minimum version 1.24)"
    assert fields["OS/Arch"] == f"linux/{host_arch()}"
    assert fields["Experimental"] == "false"
    assert " API version:       1.43 (downgraded from " in p.stdout  # the client negotiated


@needs_cli
def test_docker_version_format_reads_the_server_document(api: Service) -> None:
    p = cli(api, "version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} "
                                        "{{.Server.Os}} {{.Server.Version}}")
    assert (p.returncode, p.stdout, p.stderr) == (0, f"1.43 1.24 linux {VERSION}\n", "")


@needs_cli
def test_docker_info_format(api: Service) -> None:
    p = cli(api, "info", "--format", "{{.ServerVersion}}")
    assert (p.returncode, p.stdout, p.stderr) == (0, f"{VERSION}\n", "")


@needs_cli
def test_docker_system_info_with_host_flag(api: Service) -> None:
    p = cli(api, "system", "info", host_flag=True)
    assert p.returncode == 0, p.stderr
    server = p.stdout.split("\nServer:\n", 1)[1]
    for line in (" Containers: 0", "  Running: 0", " Images: 0",
                 f" Server Version: {VERSION}", " Storage Driver: vfs",
                 " Logging Driver: json-file", " Swarm: inactive", " OSType: linux",
                 f" Docker Root Dir: {api.path.parent / 'root'}"):
        assert line + "\n" in server
    assert "ERROR" not in p.stderr


@pytest.fixture(scope="module")
def kit_api() -> Iterator[Service]:
    """The service with the test-only endpoints (a stand-in container whose attach
    echoes stdin)."""
    work = Path(tempfile.mkdtemp(prefix="llapi", dir="/tmp"))
    try:
        with service(work / "root", f"unix://{work}/api.sock") as svc:
            yield svc
    finally:
        cleanup_root(work / "root")
        shutil.rmtree(work, ignore_errors=True)


@needs_cli
def test_cli_attach_keeps_reading_output_after_its_stdin_ends(kit_api: Service) -> None:
    """``docker attach`` sends its stdin, calls CloseWrite() at EOF, and must still get
    the output that follows (the session's last line comes only after the half-close)
    and the exit code from ``wait``."""
    p = cli(kit_api, "attach", "stand-in", input="hello\nworld\n")
    assert (p.returncode, p.stdout, p.stderr) == (3, "hello\nworld\n", "stdin closed\n")


@needs_cli
def test_unknown_endpoint_is_a_clean_cli_error(api: Service) -> None:
    p = cli(api, "plugin", "ls")  # no plugin endpoints: GET /v1.43/plugins is unknown
    assert (p.returncode, p.stdout, p.stderr) == (
        1, "", "Error response from daemon: page not found\n")


def test_docker_py_ping_version_info(api: Service) -> None:
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=api.uri)
    try:
        assert client.api.api_version == "1.43"  # negotiated from the unprefixed /version
        assert client.ping() is True
        version = client.version()
        assert version["ApiVersion"] == "1.43"
        assert version["MinAPIVersion"] == "1.24"
        assert version["Version"] == VERSION
        assert version["Components"][0]["Name"] == "Engine"
        info = client.info()
        assert info["ServerVersion"] == VERSION
        assert info["Driver"] == "vfs"
        assert info["OSType"] == "linux"
        assert info["DockerRootDir"] == str(api.path.parent / "root")
        assert (info["Containers"], info["Images"]) == (0, 0)
    finally:
        client.close()


def test_docker_py_reports_our_error_messages(api: Service) -> None:
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=api.uri)
    try:
        with pytest.raises(docker.errors.NotFound) as caught:
            client.plugins.list()
        assert caught.value.explanation == "page not found"
    finally:
        client.close()
