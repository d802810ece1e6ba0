"""The values of literal tokens: Go's strconv.Unquote and its number syntax.

Both raise ValueError with Go's message; the parser turns it into a TemplateError that
carries the line.
"""

from __future__ import annotations

import re

from ..gofmt import go_quote

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_LEGACY_OCTAL = re.compile(r"[+-]?0[0-7_]+")


def unquote(token: str) -> str:
    """strconv.Unquote for "...", '...' and `...` literals (ValueError if malformed)."""
    quote, body = token[0], token[1:-1]
    if quote == "`":
        return body.replace("\r", "")

    def escape(m: re.Match[str]) -> str:
        e = m.group(1)
        if e in _ESCAPES:
            return _ESCAPES[e]
        if e in ("\\", quote):
            return e
        if len(e) == 1:
            raise ValueError("invalid syntax")
        code = int(e, 8) if e[0] in "01234567" else int(e[1:], 16)
        if code > 0x10FFFF or 0xD800 <= code < 0xE000 or (code > 255 and e[0] in "01234567"):
            raise ValueError("invalid syntax")
        return chr(code)

    return _ESCAPE.sub(escape, body)


def number(text: str) -> int | float:
    """A number literal: int when Go's ParseInt accepts it, else float."""
    try:
        return int(text, 8 if _LEGACY_OCTAL.fullmatch(text) else 0)
    except ValueError:
        pass
    hexadecimal = text.lstrip("+-")[:2] in ("0x", "0X")
    try:
        if hexadecimal and "p" not in text.lower():
            raise ValueError(text)  # Go wants a p exponent on a hex fraction
        value = float.fromhex(text) if hexadecimal else float(text)
    except ValueError:
        raise ValueError(f"illegal number syntax: {go_quote(text)}") from None
    if not any(c in text for c in ".eEpP"):  # e.g. "08": not octal, yet no float syntax
        raise ValueError(f"integer overflow: {go_quote(text)}")
    return value
