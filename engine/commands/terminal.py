"""The client's side of a container's terminal: ``run -it``, ``attach``, ``exec -it``.

The local terminal goes into raw mode while attached (the container's pty does the line
editing and echo), its size is sent at once and again on every SIGWINCH, and the detach
keys (ctrl-p ctrl-q unless ``--detach-keys``) leave the container running. The other end
is either the container's monitor (``attach.sock`` frames, runtime/attach.py) or, for
``exec -it``, the pty master itself.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import socket
import struct
import threading
from collections.abc import Iterator

from ..errors import EngineError
from ..runtime import attach, tty
from . import IO

DETACHED = "read escape sequence"


class NotATerminal(EngineError):
    """``-it`` with stdin from a pipe or a file, refused as the Docker CLI does."""

    exit_code = 1
    daemon = False


def check_tty(io: IO, interactive: bool, want_tty: bool) -> None:
    """Docker's CheckTty: a terminal is asked for (``-t``) with stdin attached, and stdin
    is not one."""
    if not (interactive and want_tty):
        return
    try:
        is_terminal = os.isatty(io.stdin.fileno())
    except (OSError, ValueError):
        is_terminal = False
    if not is_terminal:
        raise NotATerminal("the input device is not a TTY")


def detach_keys(text: str) -> bytes:
    try:
        return tty.parse_detach_keys(text or tty.DEFAULT_DETACH_KEYS)
    except ValueError as e:
        raise NotATerminal(f"Invalid detach keys ({text}) provided: {e}") from None


class MonitorEnd:
    """The monitor's end of ``attach.sock``: frames in, frames out."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.reader = attach.FrameReader()
        self.exit_code: int | None = None

    def fileno(self) -> int:
        return self.conn.fileno()

    def read(self) -> list[tuple[str, bytes]] | None:
        """Output chunks, or None once the monitor has closed the stream."""
        try:
            data = self.conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            return None
        out = []
        for kind, payload in self.reader.feed(data):
            if kind == b"x":
                self.exit_code = int(payload or b"0")
            elif kind in attach.STREAM_OF:
                out.append((attach.STREAM_OF[kind], payload))
        return out

    def send(self, data: bytes) -> None:
        self.conn.sendall(attach.frame(b"i", data))

    def resize(self, rows: int, cols: int) -> None:
        self.conn.sendall(attach.frame(b"w", struct.pack("!HH", rows, cols)))

    def end_input(self) -> None:
        """Nothing: as Docker does for ``-i`` without ``StdinOnce``, the container's stdin
        stays open for the next client when one client's input ends."""


class PtyEnd:
    """A pty master held by the client itself (``exec -t``)."""

    def __init__(self, master: int) -> None:
        self.master = master

    def fileno(self) -> int:
        return self.master

    def read(self) -> list[tuple[str, bytes]] | None:
        try:
            data = os.read(self.master, 65536)
        except OSError as e:  # EIO: the process and all it started closed the slave
            if e.errno != errno.EIO:
                raise
            data = b""
        return [("stdout", data)] if data else None

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def resize(self, rows: int, cols: int) -> None:
        tty.set_size(self.master, rows, cols)

    def end_input(self) -> None:
        os.write(self.master, b"\x04")  # what a terminal's ctrl-d sends


class _Ended(Exception):
    """SIGTERM or SIGHUP while attached: leave (restoring the terminal) with 128+N."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.code = 128 + signum


@contextlib.contextmanager
def _signals() -> Iterator[int | None]:
    """A descriptor readable after each SIGWINCH, and SIGTERM/SIGHUP turned into
    ``_Ended`` so the terminal is restored on the way out (None, and nothing changed,
    off the main thread, where no signal handler can be installed)."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    r, w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)

    def noted(_signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            os.write(w, b"w")

    def ended(signum: int, _frame: object) -> None:
        raise _Ended(signum)

    previous = {signal.SIGWINCH: signal.signal(signal.SIGWINCH, noted),
                **{sig: signal.signal(sig, ended) for sig in (signal.SIGTERM, signal.SIGHUP)}}
    try:
        yield r
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(r)
        os.close(w)


def size_of(io: IO) -> tuple[int, int] | None:
    for stream in (io.stdout, io.stdin):
        with contextlib.suppress(OSError, ValueError):
            size = tty.get_size(stream.fileno())
            if size:
                return size
    return None


def relay(end: MonitorEnd | PtyEnd, io: IO, interactive: bool, keys: bytes) -> bool:
    """Copy between the local terminal and ``end`` until the stream ends; True when the
    user typed the detach keys (the container keeps running). SIGTERM or SIGHUP ends the
    client (exit 128+N) with the terminal restored; the container runs on."""
    try:
        return _relay(end, io, interactive, keys)
    except _Ended as e:
        raise SystemExit(e.code) from None


def _relay(end: MonitorEnd | PtyEnd, io: IO, interactive: bool, keys: bytes) -> bool:
    io.flush()
    stdin = io.stdin.fileno() if interactive else None
    raw = stdin is not None and os.isatty(stdin)
    matcher = tty.DetachMatcher(keys)
    outputs = {"stdout": io.stdout.fileno(), "stderr": io.stderr.fileno()}
    detached = False
    with _signals() as winch, (tty.raw_mode(stdin) if raw and stdin is not None
                               else contextlib.nullcontext()):
        size = size_of(io)
        if size:
            end.resize(*size)
        while True:
            fds = [end.fileno(), *(fd for fd in (stdin, winch) if fd is not None)]
            readable, _, _ = select.select(fds, [], [])
            if end.fileno() in readable:
                chunks = end.read()
                if chunks is None:
                    break
                for stream, data in chunks:
                    _write_all(outputs[stream], data)
            if stdin is not None and stdin in readable:
                data = os.read(stdin, 65536)
                if not data:
                    with contextlib.suppress(OSError):
                        end.end_input()
                    stdin = None
                    continue
                data, detached = matcher.feed(data)
                with contextlib.suppress(OSError):
                    if data:
                        end.send(data)
                if detached:
                    break
            if winch is not None and winch in readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(winch, 64)
                size = size_of(io)
                if size:
                    with contextlib.suppress(OSError):
                        end.resize(*size)
    if detached:
        io.stderr.write(f"{DETACHED}\n".encode())
        io.stderr.flush()
    return detached


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def hold(master: int) -> None:
    """After detaching from ``exec -t``: a background process keeps the pty's master
    open (reading what the process writes) until the process and all it started have
    closed the slave, so the exec runs on as Docker's does, instead of being hung up on."""
    pid = os.fork()
    if pid != 0:
        os.waitpid(pid, 0)
        return
    try:  # pragma: no cover - the forked holder
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        from ..runtime.monitor import close_fds_except

        close_fds_except({master})
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        with contextlib.suppress(ImportError):
            import setproctitle

            setproctitle.setproctitle("layerlab-exec-pty")
        with contextlib.suppress(OSError):
            while os.read(master, 65536):
                pass
    finally:
        os._exit(0)
