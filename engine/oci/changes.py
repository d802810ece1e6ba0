"""A change in a read-write layer or a layer tar, as ``docker diff`` lists it (S4)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """One entry of ``docker diff``: A(dded), C(hanged) or D(eleted), path absolute."""

    kind: str
    path: str
