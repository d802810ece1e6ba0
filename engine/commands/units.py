"""Flag values as the Docker CLI parses them: ``-m 32m`` (go-units ``RAMInBytes``: binary
units), ``--memory-swap -1``, ``--cpus 0.5`` (``NanoCPUs``: an exact decimal), ``--ulimit``.
Errors are raised as ValueError with the CLI's words; the grammar wraps them in pflag's
``invalid argument "…" for "…" flag: …``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from ..errors import InvalidArgument

_RAM = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_BINARY = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(text: str) -> int:
    """``32m`` → 33554432; ``1.5g``, ``512k``, ``100`` (bytes), ``64MiB``, ``64mb``."""
    m = _RAM.match(text)
    if not m:
        raise ValueError(f"invalid size: '{text}'")
    try:
        number = float(m[1])
    except ValueError:
        raise ValueError(f"invalid size: '{text}'") from None
    return int(number * _BINARY[(m[2] or "").lower()])


def swap_bytes(text: str) -> int:
    """``--memory-swap``: a size, or -1 for unlimited swap."""
    return -1 if text == "-1" else ram_in_bytes(text)


def nano_cpus(text: str) -> int:
    """``--cpus 1.5`` → 1500000000, refusing what is not an exact number of nanoCPUs."""
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    nano = value * 10**9
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


def ulimit(text: str) -> object:
    from ..runtime import ulimits

    try:
        return ulimits.parse(text)
    except InvalidArgument as e:
        raise ValueError(str(e)) from None


PARSERS: dict[str, Callable[[str], object]] = {
    "bytes": ram_in_bytes, "swap": swap_bytes, "cpus": nano_cpus, "int": integer,
    "ulimit": ulimit,
}
