"""Pseudo-terminals for ``-t``: allocated inside the container, held outside it.

The pty comes from the container's own devpts instance (``rootfs`` mounts ``/dev/pts``
with ``newinstance,ptmxmode=0666`` and links ``/dev/ptmx`` to its ``ptmx``), so the
process sees ``/dev/pts/0`` and nothing of the host's terminals. The side that opens it
(the init for ``run -t``, the exec'd process for ``exec -t``) keeps the slave as its
stdin/stdout/stderr and controlling terminal (``setsid`` + ``TIOCSCTTY``) and hands the
master over a unix socket (``SCM_RIGHTS``) to whoever relays it: the monitor, or the
``exec`` client.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import socket
import struct
import termios
from collections.abc import Iterator

TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431


def open_console(handover: int, size: tuple[int, int] | None = None) -> int:
    """In the container (after ``pivot_root``): allocate a pty from its devpts, send the
    master over the ``handover`` socket, make the slave our controlling terminal and
    return it (to become fds 0, 1 and 2). ``size`` (the client's window) is set before
    the command runs, as Docker's ConsoleSize is: a resize after it has started would
    reach it as a SIGWINCH while it sets up its line editor."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))  # unlockpt
    number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))[0]
    slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY)
    if size:
        set_size(slave, *size)
    sock = socket.socket(fileno=os.dup(handover))
    try:
        # sendmsg by hand: socket.send_fds imports ``array`` lazily, after pivot_root
        sock.sendmsg([b"m"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])
    finally:
        sock.close()
        os.close(master)
        os.close(handover)
    if os.getsid(0) != os.getpid():
        os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    return slave


def receive_master(handover: int) -> int | None:
    """The master sent by ``open_console``, or None when the sender died first."""
    sock = socket.socket(fileno=os.dup(handover))
    try:
        _, fds, _, _ = socket.recv_fds(sock, 1, 1)
    except OSError:
        return None
    finally:
        sock.close()
    if not fds:
        return None
    os.set_inheritable(fds[0], False)
    return fds[0]


def set_size(fd: int, rows: int, cols: int) -> None:
    """TIOCSWINSZ: the kernel sends SIGWINCH to the terminal's foreground process group."""
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_size(fd: int) -> tuple[int, int] | None:
    """(rows, cols) of a terminal, or None for anything else."""
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8)))
    except OSError:
        return None
    return rows, cols


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """The client's terminal in raw mode (keys go to the container's pty, which does the
    line editing and echo), restored however the block ends."""
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


# -- detach keys --------------------------------------------------------------------------
DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL_NAMES = {**{chr(c): c - ord("a") + 1 for c in range(ord("a"), ord("z") + 1)},
               "@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(text: str) -> bytes:
    """Docker's ``--detach-keys`` (``ctrl-p,ctrl-q``, ``a``, ``ctrl-\\\\``) as the bytes the
    terminal sends; ValueError for an unknown key."""
    out = bytearray()
    for key in text.split(","):
        if len(key) == 1:
            out.append(ord(key))
            continue
        name = key.lower().removeprefix("ctrl-")
        if not key.lower().startswith("ctrl-") or name not in _CTRL_NAMES:
            raise ValueError(f"Unknown character: '{key}'")
        out.append(_CTRL_NAMES[name])
    return bytes(out)


class DetachMatcher:
    """Watches typed input for the detach sequence: bytes that may start it are held back
    until the sequence completes (detach) or breaks (they are passed on after all)."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """What to send on, and whether the sequence was typed."""
        out = bytearray()
        for byte in data:
            candidate = self.held + bytes([byte])
            if self.keys.startswith(candidate):
                self.held = candidate
                if candidate == self.keys:
                    self.held = b""
                    return bytes(out), True
                continue
            out += candidate
            self.held = b""
        return bytes(out), False


def copy_pty(stdin: int, stdout: int, master: int) -> bool:
    """Relay a pty master between plain descriptors (the Docker API's exec streams) until
    the process and all it started have closed the slave; never "detached"."""
    import errno
    import select

    sources = [master, stdin]
    while master in sources:
        readable, _, _ = select.select(sources, [], [])
        if stdin in readable:
            data = os.read(stdin, 65536)
            if not data:
                sources.remove(stdin)
            else:
                with contextlib.suppress(OSError):
                    _write_all(master, data)
        if master in readable:
            try:
                data = os.read(master, 65536)
            except OSError as e:  # EIO: the slave's last holder has gone
                if e.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                break
            try:
                _write_all(stdout, data)
            except OSError:  # the client went away: nobody reads any more
                break
    return False


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]
