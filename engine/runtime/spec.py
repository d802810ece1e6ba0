"""What the runtime needs to start a container process; built by the engine from its stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..linux import syscalls as sc

if TYPE_CHECKING:
    from .confine import Plan
    from .limits import Resources
    from .ulimits import Ulimit

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The init's own namespaces; without CLONE_NEWNET it keeps the host's network
# (--network host) or joins ``netns_fd`` (--network container:NAME).
NAMESPACES = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC | sc.CLONE_NEWNET


@dataclass
class ProcessSpec:
    args: list[str]
    env: list[str]
    cwd: str = "/"
    user: str = ""  # Docker's -u: name|uid[:group|gid], resolved inside the container
    plan: Plan | None = None  # confinement applied just before exec (None: none)
    rootless: bool = False  # in a user namespace mapping one uid: no setgroups, nested -u
    ulimits: list[Ulimit] = field(default_factory=list)  # --ulimit, set before the uid change


@dataclass
class Mount:
    """One mount the init makes in the container's mount namespace (``runtime.mounts``):
    a bind of a host path (a bind mount, a volume's data) or a fresh tmpfs."""

    target: str  # the path inside the container, resolved within its root at mount time
    source: str = ""  # host path of a bind ("" for a tmpfs)
    kind: str = "bind"  # bind or tmpfs
    readonly: bool = False
    flags: int = 0  # extra MS_* flags (a tmpfs's nosuid, nodev, noexec)
    data: str = ""  # a tmpfs's options (size=, mode=)


@dataclass
class ContainerSpec:
    id: str
    rootfs: str  # the mounted union view (overlay merged dir, or the vfs rootfs)
    hostname: str
    process: ProcessSpec
    state_dir: str  # containers/<id>: holds the log, the monitor lock, /etc files
    cgroup: bool = True  # a freezer cgroup (pause), where the host has one
    devices: bool = False  # a device-allowlist cgroup, where the host enforces one
    etc_files: dict[str, str] = field(default_factory=dict)  # container path → host file
    namespaces: int = NAMESPACES  # unshare(2) flags of the init
    netns_fd: int | None = None  # a network namespace for the init to setns into
    pass_fds: list[int] = field(default_factory=list)  # kept open in the monitor (the
    # published ports' listeners, netns_fd), closed everywhere else
    mode: str = "root"  # the isolation mode: root, rootless (the store's keeper) or proot
    store: str = ""  # rootless: the store whose keeper's namespaces the monitor joins
    fresh_proc: bool = True  # False: a fresh procfs is refused here, bind the host's
    mounts: list[Mount] = field(default_factory=list)  # volumes, binds, tmpfs (-v, --mount)
    readonly_rootfs: bool = False  # --read-only: / remounted read-only after the mounts
    resources: Resources | None = None  # limits for the controller groups (None: no groups)
    tty: bool = False  # -t: a pty from the container's devpts (runtime/tty.py)
    open_stdin: bool = False  # -i: stdin stays open for attach clients (runtime/attach.py)
    init: bool = False  # --init: PID 1 is a reaper and the command its child
    console_fd: int = -1  # set by the monitor: the socket the init sends the pty master on
    console_size: tuple[int, int] | None = None  # the attached client's (rows, cols)


@dataclass
class Attach:
    """File descriptors a foreground client lends the container (``run`` without ``-d``)."""

    stdout: int
    stderr: int
    stdin: int | None = None  # with -i: the client's stdin becomes the container's
    conn: int | None = None  # a socket speaking runtime/attach.py's frames instead (-t);
    # stdout/stderr are then unused
    size: tuple[int, int] | None = None  # -t: the client's window (rows, cols)


def merged_env(image_env: list[str], overrides: list[str], hostname: str) -> list[str]:
    """Docker's rule: image ENV, then -e overrides by name; PATH and HOSTNAME always set."""
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    for item in [*image_env, *overrides]:
        key, sep, value = item.partition("=")
        env[key] = value if sep else env.get(key, "")
    return [f"{k}={v}" for k, v in env.items()]
