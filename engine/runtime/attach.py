"""Attaching to a running container: the monitor's side of ``docker attach``.

A monitor whose container has a terminal (``-t``) or an open stdin (``-i``) serves
``attach.sock`` in the container's state dir. Every client connected there gets the
container's output as it comes and may type into its input; the first client of
``run -it`` is a socketpair handed to the monitor at start, so it misses nothing.
Output also goes to the log (raw, as Docker logs a TTY container's stream).

Frames both ways are ``type (1 byte) + length (4 bytes, big-endian) + payload``:

    client → monitor   i: input bytes   w: window size (rows, cols)
    monitor → client   o: stdout bytes  r: stderr bytes               x: exit code (text)

The socket is bound and reached through ``/proc/self/fd/<dir fd>/attach.sock``: a state
dir's path is longer than the 108 bytes a unix socket address may hold.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import struct

from . import logs, tty
from .init import write_all

SOCKET = "attach.sock"
HEADER = struct.Struct("!cI")
STREAM_OF = {b"o": "stdout", b"r": "stderr"}
TYPE_OF = {"stdout": b"o", "stderr": b"r"}


def frame(kind: bytes, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def _at(state_dir: str) -> tuple[int, str]:
    dirfd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return dirfd, f"/proc/self/fd/{dirfd}/{SOCKET}"


def listen(state_dir: str) -> tuple[socket.socket, int]:
    """The listening socket, and the state dir's descriptor to unlink it by at the end
    (the dir may be gone by then: ``--rm``)."""
    dirfd, path = _at(state_dir)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(SOCKET, dir_fd=dirfd)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.bind(path)
        sock.listen(8)
    except BaseException:
        os.close(dirfd)
        raise
    return sock, dirfd


def resize(state_dir: str, rows: int, cols: int) -> bool:
    """Set the window size of a running ``-t`` container's pty (the API's ``resize``);
    False where its monitor serves no attach socket."""
    conn = connect(state_dir)
    if conn is None:
        return False
    with conn:
        conn.sendall(frame(b"w", struct.pack("!HH", rows, cols)))
    return True


def connect(state_dir: str) -> socket.socket | None:
    """A connection to the container's monitor, or None where it serves none."""
    try:
        dirfd, path = _at(state_dir)
    except FileNotFoundError:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    finally:
        os.close(dirfd)
    return sock


class FrameReader:
    """Splits a byte stream into frames (a frame may arrive in pieces)."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self.pending += data
        out = []
        while len(self.pending) >= HEADER.size:
            kind, size = HEADER.unpack_from(self.pending)
            end = HEADER.size + size
            if len(self.pending) < end:
                break
            out.append((kind, self.pending[HEADER.size:end]))
            self.pending = self.pending[end:]
        return out


class Relay:
    """The monitor's copy loop: container output to the log, the foreground client's fds
    (``sinks``) and every attached client; clients' input to the container's stdin (the
    pty master, or the write end of its stdin pipe), and so is ``raw_in``'s, a plain
    stdin handed over at start (the Docker API service's pipe)."""

    def __init__(self, state_dir: str, log: int, outputs: dict[int, str],
                 stdin_w: int | None, sinks: dict[str, int], first: int | None,
                 raw_in: int | None = None) -> None:
        self.log = log
        self.outputs = outputs
        self.stdin_w = stdin_w
        self.sinks = sinks
        self.master = next(iter(outputs)) if stdin_w in outputs else None
        self.listener, self.dirfd = listen(state_dir)
        self.clients: dict[int, tuple[socket.socket, FrameReader]] = {}
        self.raw_in = raw_in
        if first is not None:
            self._add(socket.socket(fileno=first))

    def _add(self, conn: socket.socket) -> None:
        conn.setblocking(True)
        self.clients[conn.fileno()] = (conn, FrameReader())

    def _drop(self, fd: int) -> None:
        conn, _ = self.clients.pop(fd)
        conn.close()

    def run(self, pidfd: int) -> None:
        """Until the container's output has ended (its pipes closed; with a terminal,
        once its init has exited and the pty is drained)."""
        watch_exit: int | None = pidfd
        while self.outputs:
            fds = [*self.outputs, self.listener.fileno(), *self.clients]
            if self.raw_in is not None:
                fds.append(self.raw_in)
            if watch_exit is not None:
                fds.append(watch_exit)
            readable, _, _ = select.select(fds, [], [])
            for fd in readable:
                if fd == watch_exit:
                    watch_exit = None
                    if self.master is not None and self.master in self.outputs:
                        self._drain(self.master)
                elif fd in self.outputs:
                    self._output(fd)
                elif fd == self.listener.fileno():
                    with contextlib.suppress(OSError):
                        self._add(self.listener.accept()[0])
                elif fd in self.clients:
                    self._input(fd)
                elif fd == self.raw_in:
                    self._raw_input()

    def _drain(self, fd: int) -> None:
        os.set_blocking(fd, False)
        while fd in self.outputs:
            try:
                self._output(fd)
            except BlockingIOError:
                self._close_output(fd)

    def _close_output(self, fd: int) -> None:
        del self.outputs[fd]
        if fd == self.stdin_w:
            self.stdin_w = None
        os.close(fd)

    def _output(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 65536)
        except OSError as e:  # EIO: the pty's last slave closed
            if e.errno != errno.EIO:
                raise
            chunk = b""
        if not chunk:
            self._close_output(fd)
            return
        stream = self.outputs[fd]
        write_all(self.log, logs.encode(stream, chunk))
        sink = self.sinks.get(stream)
        if sink is not None:
            try:
                write_all(sink, chunk)
            except OSError:  # the foreground client went away
                self.sinks.pop(stream)
        data = frame(TYPE_OF[stream], chunk)
        for cfd, (conn, _) in list(self.clients.items()):
            try:
                conn.sendall(data)
            except OSError:
                self._drop(cfd)

    def _input(self, fd: int) -> None:
        conn, reader = self.clients[fd]
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:  # detached
            self._drop(fd)
            return
        for kind, payload in reader.feed(data):
            if kind == b"w" and len(payload) == 4:
                self.resize(*struct.unpack("!HH", payload))
            elif kind == b"i" and self.stdin_w is not None:
                try:
                    write_all(self.stdin_w, payload)
                except OSError:
                    self.stdin_w = None  # the container closed its stdin

    def _raw_input(self) -> None:
        assert self.raw_in is not None
        data = os.read(self.raw_in, 65536)
        if data and self.stdin_w is not None:
            try:
                write_all(self.stdin_w, data)
                return
            except OSError:
                self.stdin_w = None
        if not data or self.stdin_w is None:
            os.close(self.raw_in)
            self.raw_in = None

    def resize(self, rows: int, cols: int) -> None:
        if self.master is not None and self.master in self.outputs:
            tty.set_size(self.master, rows, cols)

    def finish(self, code: int) -> None:
        """Tell every client the exit code, then let them go."""
        for fd, (conn, _) in list(self.clients.items()):
            with contextlib.suppress(OSError):
                conn.sendall(frame(b"x", str(code).encode()))
            self._drop(fd)
        self.listener.close()
        if self.raw_in is not None:
            os.close(self.raw_in)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(SOCKET, dir_fd=self.dirfd)
        os.close(self.dirfd)
        if self.stdin_w is not None and self.stdin_w not in self.outputs:
            with contextlib.suppress(OSError):
                os.close(self.stdin_w)
