"""The server side of the warm CLI: preload the engine, then fork a child per command.

One process per identity (``client.identity``), started detached by the first command
that found none: ``python -m layerlab.engine.cliserver.server SOCKET``. It holds
``SOCKET.lock`` (an ``flock``) for its lifetime, so only one serves a socket and a dead
one's socket can be taken over; it leaves when it has had no command for
``IDLE_SECONDS``, when its socket is no longer its own, or on SIGTERM.

The server is single-threaded and never runs a command itself: a child forked per
connection does, so a command cannot leave state behind in the server, and a fork of a
single-threaded process is safe. The server reaps each child and sends its wait status to
the client; a client that goes away (EOF on its connection) has its child killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import io
import marshal
import os
import pkgutil
import select
import signal
import socket
import sys
import time

from . import client

# Not preloaded: front-ends of their own (the API, this server), and the builder, whose
# Dockerfile parser (a Go library) starts threads as it loads: a fork of a process with
# threads is not safe (a build loads it in its command's child).
_NOT_PRELOADED = ("dockerapi", "cliserver", "builder")
IDLE_SECONDS = 600


def preload(package: str = "layerlab.engine") -> None:
    """Import the engine (and the network wiring a start loads), and build the command
    grammar's parsers (argparse's translations come from the locale, which is part of
    the identity), so that every command's child finds them made."""
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module.name not in _NOT_PRELOADED:
            importlib.import_module(f"{package}.{module.name}")
            if module.ispkg:
                preload(f"{package}.{module.name}")
    if package == "layerlab.engine":
        from ..commands.grammar import parsers
        from ..network import session

        session.preload_wiring()
        parsers()


def _single_threaded() -> bool:
    return len(os.listdir("/proc/self/task")) == 1


def serve(path: str) -> None:
    """Be the server of the socket PATH, unless another is: lock, preload, serve."""
    lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another server has this socket
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())  # for whoever must stop us (``stop``)
    os.chdir("/")
    me = client.identity()
    with contextlib.suppress(ImportError):
        import setproctitle

        setproctitle.setproctitle("layerlab-cli-server")
    preload()
    if not _single_threaded():
        return  # something loaded started a thread: forking here would not be safe
    server = _Server(path, me, lock)
    try:
        server.run()
    finally:
        server.close()


class _Server:
    """The listening socket, and the children running commands with their clients'
    connections (the server sends each child's wait status on its connection)."""

    def __init__(self, path: str, identity: str, lock: int) -> None:
        self.path, self.identity = path, identity
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a dead server's: the lock says none is alive
        self.listener = socket.socket(socket.AF_UNIX,
                                      socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        self.listener.bind(path)
        self.listener.listen(128)
        self.inode = os.stat(path).st_ino
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.own_fds = [self.listener.fileno(), self.wake_r, wake_w, lock]  # not a child's
        self.children: dict[int, socket.socket] = {}  # pid -> its client's connection
        self.watched: dict[int, int] = {}  # fd of a connection whose client is there -> pid
        self.poller = select.poll()
        self.poller.register(self.listener, select.POLLIN)
        self.poller.register(self.wake_r, select.POLLIN)

    def run(self) -> None:
        """Serve until idle for ``IDLE_SECONDS`` or the socket is no longer ours."""
        idle_since = time.monotonic()
        while True:
            events = self.poller.poll(60_000)
            for fd, _ in events:
                if fd == self.wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 512)
                elif fd == self.listener.fileno():
                    self.accept()
                elif fd in self.watched:  # the client went away: so does its command
                    self.client_gone(fd)
            self.reap()
            if self.children or events:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_SECONDS or not self.ours():
                return

    def ours(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def close(self) -> None:
        if self.ours():
            os.unlink(self.path)

    def accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        request, fds = _request(conn, self.identity)
        pid = -1
        if request is not None:
            with contextlib.suppress(OSError):
                pid = os.fork()
        if pid == 0:  # pragma: no cover - the command's child
            servers = [*self.own_fds, *(c.fileno() for c in self.children.values())]
            os._exit(_child(conn, request or {}, fds, servers))
        for fd in fds:
            os.close(fd)
        if pid < 0:
            conn.close()  # the client runs the command itself
            return
        self.children[pid] = conn
        self.watched[conn.fileno()] = pid
        self.poller.register(conn, select.POLLIN)

    def client_gone(self, fd: int) -> None:
        pid = self.watched.pop(fd)
        self.poller.unregister(fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # not reaped yet: the pid is still our child's

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            if self.watched.pop(conn.fileno(), None) is not None:
                self.poller.unregister(conn)
                with contextlib.suppress(OSError):
                    conn.send(marshal.dumps({"status": status}))
            conn.close()


def _child(conn: socket.socket, request: dict[str, object], fds: list[int],
           servers: list[int]) -> int:
    """The command's child, which first closes the server's descriptors (SERVERS): its
    exit code, ending as a process of its own would."""
    try:
        for fd in servers:
            os.close(fd)
        return _run(conn, request, fds)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    except KeyboardInterrupt:  # ctrl-c before the command began: as the CLI's own
        return 130
    except BaseException:  # as Python ends a process on an uncaught one (-D lets a
        import traceback  # bug's traceback through)

        traceback.print_exc()
        with contextlib.suppress(OSError):
            sys.stderr.flush()
        return 1


def _request(conn: socket.socket, me: str) -> tuple[dict[str, object] | None, list[int]]:
    """The command a client sends, with its descriptors 0-2; ``None`` for one that is
    not this server's to run (another user's, another identity's, or malformed)."""
    fds: list[int] = []
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        if int.from_bytes(creds[4:8], sys.byteorder) != os.geteuid():
            return None, fds
        conn.settimeout(5)
        data, fds, _, _ = socket.recv_fds(conn, client.MAX_MESSAGE, 3)
        conn.settimeout(None)
        request = marshal.loads(data)
        if isinstance(request, dict) and request.get("identity") == me and len(fds) == 3:
            return request, fds
        conn.send(marshal.dumps({"refused": "identity"}))
    except (OSError, ValueError, EOFError, TypeError):
        pass
    return None, fds


def _run(conn: socket.socket, request: dict[str, object], fds: list[int]) -> int:
    """In the child: become the caller's process (stdio, environment, directory, umask,
    Python's default signal handling), then run the command as the CLI does."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin, sys.stdout, sys.stderr = (_stream(0, "r"), _stream(1, "w"), _stream(2, "w"))
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(str(request["cwd"]))
    os.umask(int(request["umask"]))  # type: ignore[call-overload]
    argv = request["argv"]
    assert isinstance(argv, list)
    sys.argv = ["layerlab", *argv]
    conn.send(marshal.dumps({"pid": os.getpid()}))
    conn.close()  # the server keeps its end: it sends the wait status
    from .. import cli

    return cli.finish(lambda: cli.main(argv))


def _stream(fd: int, mode: str) -> io.TextIOWrapper:
    """A standard stream as Python makes one for a process started on this descriptor:
    line-buffered on a terminal (and stderr always), in the server's encoding (the
    locale's variables are part of its identity)."""
    like = (sys.__stdin__, sys.__stdout__, sys.__stderr__)[fd]
    assert like is not None
    stream = open(fd, mode, buffering=1 if fd == 2 or os.isatty(fd) else -1,  # noqa: SIM115
                  encoding=like.encoding, errors=like.errors, closefd=False)
    assert isinstance(stream, io.TextIOWrapper)
    return stream


def stop(directory: str) -> None:
    """Stop the servers whose sockets are in DIRECTORY, and wait for each to go (the
    tests and the bench do at their end). A server holds an ``flock`` on its
    ``SOCKET.lock``, which holds its pid, while it lives: a lock that can be taken is a
    dead server's, whose pid may be anyone's by now."""
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(directory):
            if name.endswith(".lock") and (pid := _holder(os.path.join(directory, name))):
                with contextlib.suppress(OSError):
                    pidfd = os.pidfd_open(pid)
                    try:
                        if _holder(os.path.join(directory, name)) == pid:  # still it
                            signal.pidfd_send_signal(pidfd, signal.SIGTERM)
                            select.select([pidfd], [], [], 10)
                    finally:
                        os.close(pidfd)


def _holder(lock: str) -> int:
    """The pid of the live server holding LOCK, or 0."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return 0
    except BlockingIOError:
        return int(os.read(fd, 32) or b"0")
    finally:
        os.close(fd)


if __name__ == "__main__":
    with contextlib.suppress(Exception):  # a server that cannot start costs only speed
        serve(sys.argv[1])
    os._exit(0)
