"""Copy-outs a container cannot race: ``export``, ``commit`` and ``diff`` read its tree by
descriptor from one directory opened at the start, never by host path.

Docker runs such copies in a process chrooted into the container's root
(``chrootarchive``) so that a container swapping a file for a symlink to a host file while
the copy runs gets at most its own files into the tar. The same guarantee here costs no
process: every directory is opened relative to its parent with ``O_NOFOLLOW``, every file
with ``O_NOFOLLOW`` relative to its directory and described by the ``fstat`` of the
descriptor that is read (``fs.tree``, ``layertar.TarWriter``). Nothing is ever resolved
through a symlink, so no path can lead out of the tree; the descriptor of the root also
keeps the read on the same mount even if the view is unmounted meanwhile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..fs import tree
from ..oci.changes import Change
from ..store.layers import Layer
from . import SnapshotDriver

if TYPE_CHECKING:
    from ..oci.layertar import Sink


@contextlib.contextmanager
def opened_view(driver: SnapshotDriver, cid: str, chain: list[Layer]) -> Iterator[int]:
    """The container's unified view as an open directory, mounted for the whole read."""
    with driver.view(cid, chain) as path, tree.opened_dir(path) as fd:
        yield fd


def export(driver: SnapshotDriver, cid: str, chain: list[Layer], out: Sink) -> None:
    """``docker export``: the unified view as one flat tar."""
    from ..oci import layertar, ownership  # tarfile: imported by the commands that write one

    owners = ownership.recorder(driver.owner_index(cid, chain))  # unprivileged stores
    with opened_view(driver, cid, chain) as root:
        layertar.write_tree(out, root, owners)


def diff(driver: SnapshotDriver, cid: str, chain: list[Layer]) -> tuple[list[Change], list[str]]:
    """``docker diff``: the read-write layer's changes (sorted) and its opaque directories."""
    return driver.changes(cid, chain)


def layer(driver: SnapshotDriver, cid: str, chain: list[Layer], out: Sink,
          keep_empty: bool = True) -> bool:
    """The read-write layer as an OCI layer tar (``commit``, a build step); False, writing
    nothing, when nothing changed and ``keep_empty`` is off."""
    from ..oci import layertar, ownership

    changes, opaque = diff(driver, cid, chain)
    if not changes and not keep_empty:
        return False
    owners = ownership.recorder(driver.owner_index(cid, chain))  # unprivileged stores
    with tree.opened_dir(driver.source(cid)) as source:
        layertar.write_changes(out, source, changes, opaque, owners)
    return True
