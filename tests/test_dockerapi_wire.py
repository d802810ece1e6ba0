"""The Docker API service on the wire: raw HTTP/1.1 (h11) against a real server process.

The server runs with test-only endpoints (tests/dockerapi_kit.py) that exercise each kind
of response: hijacked echo sessions, streamed uploads, progress streams, endless streams
and a barrier that only 16 simultaneous requests can pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import h11
import pytest
from conftest import cleanup_root
from dockerapi_kit import Client, RawStream, Service, service


@pytest.fixture(scope="module")
def api() -> Iterator[Service]:
    # Socket paths must stay under 108 bytes: a short directory, not pytest's tmp_path.
    work = Path(tempfile.mkdtemp(prefix="llapi", dir="/tmp"))
    try:
        with service(work / "root", f"unix://{work}/api.sock") as svc:
            yield svc
    finally:
        cleanup_root(work / "root")
        shutil.rmtree(work, ignore_errors=True)


def get_json(api: Service, target: str) -> tuple[int, object]:
    with Client(api.path) as c:
        reply = c.request("GET", target)
        assert reply.headers["content-type"] == "application/json"
        return reply.status, json.loads(reply.body)


# -- routing and errors ---------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["", "/v1.24", "/v1.42", "/v1.43"])
def test_versioned_and_unprefixed_paths_reach_the_same_handler(api: Service,
                                                               prefix: str) -> None:
    status, body = get_json(api, prefix + "/test/args/localhost:5000/a/b%2Fc/json")
    assert status == 200
    assert body == {"params": {"name": "localhost:5000/a/b/c"},
                    "path": "/test/args/localhost:5000/a/b/c/json",
                    "api": prefix[2:] or "1.43", "flags": {}, "filters": {}}


def test_too_new_a_version_is_refused_as_docker_does(api: Service) -> None:
    status, body = get_json(api, "/v1.50/version")
    assert status == 400
    assert body == {"message": "client version 1.50 is too new. Maximum supported API "
                               "version is 1.43"}


def test_too_old_a_version_gets_docker_plain_text_error(api: Service) -> None:
    with Client(api.path) as c:
        reply = c.request("GET", "/v1.23/version")
    assert reply.status == 400
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.body.startswith(b"client version 1.23 is too old. Minimum supported API "
                                 b"version is 1.24")


@pytest.mark.parametrize("method,target", [("GET", "/v1.43/no/such/endpoint"),
                                           ("GET", "/nope"), ("DELETE", "/version"),
                                           ("POST", "/v1.43/_ping")])
def test_unknown_endpoints_and_methods_are_page_not_found(api: Service, method: str,
                                                          target: str) -> None:
    with Client(api.path) as c:
        reply = c.request(method, target)
    assert reply.status == 404
    assert reply.headers["content-type"] == "application/json"
    assert json.loads(reply.body) == {"message": "page not found"}


@pytest.mark.parametrize("kind,status,message", [
    ("NotFound", 404, "boom: NotFound"), ("Conflict", 409, "boom: Conflict"),
    ("InvalidArgument", 400, "boom: InvalidArgument"),
    ("RuntimeFailure", 500, "boom: RuntimeFailure"),
    ("ValueError", 500, "internal error: ValueError: boom: ValueError")])
def test_engine_errors_map_to_docker_status_codes(api: Service, kind: str, status: int,
                                                  message: str) -> None:
    code, body = get_json(api, f"/v1.43/test/raise?kind={kind}")
    assert (code, body) == (status, {"message": message})
    assert "Traceback" not in json.dumps(body)


def test_query_flags_and_filters_are_read_as_docker_reads_them(api: Service) -> None:
    names = ["one", "true", "True", "yes", "zero", "false", "empty", "no", "none"]
    values = ["1", "true", "True", "yes", "0", "false", "", "no", "None"]
    query = "&".join(f"names={n}&{n}={v}" for n, v in zip(names, values, strict=True))
    filters = quote(json.dumps({"label": {"a=b": True}, "dangling": ["true"]}))
    status, body = get_json(api, f"/test/args/x/json?{query}&filters={filters}")
    assert status == 200
    assert isinstance(body, dict)
    assert body["flags"] == {"one": True, "true": True, "True": True, "yes": True,
                             "zero": False, "false": False, "empty": False, "no": False,
                             "none": False}
    assert body["filters"] == {"label": ["a=b"], "dangling": ["true"]}


def test_malformed_filters_are_a_bad_request(api: Service) -> None:
    status, body = get_json(api, "/test/args/x/json?filters=%7Bnot%20json")
    assert status == 400
    assert body == {"message": "invalid JSON in filters: '{not json'"}


def test_keep_alive_serves_many_requests_on_one_connection(api: Service) -> None:
    with Client(api.path) as c:
        for _ in range(5):
            assert c.request("HEAD", "/_ping").status == 200
            assert json.loads(c.request("GET", "/v1.43/version").body)["ApiVersion"] == "1.43"


# -- request bodies ---------------------------------------------------------------------------
def test_chunked_request_body_is_streamed_to_the_handler(api: Service) -> None:
    pieces = [bytes([i]) * (1000 * i + 1) for i in range(1, 40)]
    with Client(api.path) as c:
        c.start("POST", "/v1.43/test/upload", [("Transfer-Encoding", "chunked")])
        for piece in pieces:
            c.send(h11.Data(data=piece))
        c.send(h11.EndOfMessage())
        reply = c.rest(*c.head())
    whole = b"".join(pieces)
    assert json.loads(reply.body) == {"size": len(whole),
                                      "sha256": hashlib.sha256(whole).hexdigest()}


def test_client_waiting_for_100_continue_is_told_to_send(api: Service) -> None:
    with Client(api.path) as c:
        c.start("POST", "/test/upload", [("Content-Length", "5"), ("Expect", "100-continue")])
        status, _ = c.head()  # the body is sent only after the server asks for it
        assert status == 100
        c.send(h11.Data(data=b"hello"))
        c.send(h11.EndOfMessage())
        reply = c.rest(*c.head())
    assert json.loads(reply.body)["size"] == 5


def test_streamed_body_has_no_size_bound(api: Service) -> None:
    block = b"layer" * 200_000  # 1 MB, sent 6 times: more than the bounded limit
    with Client(api.path) as c:
        c.start("POST", "/test/upload", [("Content-Length", str(6 * len(block)))])
        for _ in range(6):
            c.send(h11.Data(data=block))
        c.send(h11.EndOfMessage())
        reply = c.rest(*c.head())
    assert json.loads(reply.body)["size"] == 6 * len(block)


def test_bounded_body_is_read_whole_and_decoded(api: Service) -> None:
    with Client(api.path) as c:
        reply = c.request("POST", "/test/bounded", [("Content-Type", "application/json")],
                          b'{"Image": "busybox"}')
        empty = c.request("POST", "/test/bounded", body=b"")
    assert json.loads(reply.body) == {"size": 20, "json": {"Image": "busybox"}}
    assert json.loads(empty.body) == {"size": 0, "json": None}  # `commit` sends no body


def test_bounded_body_with_another_content_type_is_refused(api: Service) -> None:
    with Client(api.path) as c:
        reply = c.request("POST", "/test/bounded", [("Content-Type", "text/plain")], b"{}")
    assert reply.status == 400
    assert json.loads(reply.body) == {
        "message": "unsupported Content-Type header (text/plain): must be 'application/json'"}


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_bounded_body_is_refused_with_413(api: Service, chunked: bool) -> None:
    size = (4 << 20) + 1
    with Client(api.path) as c:
        if chunked:
            c.start("POST", "/test/bounded", [("Transfer-Encoding", "chunked")])
            with contextlib.suppress(OSError):  # the server may stop reading and close
                for _ in range(size // 65536 + 1):
                    c.send(h11.Data(data=b"x" * 65536))
        else:
            c.sock.sendall(b"POST /test/bounded HTTP/1.1\r\nHost: d\r\n"
                           b"Content-Length: %d\r\n\r\n" % size)
        status, headers = c.head()
    assert status == 413
    assert headers["content-type"] == "application/json"


# -- streamed responses -----------------------------------------------------------------------
def test_progress_messages_are_flushed_one_by_one(api: Service) -> None:
    """The second message is produced only after the client has the first one (the
    test releases it): a server that buffered the stream would never deliver it."""
    with Client(api.path) as c:
        c.start("GET", "/v1.43/test/progress")
        status, headers = c.head()
        assert (status, headers["content-type"]) == (200, "application/json")
        first = c.next_event()
        assert isinstance(first, h11.Data) and bytes(first.data) == b'{"status":"first"}\n'
        with Client(api.path) as other:
            assert other.request("POST", "/test/release").status == 204
        reply = c.rest(status, headers)
    assert reply.chunks == [b'{"status":"second"}\n']


def test_progress_error_after_output_is_in_band(api: Service) -> None:
    with Client(api.path) as c:
        c.start("GET", "/test/progress?fail=1")
        status, headers = c.head()
        assert isinstance(c.next_event(), h11.Data)
        with Client(api.path) as other:
            other.request("POST", "/test/release")
        reply = c.rest(status, headers)
        assert status == 200
        assert [json.loads(line) for line in reply.body.splitlines()] == [
            {"status": "second"},
            {"errorDetail": {"message": "went wrong after two messages"},
             "error": "went wrong after two messages"}]
        assert c.request("GET", "/_ping").body == b"OK"  # and the connection lives on


def test_progress_error_before_output_is_an_error_response(api: Service) -> None:
    status, body = get_json(api, "/test/progress?fail_first=1")
    assert (status, body) == (404, {"message": "No such image: nothing"})


def test_slow_client_blocks_nobody_and_a_vanished_one_is_noticed(api: Service) -> None:
    slow = Client(api.path)
    try:
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.start("GET", "/test/flood")
        assert slow.head()[0] == 200  # ... and it reads nothing more: the server stalls
        for _ in range(3):
            with Client(api.path) as other:
                assert other.request("GET", "/_ping").body == b"OK"
    finally:
        slow.close()  # vanish mid-stream
    status, body = get_json(api, "/test/flood-closed")
    assert (status, body) == (200, {"closed": True})


def test_eager_headers_then_a_client_that_leaves_is_seen_as_gone(api: Service) -> None:
    with Client(api.path) as c:
        c.start("GET", "/test/hold")
        status, headers = c.head()  # headers arrive before the handler has produced a byte
        assert (status, headers["transfer-encoding"]) == (200, "chunked")
    status, body = get_json(api, "/test/hold-result")
    assert (status, body) == (200, {"gone": True})


def test_sixteen_clients_are_served_at_once(api: Service) -> None:
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def client() -> None:
        try:
            with Client(api.path) as c:
                met = c.request("GET", "/v1.43/test/barrier")
                version = c.request("GET", "/v1.43/version")
                results.append((met.status, version.status))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [(200, 200)] * 16


# -- hijacked connections --------------------------------------------------------------------
@pytest.mark.parametrize("version,content_type", [
    ("1.43", "application/vnd.docker.multiplexed-stream"),
    ("1.42", "application/vnd.docker.multiplexed-stream"),
    ("1.41", "application/vnd.docker.raw-stream")])  # Docker's type before 1.42, still framed
def test_hijack_frames_output_and_keeps_writing_after_half_close(
        api: Service, version: str, content_type: str) -> None:
    with Client(api.path) as c:
        status, headers, rest = c.hijack(f"/v{version}/test/echo", early_stdin=b"early ")
        assert status == 101
        assert headers["content-type"] == content_type
        assert headers["upgrade"] == "tcp"
        raw = RawStream(c.sock, rest)
        assert raw.frame() == (1, b"early ")  # stdin sent before the 101 is not lost
        c.sock.sendall(b"hello")
        assert raw.frame() == (1, b"hello")
        c.sock.shutdown(socket.SHUT_WR)  # CloseWrite(), as `docker run -i` does at stdin EOF
        assert raw.frame() == (2, b"stdin closed\n")  # output continues after it
        assert raw.at_eof()


def test_hijack_with_tty_is_a_raw_stream(api: Service) -> None:
    with Client(api.path) as c:
        status, headers, rest = c.hijack("/v1.43/test/echo?tty=1")
        assert (status, headers["content-type"]) == (101, "application/vnd.docker.raw-stream")
        c.sock.sendall(b"typed")
        raw = RawStream(c.sock, rest)
        assert raw.read_exactly(5) == b"typed"
        c.sock.shutdown(socket.SHUT_WR)
        assert raw.read_exactly(13) == b"stdin closed\n"
        assert raw.at_eof()


def test_hijack_without_upgrade_gets_docker_200_raw_stream(api: Service) -> None:
    with Client(api.path) as c:
        status, headers, rest = c.hijack("/test/echo", upgrade=False)
        assert (status, headers["content-type"]) == (200, "application/vnd.docker.raw-stream")
        c.sock.sendall(b"x")
        raw = RawStream(c.sock, rest)
        assert raw.frame() == (1, b"x")


def test_hijacked_session_error_is_reported_in_band(api: Service) -> None:
    with Client(api.path) as c:
        status, _, rest = c.hijack("/test/echo-fail")
        assert status == 101
        raw = RawStream(c.sock, rest)
        assert raw.frame() == (3, b"the session failed")  # SYSTEMERR: the CLI fails with it
        assert raw.at_eof()


def test_many_concurrent_hijacked_sessions(api: Service) -> None:
    clients = [Client(api.path) for _ in range(16)]
    try:
        streams = []
        for c in clients:
            status, _, rest = c.hijack("/test/echo")
            assert status == 101
            streams.append(RawStream(c.sock, rest))
        for i, c in enumerate(clients):
            c.sock.sendall(b"client %d" % i)
        for i, raw in enumerate(streams):
            assert raw.frame() == (1, b"client %d" % i)
    finally:
        for c in clients:
            c.close()
