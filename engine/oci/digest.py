"""OCI digests and IDs: sha256 digests, short IDs, the chainID rule."""

from __future__ import annotations

import re

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    import hashlib  # OpenSSL's: loaded by the commands that hash, not by every start

    return hashlib.sha256(data).hexdigest()


def digest(data: bytes) -> str:
    return "sha256:" + sha256_hex(data)


def strip_algo(ident: str) -> str:
    return ident.split(":", 1)[1] if ident.startswith("sha256:") else ident


def short(ident: str) -> str:
    """The 12-hex form Docker shows by default."""
    return strip_algo(ident)[:12]


def chain_id(parent: str, diff_id: str) -> str:
    """The OCI ChainID rule: ChainID(L0) = DiffID(L0);
    ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    return digest(f"{parent} {diff_id}".encode()) if parent else diff_id


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The ChainIDs of a whole stack of layers, bottom first."""
    out: list[str] = []
    for d in diff_ids:
        out.append(chain_id(out[-1] if out else "", d))
    return out
