"""The Docker API service's pure parts, in-process: versions, routes, query arguments,
frames, error mapping and the system documents."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from layerlab.engine.dockerapi import routing, system
from layerlab.engine.dockerapi.hijack import frame, media_type
from layerlab.engine.dockerapi.responses import (
    JSON,
    HTTPError,
    encode_json,
    error_response,
    progress_error,
)
from layerlab.engine.dockerapi.routing import Query, Route, Router, RouteTable
from layerlab.engine.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    RuntimeFailure,
    Unsupported,
)


def test_versions_compare_numerically() -> None:
    assert routing.parse_version("1.9") < routing.parse_version("1.24") \
        < routing.parse_version("1.43")
    assert routing.split_version("/v1.43/images/json") == ("1.43", "/images/json")
    assert routing.split_version("/images/json") == (None, "/images/json")
    assert routing.split_version("/v1.43") == (None, "/v1.43")  # Docker: page not found
    assert routing.split_version("/version") == (None, "/version")


def _handler(name: str) -> Any:
    def handler(req: Any) -> JSON:
        return JSON(name)
    handler.__name__ = name
    return handler


def test_routes_match_in_the_order_they_were_added() -> None:
    table = RouteTable()
    table.route("GET", "/images/json")(_handler("list"))
    table.route("GET", "/images/{name:path}/json")(_handler("inspect"))
    table.route("DELETE", "/images/{name:path}")(_handler("remove"))
    table.route("POST", "/containers/{id}/start")(_handler("start"))
    router = Router([table])

    def which(method: str, path: str) -> tuple[str, dict[str, str]] | None:
        m = router.match(method, path)
        return (m[0].handler.__name__, m[1]) if m else None

    assert which("GET", "/images/json") == ("list", {})
    assert which("GET", "/images/localhost:5000/a/b:1/json") == (
        "inspect", {"name": "localhost:5000/a/b:1"})
    assert which("DELETE", "/images/busybox%3Alatest") == ("remove", {"name": "busybox:latest"})
    assert which("POST", "/containers/abc/start") == ("start", {"id": "abc"})
    assert which("POST", "/containers/a/b/start") is None  # {id} is one path segment
    assert which("GET", "/containers/abc/start") is None
    router.add(Route("GET", "/containers/{id}/start", _handler("late")))
    assert which("GET", "/containers/abc/start") == ("late", {"id": "abc"})


def test_query_numbers_json_and_repeated_keys() -> None:
    q = Query("t=10&signal=KILL&tag=a&tag=b&buildargs=%7B%22X%22%3A%221%22%7D&bad=1x")
    assert (q.number("t"), q.number("missing", 7)) == (10, 7)
    assert q.get("signal") == "KILL" and q.get("missing", "d") == "d"
    assert q.all("tag") == ["a", "b"] and q.has("tag") and not q.has("nope")
    assert q.json("buildargs") == {"X": "1"} and q.json("missing") is None
    with pytest.raises(InvalidArgument, match="invalid value for bad"):
        q.number("bad")


def test_flags_default_only_when_absent() -> None:
    q = Query("stream=&stdout=1")
    assert q.flag("stream", default=True) is False  # present but empty is false
    assert q.flag("stdin", default=True) is True
    assert q.flag("stdout") is True


@pytest.mark.parametrize("raw", ['["a"]', '{"label": "a=b"}', '{"label": {"a": "yes"}}',
                                 '{"label": [1]}'])
def test_filters_of_the_wrong_shape_are_invalid(raw: str) -> None:
    from urllib.parse import quote

    with pytest.raises(InvalidArgument, match=r"^invalid filter$"):
        Query("filters=" + quote(raw)).filters()


def test_frames_have_docker_header() -> None:
    assert frame(1, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert frame(2, b"x" * 70000)[:8] == b"\x02\x00\x00\x00" + (70000).to_bytes(4, "big")
    assert media_type((1, 43), True) == "application/vnd.docker.multiplexed-stream"
    assert media_type((1, 41), True) == "application/vnd.docker.raw-stream"
    assert media_type((1, 43), False) == "application/vnd.docker.raw-stream"


@pytest.mark.parametrize("error,status", [
    (NotFound("No such container: x"), 404), (Conflict("in use"), 409),
    (InvalidArgument("bad"), 400), (RuntimeFailure("exec failed", 126), 500),
    (Unsupported("no namespaces"), 500), (HTTPError(304, "already started"), 304),
    (KeyError("k"), 500)])
def test_errors_map_to_status_codes(error: Exception, status: int) -> None:
    response = error_response(error)
    assert response.status == status
    assert set(response.body) == {"message"}


def test_json_is_encoded_as_go_does() -> None:
    assert encode_json({"a": "<é>", "b": [1]}) == '{"a":"<é>","b":[1]}\n'.encode()
    assert progress_error(NotFound("gone")) == {"errorDetail": {"message": "gone"},
                                               "error": "gone"}


def test_info_takes_engine_facts_and_warns_when_containers_cannot_run() -> None:
    facts = {"Containers": 3, "ContainersRunning": 1, "ContainersPaused": 1,
             "ContainersStopped": 1, "Images": 4, "Driver": "overlay", "Isolation": "none",
             "IsolationReason": "not running as root", "DockerRootDir": "/r",
             "ServerVersion": "9.9", "NCPU": 2, "MemoryLimit": True}
    info = system.docker_info(facts)
    assert {k: info[k] for k in ("Containers", "ContainersRunning", "Images", "Driver",
                                 "DockerRootDir", "ServerVersion")} == {
        "Containers": 3, "ContainersRunning": 1, "Images": 4, "Driver": "overlay",
        "DockerRootDir": "/r", "ServerVersion": "9.9"}
    assert info["Isolation"] == ""  # Docker's field is Windows isolation, not our mode
    assert info["Warnings"] == ["WARNING: containers cannot run on this host: "
                                "not running as root"]
    assert info["MemoryLimit"] is True and info["SwapLimit"] is False
    assert info["MemTotal"] > 0 and info["OSType"] == "linux"
    assert system.docker_info({**facts, "Isolation": "root"})["Warnings"] == []


def test_proxy_passwords_are_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.example:3128")
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.setenv("http_proxy", "http://proxy.example:80")
    info = system.docker_info({})
    assert info["HttpsProxy"] == "http://xxxxx:xxxxx@proxy.example:3128"
    assert info["HttpProxy"] == "http://proxy.example:80"


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_git_commit_is_the_checkout_head() -> None:
    top = Path(system.__file__).resolve().parents[2]
    p = subprocess.run(["git", "-C", str(top), "rev-parse", "--short=7", "HEAD"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("not running from a git checkout")
    assert system.git_commit() == p.stdout.strip()


def test_version_document_omits_an_unknown_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "git_commit", lambda: "")
    doc = system.version_document()
    assert "GitCommit" not in doc and "GitCommit" not in doc["Components"][0]["Details"]
    monkeypatch.setattr(system, "git_commit", lambda: "abc1234")
    doc = system.version_document()
    assert doc["GitCommit"] == doc["Components"][0]["Details"]["GitCommit"] == "abc1234"
    assert (doc["ApiVersion"], doc["MinAPIVersion"], doc["Os"]) == ("1.43", "1.24", "linux")


# -- create options, progress lines, produced streams -----------------------------------------
def _cli_body(**extra: Any) -> dict[str, Any]:
    """What the Docker CLI 28 sends for ``docker run busybox true``: most fields zero."""
    host = {"Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
            "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {
                "Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False, "ConsoleSize": [
                    24, 80], "CapAdd": None, "Dns": [], "Memory": 0, "PidsLimit": None,
            "MaskedPaths": None, "CgroupnsMode": "", "Privileged": False, "Links": None,
            "PidMode": "", "ShmSize": 0}
    body = {"Hostname": "", "User": "", "AttachStdin": False, "AttachStdout": True,
            "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": [], "Cmd": ["true"],
            "Image": "busybox", "Volumes": {}, "WorkingDir": "", "Entrypoint": None,
            "Labels": {}, "HostConfig": host, "NetworkingConfig": {"EndpointsConfig": {}}}
    for key, value in extra.items():
        (host if key in host or key in ("Tmpfs",) else body)[key] = value
    return body


def test_create_options_take_what_the_engine_does() -> None:
    from layerlab.engine.dockerapi.createopts import create_options

    image, opts = create_options(_cli_body(Entrypoint=["sh", "-c"], Cmd=["echo hi"],
                                           AutoRemove=True, OpenStdin=True), "named")
    assert image == "busybox"
    assert (opts.entrypoint, opts.cmd, opts.name) == (["sh", "-c"], ["echo hi"], "named")
    assert (opts.auto_remove, opts.interactive, opts.user) == (True, True, None)
    assert create_options(_cli_body(Entrypoint=[]), "")[1].entrypoint == []  # clears
    policy = _cli_body(RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 2})
    policy["HostConfig"]["Init"] = True
    restarting = create_options(policy, "")[1]
    assert (restarting.restart, restarting.init) == ("on-failure:2", True)
    body = _cli_body(Volumes={"/anon": {}}, Binds=["v1:/data:ro"], Tmpfs={"/t": "size=1m"})
    body["HostConfig"]["ReadonlyRootfs"] = True
    _, opts = create_options(body, "")
    assert [(p.Type, p.Name, p.Destination, p.RW) for p in opts.mounts] == [
        ("volume", "v1", "/data", False), ("volume", "", "/anon", True)]
    assert (opts.tmpfs, opts.read_only) == ({"/t": "size=1m"}, True)
    body = _cli_body()
    body["HostConfig"].update(Memory=32 << 20, PidsLimit=20,
                              Ulimits=[{"Name": "nofile", "Soft": 100, "Hard": 200}])
    limited = create_options(body, "")[1]
    assert (limited.resources.memory, limited.resources.pids_limit) == (32 << 20, 20)
    assert [u.record() for u in limited.ulimits] == [{"Name": "nofile", "Hard": 200,
                                                       "Soft": 100}]


@pytest.mark.parametrize(("field", "value", "named"), [
    ("Links", ["db:database"], "HostConfig.Links (--link)"),
    ("PidMode", "host", "HostConfig.PidMode (--pid)"),
    ("ShmSize", 1 << 20, "HostConfig.ShmSize (--shm-size)"),
])
def test_create_options_refuse_what_is_not_built(field: str, value: Any, named: str) -> None:
    from layerlab.engine.dockerapi.createopts import create_options

    with pytest.raises(InvalidArgument, match=rf"^LayerLab does not support {re.escape(named)}"):
        create_options(_cli_body(**{field: value}), "")


def test_create_options_take_the_network_flags_back() -> None:
    """What ``docker run --network n --ip … --network-alias a -p … -P --dns … --add-host``
    sends becomes the same NetworkRequest the flags make."""
    from layerlab.engine.dockerapi.createopts import create_options

    body = _cli_body(ExposedPorts={"80/tcp": {}, "53/udp": {}})
    body["HostConfig"].update(
        NetworkMode="mynet", PublishAllPorts=True, Dns=["192.0.2.53"], DnsSearch=["lab"],
        DnsOptions=["ndots:2"], ExtraHosts=["db:192.0.2.7"],
        PortBindings={"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                      "53/udp": [{"HostIp": "", "HostPort": ""}]})
    body["NetworkingConfig"] = {"EndpointsConfig": {"mynet": {
        "Aliases": ["www"], "IPAMConfig": {"IPv4Address": "10.213.9.5"}}}}
    net = create_options(body, "")[1].network
    assert (net.networks, net.ip, net.aliases) == (["mynet"], "10.213.9.5", ["www"])
    plain = _cli_body()  # docker run busybox: "default" in both places, the engine's default
    plain["NetworkingConfig"] = {"EndpointsConfig": {"default": {}}}
    assert create_options(plain, "")[1].network.networks == []
    assert net.publish == ["127.0.0.1:8080:80/tcp", "53/udp"] and net.publish_all
    assert net.expose == ["80/tcp", "53/udp"]
    assert (net.dns, net.dns_search, net.dns_option, net.add_host) == (
        ["192.0.2.53"], ["lab"], ["ndots:2"], ["db:192.0.2.7"])


def test_progress_lines_become_dockers_messages() -> None:
    from layerlab.engine.dockerapi.transfer import message

    assert message("0123456789ab: Pull complete") == {
        "status": "Pull complete", "progressDetail": {}, "id": "0123456789ab"}
    assert message("latest: Pulling from library/busybox")["id"] == "latest"
    assert message("Digest: sha256:00") == {"status": "Digest: sha256:00"}


def test_produced_hands_over_items_result_and_errors() -> None:
    from layerlab.engine.dockerapi.streams import Produced, written

    def work(emit: Any) -> int:
        for i in range(3):
            emit(i)
        return 42

    produced: Any = Produced(work)
    assert list(produced) == [0, 1, 2] and produced.result == 42

    def fail(emit: Any) -> None:
        emit("first")
        raise Conflict("broke")

    it = iter(Produced(fail))
    assert next(it) == "first"
    with pytest.raises(Conflict, match="broke"):
        next(it)
    assert b"".join(written(lambda out: out.write(b"x" * 1000000))) == b"x" * 1000000


def test_a_closed_stream_stops_its_producer() -> None:
    from layerlab.engine.dockerapi.streams import Produced

    stopped: list[BaseException] = []

    def endless(emit: Any) -> None:
        try:
            while True:
                emit(b"x")
        except BrokenPipeError as e:
            stopped.append(e)
            raise

    produced: Any = Produced(endless, bound=4)
    it = iter(produced)
    next(it)
    it.close()
    assert produced._thread is not None
    produced._thread.join(30)
    assert len(stopped) == 1
