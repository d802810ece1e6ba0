"""The ``overlay`` driver: kernel overlayfs, lowerdirs = image layers, upperdir = RW layer."""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import Unsupported
from ..fs import tree
from ..fs.atomic import atomic_write, private_dir, remove_tree
from ..linux import procs, syscalls
from ..oci.changes import Change
from ..oci.digest import strip_algo
from ..store.journal import discard
from ..store.layers import Layer, LayerStore, check_depth
from . import SnapshotDriver

OPAQUE_XATTR = "trusted.overlay.opaque"
USER_OPAQUE_XATTR = "user.overlay.opaque"  # with -o userxattr (in a user namespace)
MOUNT_DATA_MAX = 4000  # the kernel takes one page of mount options
DISPOSABLE = ".disposable"  # the layer goes after use: its view is mounted volatile
VOLATILE_BOOT = ".volatile-boot"  # the boot in which the view was last mounted volatile
_LAYERED = True  # whether this kernel's overlayfs takes lowerdir+ (until it says no)


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str, xattr: str = OPAQUE_XATTR) -> bool:
    try:
        return os.getxattr(path, xattr, follow_symlinks=False) == b"y"
    except OSError:
        return False


def lower_has(lowers: list[str], rel: str, opaque_xattr: str = OPAQUE_XATTR) -> bool:
    """Whether ``rel`` is visible in the stack of lowerdirs (top first). ``rel`` comes from
    a container's upper directory: it is looked up one verified directory at a time, so a
    symlink in a layer ends the lookup there instead of leading out of it."""
    parts = rel.split("/")
    for lower in lowers:
        path = lower
        for i, part in enumerate(parts):
            path = os.path.join(path, part)
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                # not in this layer: an opaque directory above it here hides the layers below
                if any(is_opaque(os.path.join(lower, *parts[:j]), opaque_xattr)
                       for j in range(1, i + 1)):
                    return False
                break
            if i == len(parts) - 1:
                return not is_whiteout(st)
            if not stat.S_ISDIR(st.st_mode):
                return False  # a file, symlink or whiteout here hides everything below
    return False


class OverlayDriver(SnapshotDriver):
    name = "overlay"

    def __init__(self, root: Path, layers: LayerStore, userxattr: bool = False) -> None:
        super().__init__(root, layers)
        self.userxattr = userxattr
        self.opaque_xattr = USER_OPAQUE_XATTR if userxattr else OPAQUE_XATTR

    def upper(self, cid: str) -> Path:
        return self.dir(cid) / "diff"

    def merged(self, cid: str) -> Path:
        return self.dir(cid) / "merged"

    def lower(self, layer: Layer) -> Path:
        """The layer as an overlayfs lowerdir: unpacked from its tar on first use, into a
        temporary directory renamed into place, so a half-unpacked layer is never used."""
        final = self.root / "lower" / strip_algo(layer.chain_id)
        if final.exists():
            return final
        from ..oci import layertar  # tarfile: only when a layer is unpacked, not every start

        private_dir(final.parent)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".unpack-{os.getpid()}-"))
        try:
            with self.layers.open_tar(layer) as f:
                owners = layertar.extract(f, tmp, "overlay", self.opaque_xattr)
            if owners:  # beside the layer, not in it: a container must not see it
                atomic_write(self._owners_file(layer.chain_id), json.dumps(owners).encode())
            os.chmod(tmp, 0o755)
            os.replace(tmp, final)
        except BaseException:
            remove_tree(tmp)
            raise
        return final

    def lowers(self, chain: list[Layer]) -> list[str]:
        return [str(self.lower(layer)) for layer in reversed(chain)]

    def _owners_file(self, chain_id: str) -> Path:
        return self.root / "lower" / f"{strip_algo(chain_id)}.owners.json"

    def owner_index(self, cid: str, chain: list[Layer]) -> dict[str, list[Any]]:
        index: dict[str, list[Any]] = {}
        for layer in chain:  # bottom first: a higher layer's entry wins
            try:
                index.update(json.loads(self._owners_file(layer.chain_id).read_bytes()))
            except FileNotFoundError:
                continue
        return index

    def forget(self, chain_ids: Iterable[str]) -> None:
        """Drop unpacked layers, each in one rename (whole or gone, never half there)."""
        for chain_id in chain_ids:
            discard(self.root.parent, self.root / "lower" / strip_algo(chain_id))
            self._owners_file(chain_id).unlink(missing_ok=True)

    def image_metadata(self, chain: list[Layer]) -> dict[str, Any]:
        if not chain:
            return {}
        dirs = self.lowers(chain)
        return {"UpperDir": dirs[0], "LowerDir": ":".join(dirs[1:])} if len(dirs) > 1 \
            else {"UpperDir": dirs[0]}

    def prepare(self, cid: str, chain: list[Layer], disposable: bool = False) -> None:
        private_dir(self.dir(cid))
        for sub in ("diff", "work", "merged"):
            (self.dir(cid) / sub).mkdir(exist_ok=True)
        if disposable:
            (self.dir(cid) / DISPOSABLE).touch()
        self.lowers(chain)  # unpack now, so start is fast and failures show at create

    def _mount_lowers(self, chain: list[Layer]) -> list[str]:
        """The lowerdirs to mount, top first; refuses an image deeper than Docker's limit."""
        check_depth(len(chain))
        lowers = self.lowers(chain)
        if not lowers:  # FROM scratch: overlay needs a lowerdir, give it an empty one
            empty = self.root / "empty"
            empty.mkdir(exist_ok=True)
            lowers = [str(empty)]
        return lowers

    def mount_options(self, cid: str, lowers: list[str], volatile: bool = False) -> str:
        """The classic ``mount(2)`` option string: all lowerdirs in one page of data."""
        data = (
            f"lowerdir={':'.join(lowers)},upperdir={self.upper(cid)},"
            f"workdir={self.dir(cid) / 'work'}"
        ) + (",userxattr" if self.userxattr else "") + (",volatile" if volatile else "")
        if len(data) > MOUNT_DATA_MAX:
            raise Unsupported(
                f"image has {len(lowers)} layers: too many for one overlay mount on this "
                "kernel (Linux 6.8's lowerdir+ takes up to 125); use the vfs storage driver "
                "(LAYERLAB_STORAGE_DRIVER=vfs) or squash the image"
            )
        return data

    def _mount_layered(self, cid: str, lowers: list[str], target: Path,
                       volatile: bool) -> None:
        """Mount through the new mount API, one ``lowerdir+`` per layer, so depth is not
        bounded by the page of options ``mount(2)`` takes (Linux 6.8)."""
        with syscalls.FsContext("overlay") as fs:
            for lower in lowers:
                fs.set_string("lowerdir+", lower)
            fs.set_string("upperdir", self.upper(cid))
            fs.set_string("workdir", self.dir(cid) / "work")
            if self.userxattr:
                fs.set_flag("userxattr")
            if volatile:
                fs.set_flag("volatile")
            fs.mount(target)

    def _reclaim_workdir(self, cid: str) -> None:
        """Let a view that was mounted ``volatile`` be mounted again.

        A volatile mount leaves ``work/work/incompat/volatile`` behind, and overlayfs
        refuses every later mount while it is there: after a crash the upper directory
        may hold torn files. Without a reboot since that mount, nothing was torn and the
        mark may go, as the kernel's documentation says; after one, the layer is refused.
        """
        incompat = self.dir(cid) / "work" / "work" / "incompat"
        if not incompat.exists():
            return
        try:
            boot = (self.dir(cid) / VOLATILE_BOOT).read_text()
        except FileNotFoundError:
            boot = ""
        if boot != procs.boot_id():
            raise Unsupported(f"container {cid[:12]}: its read-write layer (to be thrown "
                              "away: --rm or a build step) was mounted volatile when the "
                              "machine went down, so its content may be incomplete: remove "
                              "the container")
        remove_tree(incompat)

    def _mount(self, cid: str, chain: list[Layer]) -> Path:
        """A disposable layer's view is mounted ``volatile`` (as Podman mounts a ``--rm``
        container's): no sync of the upper directory ever, and above all none at
        unmount, which otherwise syncs the whole filesystem the store is on (a few ms on
        an idle disk, up to hundreds while another process writes)."""
        global _LAYERED
        target = self.merged(cid)
        if self.is_mounted(cid):
            return target
        lowers = self._mount_lowers(chain)
        self._reclaim_workdir(cid)
        volatile = (self.dir(cid) / DISPOSABLE).exists()
        if volatile:
            atomic_write(self.dir(cid) / VOLATILE_BOOT, procs.boot_id().encode(),
                         durable=False)
        if _LAYERED:
            try:
                self._mount_layered(cid, lowers, target, volatile)
                return target
            except OSError as e:
                # Kernels without it answer: no fsopen (ENOSYS, before 5.2; EPERM under
                # some seccomp sandboxes), "Unknown parameter 'lowerdir+'" (EINVAL, 6.5 to
                # 6.7), or EINVAL at create (before 6.5, which passes unknown keys on to
                # the old option parser). Anything else is a real failure: mount(2) below
                # then fails too, and says why.
                if e.errno not in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
                    raise
                layered_error = e
        else:
            layered_error = None
        syscalls.mount("overlay", str(target), "overlay", 0,
                       self.mount_options(cid, lowers, volatile))
        if layered_error is not None:
            _LAYERED = False  # the old way works where the new did not: use it from now on
        return target

    def _unmount(self, cid: str) -> None:
        if self.is_mounted(cid):
            syscalls.umount2(str(self.merged(cid)), syscalls.MNT_DETACH)

    def is_mounted(self, cid: str) -> bool:
        return os.path.ismount(self.merged(cid))

    def changes(self, cid: str, chain: list[Layer]) -> tuple[list[Change], list[str]]:
        lowers = self.lowers(chain)
        out: list[Change] = []
        opaque: list[str] = []
        hidden: list[str] = []  # opaque dirs: nothing below them comes from the lowers

        def in_lower(rel: str) -> bool:
            return not any(rel.startswith(h + "/") for h in hidden) and lower_has(
                lowers, rel, self.opaque_xattr)

        with tree.opened_dir(self.upper(cid)) as upper:  # by descriptor: it may be live
            for e in tree.walk(upper):
                if is_whiteout(e.st):
                    out.append(Change("D", "/" + e.rel))
                    continue
                out.append(Change("C" if in_lower(e.rel) else "A", "/" + e.rel))
                if e.is_dir and is_opaque(f"/proc/self/fd/{e.dir_fd}/{e.name}",
                                          self.opaque_xattr):
                    opaque.append("/" + e.rel)
                    hidden.append(e.rel)
        return sorted(out, key=lambda c: c.path), opaque

    def source(self, cid: str) -> Path:
        return self.upper(cid)

    def metadata(self, cid: str, chain: list[Layer]) -> dict[str, Any]:
        return {
            "LowerDir": ":".join(self.lowers(chain)),
            "UpperDir": str(self.upper(cid)),
            "WorkDir": str(self.dir(cid) / "work"),
            "MergedDir": str(self.merged(cid)),
        }

    def remove(self, cid: str) -> None:
        if self.dir(cid).is_dir():
            with self._lock(cid):
                self._unmount(cid)
        discard(self.root.parent, self.dir(cid))
