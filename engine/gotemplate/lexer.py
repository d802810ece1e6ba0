"""Go's template lexer: source text to tokens, trimming at ``{{- `` and `` -}}``.

Lexing errors do not raise: they end the token list with an "error" token, so that the
parser reports them in source order, after any syntax error that comes earlier.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ..gofmt import go_quote


class Tok(NamedTuple):
    kind: str  # "text", "left", "right", "space", "field", "var", "ident", a keyword, ...
    val: str
    pos: int  # offset in the template, for error locations


_SPACE_CHARS = " \t\r\n"
_SPACES = frozenset(_SPACE_CHARS)
KEYWORDS = frozenset({"if", "else", "end", "range", "with", "nil"})
OPERAND_KINDS = frozenset(
    {"bool", "charconst", "dot", "field", "ident", "lparen", "nil", "number", "rawstring"}
    | {"string", "var"}
)
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]*)?"
    r"|0[oO][0-7_]*(?:\.[0-7_]*)?|0[bB][01_]*(?:\.[01_]*)?"
    r"|[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]*)?)i?"  # a trailing i: Go's imaginary
)
_QUOTED = {q: re.compile(rf"{q}(?:[^{q}\\\n]|\\[^\n])*{q}") for q in "\"'"}


def line_of(text: str, pos: int) -> int:
    """The 1-based line of an offset, as Go's messages give it."""
    return text.count("\n", 0, pos) + 1


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def _rune(c: str) -> str:
    """Go's %#U, e.g. U+0040 '@'."""
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


class _LexError(Exception):
    """Stops lexing; becomes an error token so errors surface in source order."""


class Lexer:
    """Go's template lexer: text and action tokens, trimming at ``{{- `` and `` -}}``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks: list[Tok] = []
        self.action = -1  # offset of the open "{{", for "... started at" messages

    def run(self) -> list[Tok]:
        try:
            self.lex()
        except _LexError as err:
            msg, pos = err.args
            line = line_of(self.text, self.action)
            if self.action >= 0 and line != line_of(self.text, pos):  # a multi-line action
                where = "started at" if msg.endswith(" action") else "in action started at"
                msg += f" {where} :{line}"
            self.toks.append(Tok("error", msg, pos))
        return self.toks

    def lex(self) -> None:
        text, pos = self.text, 0
        while (start := text.find("{{", pos)) >= 0:
            trim = text[start + 2 : start + 3] == "-" and text[start + 3 : start + 4] in _SPACES
            chunk = text[pos:start].rstrip(_SPACE_CHARS) if trim else text[pos:start]
            if chunk:
                self.toks.append(Tok("text", chunk, pos))
            inner = start + 4 if trim else start + 2
            if text.startswith("/*", inner):
                end = text.find("*/", inner + 2)
                if end < 0:
                    raise _LexError("unclosed comment", inner)
                if not (size := self.right_delim(end + 2)):
                    raise _LexError("comment ends before closing delimiter", inner)
                pos = self.after_delim(end + 2, size)
                continue
            self.toks.append(Tok("left", "{{", start))
            self.action = start
            pos = self.inside_action(inner)
            self.action = -1
        if pos < len(text):
            self.toks.append(Tok("text", text[pos:], pos))
        self.toks.append(Tok("eof", "", len(text)))

    def right_delim(self, p: int) -> int:
        """Length of a closing delimiter at p: 4 for " -}}", 2 for "}}", 0 if none."""
        if self.text[p : p + 1] in _SPACES and self.text.startswith("-}}", p + 1):
            return 4
        return 2 if self.text.startswith("}}", p) else 0

    def after_delim(self, p: int, size: int) -> int:
        """Offset past a closing delimiter; " -}}" also eats the whitespace after it."""
        p += size
        return len(self.text) - len(self.text[p:].lstrip(_SPACE_CHARS)) if size == 4 else p

    def inside_action(self, p: int) -> int:
        depth = 0
        while True:
            if size := self.right_delim(p):
                if depth:
                    raise _LexError("unclosed left paren", p)
                self.toks.append(Tok("right", "}}", p + size - 2))
                return self.after_delim(p, size)
            if p >= len(self.text):
                raise _LexError("unclosed action", p)
            kind, end = self.token(p)
            depth += {"lparen": 1, "rparen": -1}.get(kind, 0)
            if depth < 0:
                raise _LexError("unexpected right paren", p)
            self.toks.append(Tok(kind, self.text[p:end], p))
            p = end

    def token(self, p: int) -> tuple[str, int]:
        """Kind and end offset of the token starting at p inside an action."""
        text, c = self.text, self.text[p]
        if c in _SPACES:  # a run of spaces, leaving the one that starts " -}}"
            end = len(text) - len(text[p:].lstrip(_SPACE_CHARS))
            return "space", end - 1 if text.startswith("-}}", end) else end
        if c in "=|()":
            return {"=": "assign", "|": "pipe", "(": "lparen", ")": "rparen"}[c], p + 1
        if c == ":":
            if not text.startswith("=", p + 1):
                raise _LexError("expected :=", p)
            return "declare", p + 2
        if c in "\"'":
            if not (m := _QUOTED[c].match(text, p)):
                kind = "quoted string" if c == '"' else "character constant"
                raise _LexError(f"unterminated {kind}", p)
            return ("string" if c == '"' else "charconst"), m.end()
        if c == "`":
            if (end := text.find("`", p + 1)) < 0:
                raise _LexError("unterminated raw quoted string", p)
            return "rawstring", end + 1
        if c == "$":
            return "var", self.word(p + 1, p)
        if c == "." and p + 1 < len(text) and not "0" <= text[p + 1] <= "9":
            end = self.word(p + 1, p)
            return ("dot" if end == p + 1 else "field"), end
        if c in "+-." or "0" <= c <= "9":
            return "number", self.number(p)
        if _is_alnum(c):
            end = self.word(p, p)
            word = text[p:end]
            if word in KEYWORDS:
                return word, end
            return ("bool" if word in ("true", "false") else "ident"), end
        if c <= "\x7f" and c.isprintable():
            return "char", p + 1  # punctuation such as ","; the parser decides
        raise _LexError(f"unrecognized character in action: {_rune(c)}", p)

    def word(self, p: int, start: int) -> int:
        """End of an identifier at p; Go demands a terminator right after it."""
        text = self.text
        while p < len(text) and _is_alnum(text[p]):
            p += 1
        c = text[p : p + 1]
        if c and c not in _SPACES and c not in ".,|:()" and not text.startswith("}}", p):
            raise _LexError(f"bad character {_rune(c)}", start)
        return p

    def number(self, p: int) -> int:
        end, ok = self.scan_number(p)
        if ok and self.text[end : end + 1] in ("+", "-"):  # Go reads "1+2" as a complex literal
            end, ok = self.scan_number(end)[0], False
        if not ok:
            raise _LexError(f"bad number syntax: {go_quote(self.text[p:end])}", p)
        return end

    def scan_number(self, p: int) -> tuple[int, bool]:
        """End of a number at p, and False if a letter sticks to it (which Go includes)."""
        match = _NUMBER.match(self.text, p)
        assert match is not None  # every part of the pattern is optional: it matches ""
        end = match.end()
        if end < len(self.text) and _is_alnum(self.text[end]):
            return end + 1, False
        return end, True
