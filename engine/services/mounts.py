"""``-v``, ``--mount``, ``--tmpfs`` and ``--volumes-from`` read as Docker reads them, into
the mount points a container keeps (its ``Mounts`` in ``inspect``).

The wording of every refusal is Docker's (moby's ``volume/mounts`` parser and the CLI's
``opts/mount.go``), so a learner's typo reads as it would with Docker. Resolving names to
volumes (and making them) is the volumes service's; this module only reads the flags.
"""

from __future__ import annotations

import csv
import posixpath
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InvalidArgument
from ..linux import syscalls as sc

# moby's ValidMountMode: access, SELinux label, copy and propagation modes
_ACCESS = {"rw", "ro"}
_LABEL = {"z", "Z"}
_COPY = {"nocopy"}
_PROPAGATION = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}
_CONSISTENCY = {"consistent", "cached", "delegated"}
_TMPFS_FLAGS = {"ro": (sc.MS_RDONLY, True), "rw": (sc.MS_RDONLY, False),
                "noexec": (sc.MS_NOEXEC, True), "exec": (sc.MS_NOEXEC, False),
                "nosuid": (sc.MS_NOSUID, True), "suid": (sc.MS_NOSUID, False),
                "nodev": (sc.MS_NODEV, True), "dev": (sc.MS_NODEV, False)}
TMPFS_DEFAULT = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC  # Docker's, for every tmpfs


@dataclass
class MountPoint:
    """One mount of a container, as recorded at create (``Container.Mounts``)."""

    Type: str  # bind, volume or tmpfs
    Destination: str
    Source: str = ""  # a bind's host path ("" for volumes: their data dir is the store's)
    Name: str = ""  # a volume's name
    RW: bool = True
    Mode: str = ""  # as written after the second colon of -v ("ro", "z", "nocopy"…)
    Propagation: str = ""
    CopyData: bool = True  # a volume: filled from the image's files there when empty
    CreateSource: bool = False  # a -v bind: a missing host directory is made (Docker's)
    TmpfsOptions: str = ""  # a tmpfs: mount data (size=, mode=)
    TmpfsFlags: int = TMPFS_DEFAULT
    Labels: dict[str, str] = field(default_factory=dict)  # --mount volume-label=

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, record: dict[str, Any]) -> MountPoint:
        return cls(**record)


def _spec_error(raw: str, why: str = "") -> InvalidArgument:
    return InvalidArgument(f"invalid volume specification: '{raw}'" + (f": {why}" if why else ""))


def _config_error(kind: str, why: str) -> InvalidArgument:
    return InvalidArgument(f'invalid mount config for type "{kind}": {why}')


def _valid_mode(mode: str) -> bool:
    if not mode:
        return True
    seen: dict[str, int] = {}
    for part in mode.split(","):
        for group, names in (("access", _ACCESS), ("label", _LABEL), ("copy", _COPY),
                             ("propagation", _PROPAGATION), ("consistency", _CONSISTENCY)):
            if part in names:
                seen[group] = seen.get(group, 0) + 1
                break
        else:
            return False
    return all(n == 1 for n in seen.values())


def check_destination(kind: str, target: str) -> str:
    """moby's checks of a mount's container path; the path, cleaned."""
    if not target:
        raise _config_error(kind, "field Target must not be empty")
    if not target.startswith("/"):
        raise _config_error(kind, f"invalid mount path: '{target}' mount path must be absolute")
    clean = posixpath.normpath(target)
    if clean == "/":
        raise _config_error(kind, "invalid specification: destination can't be '/'")
    return clean


def parse_volume(raw: str) -> MountPoint:
    """``-v``: ``/ctr`` (anonymous volume), ``NAME:/ctr[:mode]`` (named volume) or
    ``/host:/ctr[:mode]`` (a bind; a missing host directory is created at start)."""
    parts = raw.split(":")
    if not parts[0] or len(parts) > 3:
        raise _spec_error(raw)
    source, mode = "", ""
    if len(parts) == 1:
        target = parts[0]
    elif len(parts) == 2:
        if _valid_mode(parts[1]) and parts[1]:
            raise _spec_error(raw)  # "/foo:ro": an anonymous volume takes no mode
        source, target = parts
    else:
        source, target, mode = parts
    if not _valid_mode(mode):
        raise InvalidArgument(f"invalid mode: {mode}")
    kind = "bind" if source.startswith("/") else "volume"
    try:
        target = check_destination(kind, target)
    except InvalidArgument as e:
        raise _spec_error(raw, str(e)) from None
    modes = mode.split(",") if mode else []
    if kind == "bind":
        prop = next((m for m in modes if m in _PROPAGATION), "rprivate")
        return MountPoint("bind", target, posixpath.normpath(source), RW="ro" not in modes,
                          Mode=mode, Propagation=prop, CreateSource=True)
    return MountPoint("volume", target, Name=source, RW="ro" not in modes, Mode=mode,
                      CopyData="nocopy" not in modes)


def _bool(key: str, value: str) -> bool:
    low = value.lower()
    if low in ("1", "t", "true"):
        return True
    if low in ("0", "f", "false"):
        return False
    raise InvalidArgument(f"invalid value for {key}: {value}")


class FlagError(InvalidArgument):
    """A ``--mount`` value the docker CLI itself refuses (no daemon prefix, exit 125)."""

    exit_code = 125
    daemon = False


def _mount_flag_error(raw: str, why: str) -> InvalidArgument:
    return FlagError(f'invalid argument "{raw}" for "--mount" flag: {why}')


def parse_mount(raw: str) -> MountPoint:
    """``--mount type=bind|volume|tmpfs,source=…,target=…,readonly,…`` (the CLI's CSV
    fields), checked as the daemon checks a ``mount.Mount``: a bind's source must exist."""
    try:
        fields = next(csv.reader([raw]))
    except (csv.Error, StopIteration):
        raise _mount_flag_error(raw, "malformed CSV") from None
    kind, source, target, readonly = "volume", "", "", False
    propagation, nocopy, labels = "", False, {}
    size, tmode = "", ""
    for f in fields:
        key, eq, value = f.partition("=")
        key = key.strip().lower()
        if not eq:
            if key in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
                value = "true"
            else:
                raise _mount_flag_error(raw, f"invalid field '{f}' must be a key=value pair")
        try:
            if key == "type":
                kind = value.lower()
            elif key in ("source", "src"):
                source = value
            elif key in ("target", "dst", "destination"):
                target = value
            elif key in ("readonly", "ro"):
                readonly = _bool(key, value)
            elif key == "bind-propagation":
                propagation = value
            elif key == "volume-nocopy":
                nocopy = _bool(key, value)
            elif key == "volume-label":
                lk, _, lv = value.partition("=")
                labels[lk] = lv
            elif key == "tmpfs-size":
                size = value
            elif key == "tmpfs-mode":
                tmode = value
            elif key in ("consistency", "volume-driver", "volume-opt", "bind-nonrecursive"):
                continue  # accepted as Docker does on Linux; the local driver needs none
            else:
                raise _mount_flag_error(raw, f"unexpected key '{key}' in '{f}'")
        except InvalidArgument as e:
            if str(e).startswith("invalid argument"):
                raise
            raise _mount_flag_error(raw, str(e)) from None
    if kind not in ("bind", "volume", "tmpfs"):
        raise _config_error(kind, "mount type unknown")
    target = check_destination(kind, target)
    if kind == "bind":
        if not source:
            raise _config_error(kind, "field Source must not be empty")
        if not source.startswith("/"):
            raise _config_error(kind, f"invalid mount path: '{source}' mount path must be "
                                "absolute")
        if not posixpath.exists(source):
            raise _config_error(kind, f"bind source path does not exist: {source}")
        return MountPoint("bind", target, posixpath.normpath(source), RW=not readonly,
                          Propagation=propagation or "rprivate")
    if kind == "tmpfs":
        if source:
            raise _config_error(kind, "field Source must not be specified")
        opts = [o for o in (f"size={size}" if size else "", f"mode={tmode}" if tmode else "")
                if o]
        return MountPoint("tmpfs", target, RW=not readonly, TmpfsOptions=",".join(opts))
    return MountPoint("volume", target, Name=source, RW=not readonly, CopyData=not nocopy,
                      Labels=labels)


def parse_tmpfs(raw: str) -> MountPoint:
    """``--tmpfs /path[:opts]``: opts as for ``mount -t tmpfs`` (``ro``, ``size=64m``…)."""
    target, _, opts = raw.partition(":")
    target = check_destination("tmpfs", target)
    flags, data = TMPFS_DEFAULT, []
    readonly = False
    for opt in (o for o in opts.split(",") if o):
        if opt in _TMPFS_FLAGS:
            bit, on = _TMPFS_FLAGS[opt]
            if bit == sc.MS_RDONLY:
                readonly = on
            else:
                flags = flags | bit if on else flags & ~bit
        else:
            data.append(opt)
    return MountPoint("tmpfs", target, RW=not readonly, TmpfsOptions=",".join(data),
                      TmpfsFlags=flags)


def parse_volumes_from(raw: str) -> tuple[str, str]:
    """``--volumes-from CONTAINER[:ro|rw]``: (container, mode or "")."""
    name, _, mode = raw.partition(":")
    if mode not in ("", "ro", "rw"):
        raise InvalidArgument(f"invalid mode: {mode}")
    return name, mode


def check_unique(points: list[MountPoint]) -> None:
    seen: set[str] = set()
    for p in points:
        if p.Destination in seen:
            raise InvalidArgument(f"Duplicate mount point: {p.Destination}")
        seen.add(p.Destination)
