"""The caller's side of the warm CLI: find this caller's server, hand the command over,
relay signals, and end the way the command ended.

It runs before anything else in a ``layerlab`` process, so it imports only modules Python
has loaded already or that are built in — ``_socket`` and ``_signal`` rather than
``socket`` and ``signal``, whose enums cost ~16 ms of a 20 ms interpreter start here —
and decides fast when to run the command in this process instead (no server yet, one
that refuses, interpreter flags of its own).
"""

from __future__ import annotations

import _signal
import _socket
import marshal
import os
import sys
import zlib

MAX_MESSAGE = 1 << 20
# what a terminal or a supervisor sends the command: the child gets it instead
_FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT,
              _signal.SIGUSR1, _signal.SIGUSR2, _signal.SIGWINCH, _signal.SIGCONT)
_STATUS_FIELDS = ("Uid", "Gid", "Groups", "NoNewPrivs", "Seccomp", "CapInh", "CapPrm",
                  "CapEff", "CapBnd", "CapAmb")
_NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts")


def forward(argv: list[str]) -> int | None:
    """Run ``layerlab ARGV`` in this caller's server: the exit code to exit with, or
    ``None`` to run the command in this process (and a server is started for the next)."""
    if os.environ.get("LAYERLAB_CLI_SERVER", "1") == "0" or _own_flags():
        return None
    try:
        me = identity()
        path = address(me)
        if path is None:
            return None
        request = marshal.dumps({"identity": me, "argv": argv, "env": dict(os.environ),
                                 "cwd": os.getcwd(), "umask": _umask()})
    except (OSError, ValueError):
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        start_server(path)
        return None
    fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))
    try:
        sock.sendmsg([request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        first = sock.recv(MAX_MESSAGE)
    except OSError:  # a descriptor 0-2 closed here, or the server just went
        sock.close()
        return None
    reply = marshal.loads(first) if first else {}
    if "pid" not in reply and "status" not in reply:  # refused before running anything
        sock.close()
        return None
    return _wait(sock, reply)


def _own_flags() -> bool:
    """Interpreter options a server started as plain ``python -m`` would not have (``-I``,
    ``-E``, ``-S``, ``-O``, ``-X importtime`` …): such a command runs here, as asked."""
    f = sys.flags
    return bool(f.isolated or f.ignore_environment or f.no_site or f.no_user_site
                or f.optimize or f.dev_mode or f.verbose or f.inspect or sys.warnoptions
                or sys._xoptions)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def identity() -> str:
    """What a command inherits from its process and a request cannot carry: the user,
    groups, capabilities, ``no_new_privs``, seccomp, namespaces, root, cgroup, limits,
    priority and CPUs, the interpreter and its locale, and the engine's code (the newest
    ``.py`` under it: an edit or an upgrade reaches a new server)."""
    parts = [sys.executable, sys.version, _code_stamp()]
    with open("/proc/self/status") as f:
        parts += [line for line in f if line.partition(":")[0] in _STATUS_FIELDS]
    parts += [os.readlink(f"/proc/self/ns/{ns}") for ns in _NAMESPACES]
    for name in ("cgroup", "limits"):
        with open(f"/proc/self/{name}") as f:
            parts.append(f.read())
    root = os.stat("/")
    parts.append(f"{root.st_dev}:{root.st_ino} {os.getpriority(os.PRIO_PROCESS, 0)} "
                 f"{sorted(os.sched_getaffinity(0))}")
    parts += [f"{k}={v}" for k, v in sorted(os.environ.items())
              if k.startswith(("PYTHON", "LC_")) or k in ("LANG", "LANGUAGE")]
    return "\n".join(parts)


def _code_stamp() -> str:
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    newest, count, dirs = 0, 0, [top]
    while dirs:
        with os.scandir(dirs.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        dirs.append(entry.path)
                elif entry.name.endswith(".py"):
                    newest = max(newest, entry.stat().st_mtime_ns)
                    count += 1
    return f"{top} {count} {newest}"


def server_dir() -> str | None:
    """This user's private directory of server sockets (made here, mode 0700), or
    ``None`` where there is none to be had: one that another user owns, or others may
    enter, is never used."""
    base = os.environ.get("LAYERLAB_CLI_SERVER_DIR")
    if not base:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        base = (os.path.join(runtime, "layerlab-cli") if runtime
                else f"/tmp/layerlab-cli-{os.geteuid()}")
    base = os.path.abspath(base)  # the server binds it from /
    try:
        os.mkdir(base, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    st = os.lstat(base)
    if (st.st_mode & 0o170000) != 0o040000 or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        return None
    return base


def address(me: str) -> str | None:
    """The socket of the server for this identity."""
    base = server_dir()
    if base is None:
        return None
    data = me.encode()
    return os.path.join(base, f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}.sock")


def start_server(path: str) -> None:
    """A detached server for the next command (this one runs here): double-forked into a
    session of its own, with no descriptor of ours but /dev/null on 0-2."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:  # pragma: no cover - the forked starter
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            # -P: not the caller's directory on the server's sys.path (a module there
            # would be imported by every later command's child)
            os.execv(sys.executable,
                     [sys.executable, "-P", "-m", "layerlab.engine.cliserver.server", path])
    finally:
        os._exit(0)


def _wait(sock: _socket.socket, reply: dict[str, int]) -> int:
    """Relay signals to the child until the server sends its wait status; end like it."""
    pid = reply.get("pid", 0)

    def relay(sig: int, _frame: object) -> None:
        if pid:
            try:  # noqa: SIM105 - no contextlib: it loads functools and collections
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def suspend(sig: int, frame: object) -> None:  # ctrl-z: the child stops, then we do
        relay(sig, frame)
        os.kill(os.getpid(), _signal.SIGSTOP)

    for sig in _FORWARDED:
        _signal.signal(sig, relay)
    _signal.signal(_signal.SIGTSTP, suspend)
    while "status" not in reply:
        data = sock.recv(MAX_MESSAGE)
        if not data:
            print("layerlab: the CLI server ended before the command did "
                  "(LAYERLAB_CLI_SERVER=0 runs commands without it)", file=sys.stderr)
            return 125
        reply = marshal.loads(data)
    sock.close()
    status = reply["status"]
    if os.WIFSIGNALED(status):  # end by the same signal, as a shell expects
        sig = os.WTERMSIG(status)
        if sig != _signal.SIGKILL:  # the one whose handling cannot be set
            _signal.signal(sig, _signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return os.waitstatus_to_exitcode(status)
