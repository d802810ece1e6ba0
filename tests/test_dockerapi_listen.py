"""Where and how the Docker API service listens, and how it stops.

Each test runs the real entry point (``python -m layerlab.engine.dockerapi``) in its own
process: socket permissions whatever the umask, stale and live sockets, loopback TCP,
refusing other addresses, the idle timeout and SIGTERM.
"""

from __future__ import annotations

import grp
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import cleanup_root
from dockerapi_kit import PRODUCTION, Client, service, start_service, stop_service
from layerlab.engine.dockerapi.listen import remote_warning
from layerlab.engine.errors import InvalidArgument


@pytest.fixture
def work() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="llapi", dir="/tmp"))  # short: sun_path has 108 bytes
    try:
        yield d
    finally:
        cleanup_root(d / "root")
        shutil.rmtree(d, ignore_errors=True)


def run_entry(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The entry point, for runs expected to fail before serving."""
    return subprocess.run([*PRODUCTION, "--root", str(work / "root"), *args],
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def ping(path: Path) -> bytes:
    with Client(path) as c:
        return c.request("GET", "/_ping").body


def test_socket_is_0600_even_with_umask_0(work: Path) -> None:
    with service(work / "root", f"unix://{work}/api.sock", umask=0, command=PRODUCTION) as svc:
        st = svc.path.lstat()
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_uid == os.geteuid()
        assert ping(svc.path) == b"OK"
        assert sorted(p.name for p in work.iterdir()) == ["api.sock", "root"]  # no temp dir


def test_socket_group_makes_it_0660(work: Path) -> None:
    group = grp.getgrgid(os.getegid()).gr_name
    with service(work / "root", f"unix://{work}/api.sock", "--group", group,
                 command=PRODUCTION) as svc:
        st = svc.path.lstat()
        assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o660, os.getegid())


def test_stale_socket_is_replaced(work: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(work / "api.sock"))
    stale.close()  # the file stays, nobody listens: a crashed server's leftover
    with service(work / "root", f"unix://{work}/api.sock", command=PRODUCTION) as svc:
        assert ping(svc.path) == b"OK"


def test_live_socket_of_another_server_is_refused(work: Path) -> None:
    with service(work / "root", f"unix://{work}/api.sock", command=PRODUCTION) as first:
        second = run_entry(work, f"unix://{work}/api.sock")
        assert second.returncode == 1
        assert second.stderr == (f"layerlab: another server is listening on "
                                 f"unix://{work}/api.sock: stop it, or serve on another "
                                 "socket\n")
        assert ping(first.path) == b"OK"  # the running server was not disturbed


def test_a_file_that_is_not_a_socket_is_left_alone(work: Path) -> None:
    (work / "api.sock").write_text("precious")
    p = run_entry(work, f"unix://{work}/api.sock")
    assert p.returncode == 1
    assert "exists and is not a socket" in p.stderr
    assert (work / "api.sock").read_text() == "precious"


def test_missing_directory_and_bad_addresses_are_clear_errors(work: Path) -> None:
    p = run_entry(work, f"unix://{work}/no/such/dir/api.sock")
    assert (p.returncode, p.stderr) == (
        1, f"layerlab: cannot create {work}/no/such/dir/api.sock: directory "
           f"{work}/no/such/dir does not exist\n")
    p = run_entry(work, "http://127.0.0.1:2375")
    assert p.returncode == 1
    assert "use unix:///path/to/socket or tcp://127.0.0.1:PORT" in p.stderr


def test_loopback_tcp_is_served(work: Path) -> None:
    with service(work / "root", "tcp://127.0.0.1:0", command=PRODUCTION) as svc:
        host, _, port = svc.uri[len("tcp://"):].rpartition(":")
        assert host == "127.0.0.1" and int(port) > 0
        assert "WARNING" not in svc.log()
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            reply = b""
            while data := s.recv(65536):
                reply += data
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
        assert reply.endswith(b"\r\n\r\nOK")


def test_non_loopback_tcp_is_refused_without_the_flag(work: Path) -> None:
    p = run_entry(work, "tcp://0.0.0.0:0")
    assert p.returncode == 1
    assert p.stderr.startswith("layerlab: refusing to serve the Docker API on "
                               "tcp://0.0.0.0:0: it is not a loopback address")


def test_non_loopback_policy_warns_when_allowed() -> None:
    # Judged without binding: these tests never open the API beyond the loopback.
    assert remote_warning("tcp://localhost:1", ["127.0.0.1", "::1"], False) == ""
    with pytest.raises(InvalidArgument):
        remote_warning("tcp://10.1.2.3:1", ["10.1.2.3"], False)
    with pytest.raises(InvalidArgument):  # one non-loopback address is enough to refuse
        remote_warning("tcp://both:1", ["127.0.0.1", "192.0.2.1"], False)
    warning = remote_warning("tcp://0.0.0.0:2375", ["0.0.0.0"], True)
    assert warning.startswith("WARNING: the Docker API is served on tcp://0.0.0.0:2375")
    assert "without TLS or authentication" in warning


def test_idle_timeout_stops_the_service_and_removes_the_socket(work: Path) -> None:
    svc = start_service(work / "root", f"unix://{work}/api.sock", "--time", "0.5",
                        command=PRODUCTION)
    try:
        assert ping(svc.path) == b"OK"
        assert svc.proc.wait(timeout=60) == 0  # exits by itself once nothing is in progress
        assert not svc.path.exists()
    finally:
        stop_service(svc.proc)


def test_sigterm_stops_the_service_and_removes_the_socket(work: Path) -> None:
    svc = start_service(work / "root", f"unix://{work}/api.sock", command=PRODUCTION)
    try:
        idle = Client(svc.path)  # an idle keep-alive connection must not hold it up
        assert idle.request("GET", "/_ping").body == b"OK"
        svc.proc.send_signal(signal.SIGTERM)
        assert svc.proc.wait(timeout=60) == 0
        assert not svc.path.exists()
        idle.close()
    finally:
        stop_service(svc.proc)


def test_a_successor_socket_is_not_removed_at_shutdown(work: Path) -> None:
    svc = start_service(work / "root", f"unix://{work}/api.sock", command=PRODUCTION)
    try:
        svc.path.unlink()  # someone replaced our socket with theirs
        theirs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs.bind(str(svc.path))
        theirs.close()
        assert stop_service(svc.proc) == 0
        assert svc.path.exists()
    finally:
        stop_service(svc.proc)


def test_without_a_runtime_dir_the_default_socket_is_in_a_private_temp_dir(
        nobody_python: Path, work: Path) -> None:
    """A Binder pod has no /run/user/UID: the default socket goes in ``$TMPDIR/layerlab-UID``
    (made 0700); one that is not private to the user is refused, never used."""
    os.chmod(work, 0o755)  # nobody walks into it (or tempfile falls back to /tmp)
    tmp = work / "tmp"
    tmp.mkdir()
    os.chmod(tmp, 0o1777)
    show = "from layerlab.engine.dockerapi.listen import default_uri; print(default_uri())"

    def as_nobody() -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp), "HOME": str(tmp)}
        return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "--no-new-privs", str(nobody_python), "-c", show], env=env,
                              capture_output=True, text=True, timeout=60)

    p = as_nobody()
    assert p.stdout == f"unix://{tmp}/layerlab-65534/layerlab.sock\n", p.stderr
    st = os.lstat(tmp / "layerlab-65534")
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (65534, 0o700)
    os.chmod(tmp / "layerlab-65534", 0o777)
    p = as_nobody()
    assert p.returncode != 0 and "is not a private directory" in p.stderr
