"""The built-in ``busybox`` image, made from the host's static busybox binary (S22).

The layer tar is built deterministically (fixed owners, the binary's own mtime), so the
same binary always gives the same diffID and image ID, on any host.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NotFound
from ..oci import imageconfig
from ..runtime.spec import DEFAULT_PATH

if TYPE_CHECKING:
    from ..services.engine import Engine

REF = "busybox:latest"
PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:12:mail
www-data:x:33:
operator:x:37:
users:x:100:
nogroup:x:65534:
"""
DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555,
        "root": 0o700, "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "usr/sbin": 0o755,
        "var": 0o755, "var/spool": 0o755, "var/spool/mail": 0o755, "var/www": 0o755}


def find_busybox() -> Path:
    """The host's statically linked busybox (Debian: busybox-static)."""
    for candidate in (os.environ.get("LAYERLAB_BUSYBOX"), shutil.which("busybox"),
                      "/bin/busybox", "/usr/bin/busybox"):
        if candidate and Path(candidate).is_file() and is_static_elf(Path(candidate)):
            return Path(candidate).resolve()
    raise NotFound(
        "cannot bootstrap busybox: no statically linked busybox on this host; "
        "install it with: apt-get install busybox-static"
    )


def is_static_elf(path: Path) -> bool:
    """No PT_INTERP program header: the binary runs in an empty rootfs."""
    with path.open("rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF" or ident[4] != 2:  # 64-bit ELF only
            return False
        endian = "<" if ident[5] == 1 else ">"
        phoff, = struct.unpack_from(endian + "Q", ident, 32)
        phentsize, phnum = struct.unpack_from(endian + "HH", ident, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from(endian + "I", table, i * phentsize)[0] != 3
               for i in range(phnum))


def applets(busybox: Path) -> list[str]:
    out = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True)
    return sorted({a for a in out.stdout.split() if a and a != "busybox" and "/" not in a})


def rootfs_tar(busybox: Path) -> tuple[bytes, int]:
    """The layer tar and its timestamp (the binary's mtime)."""
    mtime = int(busybox.stat().st_mtime)
    buf = io.BytesIO()

    def entry(name: str, kind: bytes, mode: int, data: bytes = b"", link: str = "") -> None:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime, ti.linkname, ti.size = kind, mode, mtime, link, len(data)
        tf.addfile(ti, io.BytesIO(data) if data else None)

    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.PAX_FORMAT) as tf:
        for d, mode in sorted(DIRS.items()):
            entry(d, tarfile.DIRTYPE, mode)
        entry("bin/busybox", tarfile.REGTYPE, 0o755, busybox.read_bytes())
        for a in applets(busybox):
            entry(f"bin/{a}", tarfile.LNKTYPE, 0o755, link="bin/busybox")
        for name, text in (("passwd", PASSWD), ("group", GROUP), ("hostname", ""),
                           ("hosts", ""), ("resolv.conf", "")):
            entry(f"etc/{name}", tarfile.REGTYPE, 0o644, text.encode())
    return buf.getvalue(), mtime


def bootstrap(engine: Engine) -> str:
    """Create (or find) ``busybox:latest``; returns the image ID."""
    busybox = find_busybox()
    data, mtime = rootfs_tar(busybox)
    created = datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    diff_id = engine.store.layers.ingest(io.BytesIO(data))
    with engine.store.lock():
        engine.store.layers.register(diff_id)
        config = imageconfig.append_layer(
            None, created=created, created_by=f"/bin/sh -c #(nop) ADD file:{diff_id[7:]} in / ",
            diff_id=diff_id, run_config={"Env": [f"PATH={DEFAULT_PATH}"], "Cmd": ["sh"]})
        config = imageconfig.append_layer(
            config, created=created, created_by='/bin/sh -c #(nop)  CMD ["sh"]', diff_id=None)
        return engine.images.put(config, tag=REF)

