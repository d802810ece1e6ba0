"""Where the API listens: a unix socket only its owner can use, or loopback TCP.

Whoever can connect to this socket controls the engine, and as root the engine controls
the host, so the socket never exists with wider permissions than asked for, not even for
a moment: it is bound inside a fresh private directory, given its mode there, and then
linked into place. That holds whatever the process umask is, and without changing the
umask, which is process-wide and would race with other threads (the notebook kernel runs
the service in-process).
"""

from __future__ import annotations

import contextlib
import grp
import ipaddress
import os
import socket
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import Conflict, InvalidArgument


@dataclass
class Listener:
    sock: socket.socket
    uri: str  # what clients put in DOCKER_HOST; for tcp, with the port actually bound
    path: Path | None = None  # the unix socket file, removed at shutdown if still ours
    inode: tuple[int, int] | None = None
    warning: str = ""

    def close(self) -> None:
        self.sock.close()
        if self.path is not None and self.inode is not None:
            with contextlib.suppress(OSError):
                st = self.path.lstat()
                if (st.st_dev, st.st_ino) == self.inode:  # not a successor's socket
                    self.path.unlink()


def default_uri() -> str:
    """``/run/layerlab.sock`` as root, ``$XDG_RUNTIME_DIR/layerlab.sock`` otherwise; where
    no session manager made a runtime dir (a Binder pod, a container), a private
    ``layerlab-UID`` directory in the temp dir (0700, ours, or it is not used)."""
    if os.geteuid() == 0:
        return "unix:///run/layerlab.sock"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    if not os.path.isdir(runtime_dir):
        runtime_dir = os.path.join(tempfile.gettempdir(), f"layerlab-{os.geteuid()}")
        with contextlib.suppress(FileExistsError):
            os.mkdir(runtime_dir, 0o700)
        st = os.lstat(runtime_dir)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise InvalidArgument(f"{runtime_dir} is not a private directory of this user: "
                                  "set XDG_RUNTIME_DIR or give the service a unix:///path")
    return f"unix://{runtime_dir}/layerlab.sock"


def listen(uri: str, *, allow_remote: bool = False, group: str | None = None) -> Listener:
    """Bind ``unix:///path`` or ``tcp://host:port`` and start listening."""
    if uri.startswith("unix://"):
        if not uri[len("unix://"):]:
            raise InvalidArgument(f"{uri}: no socket path (use unix:///path/to/socket)")
        return listen_unix(Path(uri[len("unix://"):]).absolute(), group)
    if uri.startswith("tcp://"):
        if group is not None:
            raise InvalidArgument("a socket group applies to unix sockets, not to tcp://")
        return listen_tcp(uri, allow_remote)
    raise InvalidArgument(f"unsupported address {uri!r}: use unix:///path/to/socket or "
                          "tcp://127.0.0.1:PORT")


def listen_unix(path: Path, group: str | None = None) -> Listener:
    """Mode 0600 (0660 and the group's ownership if ``group`` is given)."""
    if not path.parent.is_dir():
        raise InvalidArgument(f"cannot create {path}: directory {path.parent} does not exist")
    gid = _group_id(group) if group is not None else None
    _clear_stale(path)
    try:
        private = Path(tempfile.mkdtemp(prefix=".ll", dir=path.parent))  # mode 0700
    except OSError as e:
        raise InvalidArgument(f"cannot create {path}: {e.strerror}") from None
    temp = private / "s"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(temp))
        if gid is not None:
            os.chown(temp, -1, gid)
        os.chmod(temp, 0o660 if gid is not None else 0o600)
        sock.listen(128)
        os.link(temp, path)  # unlike rename, never replaces a socket that appeared since
        st = path.lstat()
    except BaseException as e:
        sock.close()
        if isinstance(e, FileExistsError):
            raise Conflict(f"{path} appeared while the server started: is another one "
                           "starting?") from None
        if isinstance(e, OSError):
            raise InvalidArgument(f"cannot create {path}: {e.strerror}") from None
        raise
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
        with contextlib.suppress(OSError):
            private.rmdir()
    return Listener(sock, f"unix://{path}", path, (st.st_dev, st.st_ino))


def _clear_stale(path: Path) -> None:
    """Remove a socket nobody listens on (a crashed server's); refuse a live one."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise Conflict(f"{path} exists and is not a socket: remove it or choose another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    except FileNotFoundError:
        return
    except OSError as e:
        raise Conflict(f"cannot check whether {path} is in use: {e.strerror}") from None
    finally:
        probe.close()
    raise Conflict(f"another server is listening on unix://{path}: stop it, or serve on "
                   "another socket")


def _group_id(group: str) -> int:
    try:
        return int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        raise InvalidArgument(f"no such group: {group}") from None


def listen_tcp(uri: str, allow_remote: bool) -> Listener:
    parts = urlsplit(uri)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None or parts.path not in ("", "/"):
        raise InvalidArgument(f"{uri}: expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:2375")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise InvalidArgument(f"{uri}: cannot resolve {host}: {e.strerror}") from None
    family, _, _, _, address = infos[0]
    warning = remote_warning(uri, [str(info[4][0]) for info in infos], allow_remote)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise InvalidArgument(f"cannot listen on {uri}: {e.strerror}") from None
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if family == socket.AF_INET6 else bound_host
    return Listener(sock, f"tcp://{shown}:{bound_port}", warning=warning)


def remote_warning(uri: str, addresses: list[str], allow_remote: bool) -> str:
    """``""`` for loopback; for anything else a refusal, or the warning to print loudly."""
    if all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses):
        return ""
    if not allow_remote:
        raise InvalidArgument(
            f"refusing to serve the Docker API on {uri}: it is not a loopback address, and "
            "anyone who can reach it controls the engine; serve on tcp://127.0.0.1:PORT, or "
            "allow remote clients explicitly if you really mean it")
    return (f"WARNING: the Docker API is served on {uri}, beyond this machine, without TLS "
            "or authentication: anyone who can reach that address controls the engine and, "
            "when it runs as root, this host.")
