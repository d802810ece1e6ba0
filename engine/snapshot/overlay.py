"""The ``overlay`` driver: kernel overlayfs, lowerdirs = image layers, upperdir = RW layer."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import Unsupported
from ..fs.atomic import private_dir, remove_tree
from ..linux import syscalls
from ..oci import layertar
from ..oci.changes import Change
from ..oci.digest import strip_algo
from ..store.layers import Layer
from . import SnapshotDriver

OPAQUE_XATTR = "trusted.overlay.opaque"
MOUNT_DATA_MAX = 4000  # the kernel takes one page of mount options


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def lower_has(lowers: list[str], rel: str) -> bool:
    """Whether ``rel`` is visible in the stack of lowerdirs (top first)."""
    parts = rel.split("/")
    for lower in lowers:
        try:
            st = os.lstat(os.path.join(lower, rel))
        except FileNotFoundError:
            pass
        else:
            return not is_whiteout(st)
        for i in range(len(parts) - 1, 0, -1):  # does this layer hide an ancestor?
            anc = os.path.join(lower, *parts[:i])
            try:
                ast = os.lstat(anc)
            except FileNotFoundError:
                continue
            if is_whiteout(ast) or not stat.S_ISDIR(ast.st_mode) or is_opaque(anc):
                return False
    return False


class OverlayDriver(SnapshotDriver):
    name = "overlay"

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
        private_dir(final.parent)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".unpack-"))
        try:
            with self.layers.open_tar(layer) as f:
                layertar.extract(f, tmp, "overlay", OPAQUE_XATTR)
            os.chmod(tmp, 0o755)
            os.replace(tmp, final)
        except BaseException:
            remove_tree(tmp)
            raise
        return final

    def lowers(self, chain: list[Layer]) -> list[str]:
        return [str(self.lower(layer)) for layer in reversed(chain)]

    def forget(self, chain_ids: Iterable[str]) -> None:
        for chain_id in chain_ids:
            remove_tree(self.root / "lower" / strip_algo(chain_id))

    def image_metadata(self, chain: list[Layer]) -> dict[str, Any]:
        if not chain:
            return {}
        dirs = self.lowers(chain)
        return {"UpperDir": dirs[0], "LowerDir": ":".join(dirs[1:])} if len(dirs) > 1 \
            else {"UpperDir": dirs[0]}

    def prepare(self, cid: str, chain: list[Layer]) -> None:
        private_dir(self.dir(cid))
        for sub in ("diff", "work", "merged"):
            (self.dir(cid) / sub).mkdir(exist_ok=True)
        self.lowers(chain)  # unpack now, so start is fast and failures show at create

    def mount_options(self, cid: str, chain: list[Layer]) -> str:
        lowers = self.lowers(chain)
        if not lowers:  # FROM scratch: overlay needs a lowerdir, give it an empty one
            empty = self.root / "empty"
            empty.mkdir(exist_ok=True)
            lowers = [str(empty)]
        data = (
            f"lowerdir={':'.join(lowers)},upperdir={self.upper(cid)},"
            f"workdir={self.dir(cid) / 'work'}"
        )
        if len(data) > MOUNT_DATA_MAX:
            raise Unsupported(
                f"image has {len(chain)} layers: too many for one overlay mount here; "
                "use the vfs storage driver (LAYERLAB_STORAGE_DRIVER=vfs) or squash the image"
            )
        return data

    def mount(self, cid: str, chain: list[Layer]) -> Path:
        target = self.merged(cid)
        if not self.is_mounted(cid):
            syscalls.mount("overlay", str(target), "overlay", 0, self.mount_options(cid, chain))
        return target

    def unmount(self, cid: str) -> None:
        if self.is_mounted(cid):
            syscalls.umount2(str(self.merged(cid)), syscalls.MNT_DETACH)

    def is_mounted(self, cid: str) -> bool:
        return os.path.ismount(self.merged(cid))

    def changes(self, cid: str, chain: list[Layer]) -> tuple[list[Change], list[str]]:
        upper = str(self.upper(cid))
        lowers = self.lowers(chain)
        out: list[Change] = []
        opaque: list[str] = []
        hidden: list[str] = []  # opaque dirs: nothing below them comes from the lowers

        def in_lower(rel: str) -> bool:
            return not any(rel.startswith(h + "/") for h in hidden) and lower_has(lowers, rel)

        for dirpath, dirnames, filenames in os.walk(upper):
            dirnames.sort()
            base = os.path.relpath(dirpath, upper)
            for name in sorted(dirnames + filenames):
                rel = name if base == "." else f"{base}/{name}"
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                if is_whiteout(st):
                    out.append(Change("D", "/" + rel))
                    continue
                out.append(Change("C" if in_lower(rel) else "A", "/" + rel))
                if stat.S_ISDIR(st.st_mode) and is_opaque(path):
                    opaque.append("/" + rel)
                    hidden.append(rel)
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
        self.unmount(cid)
        remove_tree(self.dir(cid))
