"""The functions a template can call: Go's builtins and Docker's additions.

Each entry in ``FUNCS`` declares its Go parameter types, so the executor can check and
convert arguments (and word type errors) as Go's reflection-based calls do.  A function
signals failure with CallError; the executor adds Go's "error calling NAME:" prefix.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from typing import NamedTuple

from ..gofmt import format_float, format_value, go_type, sprint, sprintf, sprintln, struct_fields
from .errors import CallError
from .values import MISSING, GoStruct, truth

_BASIC_KINDS = {bool: "bool", int: "int", float: "float", str: "string"}


def _json(value: object) -> str:
    """Docker's json helper; like Docker it prints nothing if encoding fails."""
    try:
        return _to_json(value)
    except CallError:
        return ""


def _to_json(value: object) -> str:
    """encoding/json compact output; dicts (Docker's structs) keep their key order."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CallError(f"json: unsupported value: {format_value(value)}")
        small_or_huge = value and not 1e-6 <= abs(value) < 1e21
        text = format_float(value, "e" if small_or_huge else "f", exp_width=1)
        return ("-" if math.copysign(1, value) < 0 else "") + text
    if isinstance(value, str):
        encoded = json.dumps(value, ensure_ascii=False)  # no HTML escaping, as Docker sets
        return encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, list | tuple):
        return "[" + ",".join(map(_to_json, value)) + "]"
    if (fields := struct_fields(value)) is not None:
        value = fields
    if isinstance(value, GoStruct):
        items = (f"{_to_json(k)}:{_to_json(v)}" for k, v in value.json_items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, dict):
        items = (f"{_to_json(format_value(k))}:{_to_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    raise CallError(f"json: unsupported type: {go_type(value)}")


def _len(value: object) -> int:
    if value is None:
        raise CallError("len of nil pointer")
    if isinstance(value, str):
        return len(value.encode())  # Go counts bytes
    if isinstance(value, list | tuple | dict):
        return len(value)
    raise CallError(f"len of type {go_type(value)}")


def _index_arg(index: object, cap: int) -> int:
    if index is None:
        raise CallError("cannot index slice/array with nil")
    if type(index) is not int:
        raise CallError(f"cannot index slice/array with type {go_type(index)}")
    if not 0 <= index <= cap:
        raise CallError(f"index out of range: {index}")
    return index


def _index(item: object, *keys: object) -> object:
    """index X a b is X[a][b]; strings index to bytes, absent map keys to <no value>."""
    if item is None:
        raise CallError("index of untyped nil")
    for key in keys:
        if item is None or item is MISSING:
            raise CallError("index of nil pointer")
        if isinstance(item, dict):
            if key is None:
                raise CallError("value is nil; should be of type string")
            if not isinstance(key, str):
                raise CallError(f"value has type {go_type(key)}; should be string")
            item = item.get(key, MISSING)
        elif isinstance(item, str | list | tuple):
            seq = item.encode() if isinstance(item, str) else item
            if (i := _index_arg(key, len(seq))) == len(seq):
                kind = "string" if isinstance(item, str) else "slice"
                raise CallError(f"reflect: {kind} index out of range")
            item = seq[i]
        else:
            raise CallError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: object, *bounds: object) -> object:
    """slice X i j is X[i:j] (bytes for strings), with Go's bounds checks."""
    if item is None:
        raise CallError("slice of untyped nil")
    if len(bounds) > 3:
        raise CallError(f"too many slice indexes: {len(bounds)}")
    if isinstance(item, str):
        if len(bounds) == 3:
            raise CallError("cannot 3-index slice a string")
        seq: bytes | list | tuple = item.encode()
    elif isinstance(item, list | tuple):
        seq = item
    else:
        raise CallError(f"can't slice item of type {go_type(item)}")
    idx = [_index_arg(b, len(seq)) for b in bounds] + [0, len(seq)][len(bounds) :]
    for low, high in itertools.pairwise(idx):
        if low > high:
            raise CallError(f"invalid slice index: {low} > {high}")
    part = seq[idx[0] : idx[1]]
    return part.decode(errors="replace") if isinstance(part, bytes) else list(part)


def _eq(a: object, *others: object) -> bool:
    """eq a b c is a == b || a == c, with Go's rules on comparable kinds."""
    if not others:
        raise CallError("missing argument for comparison")
    kind = _BASIC_KINDS.get(type(a))
    for b in others:
        if kind != _BASIC_KINDS.get(type(b)):
            if a is not None and b is not None:
                raise CallError(f"incompatible types for comparison: {go_type(a)} and {go_type(b)}")
            continue  # nil never equals a basic value
        if kind is None and a is not None and b is not None:  # containers and structs
            if type(a) is not type(b):
                a_str, b_str = format_value(a), format_value(b)
                raise CallError(
                    f"non-comparable types {a_str}: {go_type(a)}, {go_type(b)}: {b_str}"
                )
            if isinstance(b, list | tuple | dict):
                raise CallError(f"non-comparable type {format_value(b)}: {go_type(b)}")
        if a == b:
            return True
    return False


def _lt(a: object, b: object) -> bool:
    kind_a, kind_b = _BASIC_KINDS.get(type(a)), _BASIC_KINDS.get(type(b))
    if kind_a is None or kind_b is None:
        raise CallError("invalid type for comparison")
    if kind_a != kind_b:
        raise CallError(f"incompatible types for comparison: {go_type(a)} and {go_type(b)}")
    if isinstance(a, str) and isinstance(b, str):
        return a < b
    if isinstance(a, bool) or not isinstance(a, int | float) or not isinstance(b, int | float):
        raise CallError("invalid type for comparison")  # Go does not order bools
    return a < b


def _le(a: object, b: object) -> bool:
    return _lt(a, b) or _eq(a, b)


def _map_runes(s: str, case: Callable[[str], str]) -> str:
    """Change case rune by rune as Go does: "ß" has no one-rune upper case, so it stays."""
    return "".join(mapped if len(mapped := case(c)) == 1 else c for c in s)


def _title(s: str) -> str:
    """strings.Title: upper-case the first letter of each word, leave the rest."""
    out, prev_sep = [], True
    for c in s:
        out.append(_map_runes(c, str.title) if prev_sep else c)
        if c.isascii():
            prev_sep = not (c.isalnum() or c == "_")
        else:
            prev_sep = not (c.isalpha() or c.isdecimal()) and c.isspace()
    return "".join(out)


def _split(s: str, sep: str) -> list[str]:
    return list(s) if sep == "" else s.split(sep)


def _pad_words(s: str, left: int, right: int) -> str:
    """Docker's pad: surround non-empty text with spaces."""
    if not s:
        return s
    if left < 0 or right < 0:
        raise CallError("strings: negative Repeat count")
    return " " * left + s + " " * right


def _truncate(s: str, length: int) -> str:
    """Docker's truncate: at most ``length`` bytes (never splitting a character)."""
    data = s.encode()
    if len(data) < length:
        return s
    if length < 0:
        raise CallError(f"runtime error: slice bounds out of range [:{length}]")
    return data[:length].decode(errors="ignore")


class Func(NamedTuple):
    """A function's implementation and its Go signature, which the executor enforces."""

    impl: Callable[..., object] | None  # None for and/or, which the evaluator runs lazily
    params: tuple[str, ...]  # "any", "str", "int" or "strs"; the last repeats if variadic
    variadic: bool = False

    def param(self, i: int) -> str:
        return self.params[min(i, len(self.params) - 1)]


PARAM_TYPES: dict[str, tuple[str, Callable[[object], bool]]] = {
    "str": ("string", lambda v: isinstance(v, str)),
    "int": ("int", lambda v: type(v) is int),
    "strs": ("[]string", lambda v: isinstance(v, list | tuple) and all(type(e) is str for e in v)),
}
_ANY2 = ("any", "any")
FUNCS: dict[str, Func] = {
    # Go's builtins
    "and": Func(None, _ANY2, variadic=True),
    "or": Func(None, _ANY2, variadic=True),
    "not": Func(lambda v: not truth(v), ("any",)),
    "len": Func(_len, ("any",)),
    "index": Func(_index, _ANY2, variadic=True),
    "slice": Func(_slice, _ANY2, variadic=True),
    "eq": Func(_eq, _ANY2, variadic=True),
    "ne": Func(lambda a, b: not _eq(a, b), _ANY2),
    "lt": Func(_lt, _ANY2),
    "le": Func(_le, _ANY2),
    "gt": Func(lambda a, b: not _le(a, b), _ANY2),
    "ge": Func(lambda a, b: not _lt(a, b), _ANY2),
    "print": Func(sprint, ("any",), variadic=True),
    "printf": Func(sprintf, ("str", "any"), variadic=True),
    "println": Func(sprintln, ("any",), variadic=True),
    # Docker's additions (docker/cli templates.basicFunctions)
    "json": Func(_json, ("any",)),
    "split": Func(_split, ("str", "str")),
    "join": Func(lambda items, sep: sep.join(items), ("strs", "str")),
    "title": Func(_title, ("str",)),
    "lower": Func(lambda s: _map_runes(s, str.lower), ("str",)),
    "upper": Func(lambda s: _map_runes(s, str.upper), ("str",)),
    "pad": Func(_pad_words, ("str", "int", "int")),
    "truncate": Func(_truncate, ("str", "int")),
}
