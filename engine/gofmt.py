"""Go's ``fmt`` and ``strconv.Quote``, for text that must read exactly as Go prints it.

Two users need Go's spelling of values byte for byte: Docker's ``--format`` templates
(``printf``, ``print``, ``println`` and how an action prints its value) and the builder's
history lines (``CMD ["sh" "-c" "x"]`` is ``%q`` of a ``[]string``).  Both follow Go
because users compare our output with Docker's, so the rules live here once.

Python values stand in for Go's: dicts for maps, lists and tuples for slices, ``None``
for nil and dataclass instances for structs; anything else prints as its ``str()``, the
way Go prints a Stringer.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import NamedTuple

__all__ = [
    "format_float",
    "format_value",
    "go_quote",
    "go_type",
    "sorted_keys",
    "sprint",
    "sprintf",
    "sprintln",
    "struct_fields",
]

_QUOTE_ESCAPES = {c: "\\" + e for c, e in zip("\a\b\f\n\r\t\v\\", "abfnrtv\\", strict=True)}


def go_quote(text: str, quote: str = '"', ascii_only: bool = False) -> str:
    """strconv.Quote (QuoteRune for quote="'"): Go escapes; printable text is kept."""
    out = []
    for c in text:
        if c == quote:
            out.append("\\" + c)
        elif c in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[c])
        elif c.isprintable() and (c.isascii() or not ascii_only):
            out.append(c)
        elif c < " " or c == "\x7f":
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(f"\\u{ord(c):04x}" if c <= "\uffff" else f"\\U{ord(c):08x}")
    return quote + "".join(out) + quote


# ----------------------------------------------------------------------------- Go's view of values

_GO_TYPES = {
    type(None): "<nil>",
    bool: "bool",
    int: "int",
    float: "float64",
    str: "string",
    list: "[]interface {}",
    tuple: "[]interface {}",
    dict: "map[string]interface {}",
}


def go_type(value: object) -> str:
    """The Go type a Python value stands in for, as %T and Go's messages name it (a dict
    standing for a named struct carries its name in ``go_type``)."""
    named = getattr(value, "go_type", None)
    if isinstance(value, dict) and isinstance(named, str):
        return named
    return _GO_TYPES.get(type(value), type(value).__name__)


def sorted_keys(mapping: dict) -> list:
    """Keys in Go's map order (sorted), tolerating mixed key types."""
    return sorted(mapping, key=lambda key: (type(key).__name__, key))


def struct_fields(value: object) -> dict[str, object] | None:
    """A dataclass instance's fields in declaration order (a Go struct's); None for others."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return None


# ----------------------------------------------------------------------------- verbs


class _Spec(NamedTuple):
    """One printf directive; the default is plain %v."""

    flags: str = ""
    width: int | None = None
    prec: int | None = None
    verb: str = "v"


_PLAIN = _Spec()


def format_value(value: object) -> str:
    """Go's %v, which is also how a template action prints its value."""
    return _fmt(value, _PLAIN)


def _fmt(value: object, spec: _Spec, nested: bool = False) -> str:
    """Format one operand; like Go, containers apply the verb to each element."""
    verb = spec.verb
    if verb == "T":
        return _pad("<nil>" if value is None else go_type(value)[: spec.prec], spec)
    if isinstance(value, list | tuple):
        return "[" + " ".join(_fmt(e, spec, True) for e in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_fmt(k, spec, True)}:{_fmt(value[k], spec, True)}" for k in sorted_keys(value))
        return "map[" + " ".join(pairs) + "]"
    if (fields := struct_fields(value)) is not None:
        return "{" + " ".join(_fmt(v, spec, True) for v in fields.values()) + "}"
    if value is None:
        if verb == "v" or nested:
            return _pad("<nil>", spec, zeros=True)
    elif isinstance(value, bool):
        if verb in "tv":
            return _pad("true" if value else "false", spec, zeros=True)
    elif isinstance(value, int):
        if verb in "bcdoOqxXUv":
            return _fmt_int(value, spec)
    elif isinstance(value, float):
        if verb in "eEfFgGv":
            return _fmt_float(value, spec)
    elif isinstance(value, str):
        if verb in "sqvxX":
            return _fmt_str(value, spec)
    elif verb in "sv":  # any other object: its str(), as Go prints a Stringer
        return _pad(str(value), spec)
    return f"%!{verb}({_bad_operand(value, spec._replace(verb='v'))})"


def _bad_operand(value: object, spec: _Spec = _PLAIN) -> str:
    """Go's type=value note in %!verb(...) and %!(EXTRA ...)."""
    return "<nil>" if value is None else f"{go_type(value)}={_fmt(value, spec)}"


def _pad(text: str, spec: _Spec, zeros: bool = False) -> str:
    """Pad to the width (in characters, as Go counts runes); ``zeros`` obeys the 0 flag."""
    if spec.width is None or "-" in spec.flags:
        return text.ljust(spec.width or 0)
    return text.rjust(spec.width, "0" if zeros and "0" in spec.flags else " ")


def _signed(negative: bool, prefix: str, digits: str, spec: _Spec) -> str:
    """Lay out a number: sign, base prefix, digits; the 0 flag zero-fills after the sign."""
    sign = "-" if negative else "+" if "+" in spec.flags else " " if " " in spec.flags else ""
    if "0" in spec.flags and "-" not in spec.flags and spec.width:
        digits = digits.zfill(spec.width - len(sign))
    return _pad(sign + prefix + digits, spec)


def _fmt_int(n: int, spec: _Spec) -> str:
    verb = spec.verb
    if verb in "cqU":
        char = chr(n) if 0 <= n <= 0x10FFFF and not 0xD800 <= n < 0xE000 else "\ufffd"
        quoted = go_quote(char, "'", "+" in spec.flags)
        code = f"U+{n % 2**64:0{max(4, spec.prec or 0)}X}"  # Go shows negatives as uint64
        return _pad({"c": char, "q": quoted, "U": code}[verb], spec, zeros=True)
    if spec.prec == 0 and n == 0:  # Go prints nothing at all, not even a sign
        return _pad("", spec)
    digits = format(abs(n), {"b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}.get(verb, "d"))
    if spec.prec is not None:  # a minimum digit count, which turns off zero filling
        digits = digits.zfill(spec.prec)
        spec = spec._replace(flags=spec.flags.replace("0", ""))
    prefixes = {"x": "0x", "X": "0X", "o": "0", "b": "0b"}
    prefix = "0o" if verb == "O" else prefixes.get(verb, "") if "#" in spec.flags else ""
    return _signed(n < 0, prefix, digits, spec)


def _fmt_float(f: float, spec: _Spec) -> str:
    if not math.isfinite(f):
        return _pad("NaN" if math.isnan(f) else "+Inf" if f > 0 else "-Inf", spec)
    verb = spec.verb
    if spec.prec is None and verb in "vgG":
        text = format_float(f, "g")
    else:
        prec = 6 if spec.prec is None else spec.prec
        text = format(abs(f), f".{prec}{'g' if verb == 'v' else verb}")
    return _signed(math.copysign(1, f) < 0, "", text.upper() if verb in "EG" else text, spec)


def _fmt_str(s: str, spec: _Spec) -> str:
    if spec.verb in "xX":  # "% x" puts spaces between the bytes
        data = s.encode()[: spec.prec]
        hexed = data.hex(" ") if " " in spec.flags else data.hex()
        return _pad(hexed.upper() if spec.verb == "X" else hexed, spec)
    s = s[: spec.prec]
    return _pad(go_quote(s, '"', "+" in spec.flags) if spec.verb == "q" else s, spec)


def format_float(f: float, form: str, exp_width: int = 2) -> str:
    """strconv.FormatFloat(|f|, form, -1, 64), form "e", "f" or "g": the shortest digits that
    read back as f; ``exp_width`` is the exponent's minimum digit count (encoding/json: 1)."""
    digits, point = _shortest(f)
    exp = point - 1
    if form == "e" or (form == "g" and (exp < -4 or exp >= 6)):
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):0{exp_width}d}"
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _shortest(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of |f| (Python's repr finds them) and the decimal point's
    position: 0.0125 is ("125", -1), 1.5e+20 is ("15", 21)."""
    if f == 0:
        return "0", 1
    mantissa, _, exp = repr(abs(f)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    point = len(whole) + int(exp or 0) - (len(whole) + len(fraction) - len(digits))
    return digits.rstrip("0"), point


# ----------------------------------------------------------------------------- Sprint family

_DIRECTIVE = re.compile(r"%([-+# 0]*)([0-9]*)(?:\.([0-9]*))?(.?)", re.S)


def sprintf(fmt: str, *args: object) -> str:
    """fmt.Sprintf: wrong verbs and argument counts are reported inline, as in Go."""
    used = 0

    def directive(m: re.Match[str]) -> str:
        nonlocal used
        flags, width, prec, verb = m.groups()
        if not verb:
            return "%!(NOVERB)"
        if verb == "%":
            return "%"
        if used == len(args):
            return f"%!{verb}(MISSING)"
        used += 1
        if verb == "v":  # Go reads %+v as "with field names", not as a sign
            flags = flags.replace("+", "")
        precision = None if prec is None else int(prec or 0)
        return _fmt(args[used - 1], _Spec(flags, int(width) if width else None, precision, verb))

    out = _DIRECTIVE.sub(directive, fmt)
    if used < len(args):
        out += "%!(EXTRA " + ", ".join(map(_bad_operand, args[used:])) + ")"
    return out


def sprint(*args: object) -> str:
    """fmt.Sprint: a space goes between operands when neither is a string."""
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(format_value(arg))
    return "".join(out)


def sprintln(*args: object) -> str:
    """fmt.Sprintln: operands always space-separated, then a newline."""
    return " ".join(map(format_value, args)) + "\n"
