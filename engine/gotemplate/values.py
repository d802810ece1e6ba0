"""What Go's template evaluation makes of Python data beyond printing it (``..gofmt`` prints).

A missing dict key is Go's "invalid value": it prints as ``<no value>`` and becomes nil
when passed to a function, so it needs a marker distinct from ``None`` (nil).
"""

from __future__ import annotations


class _Missing:
    """Go's invalid value: what reading an absent map key yields."""


MISSING = _Missing()


def truth(value: object) -> bool:
    """Go's truth: false, 0, nil, missing and empty are false; structs are true."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool | int | float | str | list | tuple | dict):
        return bool(value)
    return True
