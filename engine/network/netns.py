"""Sockets born inside another network namespace.

A socket belongs to the network namespace its creator was in at ``socket()`` time and keeps
it for life, whatever thread later uses it. So the DNS responder (listening on 127.0.0.11
inside a container) and the port proxy (connecting to the container's port from inside)
need no bridge, no route and no root: a short-lived thread enters the namespace with
``setns(2)``, creates the socket, and ends. Only that thread ever changes namespace, so the
caller (the container's monitor, with its own threads) stays where it is, and the thread
dies instead of having to find its way back.

``setns(CLONE_NEWNET)`` needs CAP_SYS_ADMIN in the user namespace that owns the target
network namespace: root, or (rootless) a process inside the store's user namespace.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

CLONE_NEWNET = 0x40000000

T = TypeVar("T")

_libc: ctypes.CDLL | None = None


def setns_net(fd: int) -> None:
    """Move the calling thread into the network namespace open as ``fd``."""
    if hasattr(os, "setns"):  # Python >= 3.12
        os.setns(fd, CLONE_NEWNET)
        return
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns(CLONE_NEWNET): {os.strerror(err)}")


def run_in_netns(ns_fd: int, fn: Callable[[], T]) -> T:
    """Run ``fn`` on a fresh thread that first enters the network namespace ``ns_fd``.

    Exceptions from ``setns`` or ``fn`` are re-raised in the caller.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            setns_net(ns_fd)
            result.append(fn())
        except BaseException as e:  # handed to the caller below
            error.append(e)

    t = threading.Thread(target=body, name="netns-helper", daemon=True)
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


def socket_in_netns(ns_fd: int | None, family: int = socket.AF_INET,
                    kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A new socket living in the network namespace ``ns_fd`` (the caller's own if None)."""
    if ns_fd is None:
        return socket.socket(family, kind)
    return run_in_netns(ns_fd, lambda: socket.socket(family, kind))


def open_netns(path: str) -> int:
    """Open a network namespace (``/proc/PID/ns/net``, ``/run/netns/NAME``) as an fd.

    Holding the fd pins that namespace, not whatever process later reuses the PID: the
    services keep it for their life and close it in ``stop``.
    """
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
