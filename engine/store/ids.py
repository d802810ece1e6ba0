"""Object IDs as the only names the stores ever turn into paths.

Image IDs, chainIDs and blob digests reach the stores from untrusted places (an archive's
``manifest.json`` ``Parent``, a registry's manifest, a config's ``diff_ids``). A store
joins one to a directory only after it proved to be a sha256 digest, so
``sha256:../../..`` names no path at all.
"""

from __future__ import annotations

from ..errors import InvalidArgument
from ..oci.digest import HEX64


def is_digest(ident: object) -> bool:
    """``sha256:<64 hex>`` or the bare 64 hex digits."""
    if not isinstance(ident, str):
        return False
    return bool(HEX64.match(ident[7:] if ident.startswith("sha256:") else ident))


def hex_of(ident: str, what: str) -> str:
    """The 64 hex digits of a sha256 ID, or InvalidArgument naming ``what`` it was."""
    if not is_digest(ident):
        raise InvalidArgument(f"invalid {what} {ident!r}: not a sha256 digest")
    return ident[7:] if ident.startswith("sha256:") else ident
