"""Go ``text/template`` subset for Docker-style ``--format`` strings.

Docker renders ``docker ps/images/inspect/history --format`` with Go's
text/template plus a few helpers (``json``, ``join``, ``upper`` ...).  People
copy those strings from Docker's docs and from their own scripts, so this
module follows Go's syntax, value formatting and error wording instead of
inventing a dialect of its own.

Data is plain Python: dicts stand in for Go maps and structs, lists for
slices and ``None`` for nil; attributes of other objects (dataclasses) are
reachable as fields.  A missing dict key is Go's "invalid value": it prints
as ``<no value>`` and becomes nil when passed to a function.

Not supported: ``define``/``template``/``block``, ``break``/``continue``,
method calls, complex numbers and the ``html``/``js``/``urlquery``/``call``
builtins.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import NamedTuple, NoReturn

__all__ = ["Template", "TemplateError", "parse", "split_table"]


class TemplateError(ValueError):
    """Bad template syntax or a failed execution, worded like Go's errors."""


class _Missing:
    """Go's invalid value: what reading an absent map key yields."""


_MISSING = _Missing()
_NO_FINAL = object()  # nothing piped in (Go's missingVal); unlike _MISSING, never a value


def split_table(text: str) -> tuple[bool, str]:
    """Split Docker's ``table`` prefix off a format string, as the docker CLI does.

    Docker also trims spaces and turns the two-character sequences ``\\t`` and
    ``\\n`` (easy to type in a shell, unlike a real tab) into tab and newline.
    """
    is_table = text.startswith("table")
    if is_table:
        text = text[len("table") :]
    return is_table, text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def parse(text: str) -> Template:
    """Parse a template; raises TemplateError worded like Go's parser."""
    return Template(text, _Parser(text).parse())


class Template:
    """A parsed template, rendered once per object (e.g. per container row)."""

    def __init__(self, text: str, nodes: list[_Item]) -> None:
        self._text = text
        self._nodes = nodes

    def render(self, data: object) -> str:
        """Execute against ``data``; raises TemplateError like Go's Execute."""
        out: list[str] = []
        _Exec(self._text, data).walk(data, self._nodes, out)
        return "".join(out)


# ----------------------------------------------------------------------------- lexer


class _Tok(NamedTuple):
    kind: str  # "text", "left", "right", "space", "field", "var", "ident", a keyword, ...
    val: str
    pos: int  # offset in the template, for error locations


_SPACE_CHARS = " \t\r\n"
_SPACES = frozenset(_SPACE_CHARS)
_KEYWORDS = frozenset({"if", "else", "end", "range", "with", "nil"})
_OPERAND_KINDS = frozenset(
    {"bool", "charconst", "dot", "field", "ident", "lparen", "nil", "number", "rawstring"}
    | {"string", "var"}
)
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]*)?"
    r"|0[oO][0-7_]*(?:\.[0-7_]*)?|0[bB][01_]*(?:\.[01_]*)?"
    r"|[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]*)?)i?"  # a trailing i: Go's imaginary
)
_QUOTED = {q: re.compile(rf"{q}(?:[^{q}\\\n]|\\[^\n])*{q}") for q in "\"'"}


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def _rune(c: str) -> str:
    """Go's %#U, e.g. U+0040 '@'."""
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


class _LexError(Exception):
    """Stops lexing; becomes an error token so errors surface in source order."""


class _Lexer:
    """Go's template lexer: text and action tokens, trimming at ``{{- `` and `` -}}``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks: list[_Tok] = []
        self.action = -1  # offset of the open "{{", for "... started at" messages

    def run(self) -> list[_Tok]:
        try:
            self.lex()
        except _LexError as err:
            msg, pos = err.args
            line = _line(self.text, self.action)
            if self.action >= 0 and line != _line(self.text, pos):  # a multi-line action
                where = "started at" if msg.endswith(" action") else "in action started at"
                msg += f" {where} :{line}"
            self.toks.append(_Tok("error", msg, pos))
        return self.toks

    def lex(self) -> None:
        text, pos = self.text, 0
        while (start := text.find("{{", pos)) >= 0:
            trim = text[start + 2 : start + 3] == "-" and text[start + 3 : start + 4] in _SPACES
            chunk = text[pos:start].rstrip(_SPACE_CHARS) if trim else text[pos:start]
            if chunk:
                self.toks.append(_Tok("text", chunk, pos))
            inner = start + 4 if trim else start + 2
            if text.startswith("/*", inner):
                end = text.find("*/", inner + 2)
                if end < 0:
                    raise _LexError("unclosed comment", inner)
                if not (size := self.right_delim(end + 2)):
                    raise _LexError("comment ends before closing delimiter", inner)
                pos = self.after_delim(end + 2, size)
                continue
            self.toks.append(_Tok("left", "{{", start))
            self.action = start
            pos = self.inside_action(inner)
            self.action = -1
        if pos < len(text):
            self.toks.append(_Tok("text", text[pos:], pos))
        self.toks.append(_Tok("eof", "", len(text)))

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
                self.toks.append(_Tok("right", "}}", p + size - 2))
                return self.after_delim(p, size)
            if p >= len(self.text):
                raise _LexError("unclosed action", p)
            kind, end = self.token(p)
            depth += {"lparen": 1, "rparen": -1}.get(kind, 0)
            if depth < 0:
                raise _LexError("unexpected right paren", p)
            self.toks.append(_Tok(kind, self.text[p:end], p))
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
            if word in _KEYWORDS:
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
        end = _NUMBER.match(self.text, p).end()  # the pattern may match "", so never None
        if end < len(self.text) and _is_alnum(self.text[end]):
            return end + 1, False
        return end, True


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_LEGACY_OCTAL = re.compile(r"[+-]?0[0-7_]+")


def _unquote(token: str) -> str:
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


def _number(text: str) -> int | float:
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


# ----------------------------------------------------------------------------- parse tree


@dataclasses.dataclass(slots=True)
class _Text:
    text: str


@dataclasses.dataclass(slots=True)
class _Dot:
    pos: int

    def __str__(self) -> str:
        return "."


@dataclasses.dataclass(slots=True)
class _Nil:
    pos: int

    def __str__(self) -> str:
        return "nil"


@dataclasses.dataclass(slots=True)
class _Literal:
    pos: int
    text: str  # the source spelling, as Go shows it in messages
    value: object

    def __str__(self) -> str:
        return self.text


@dataclasses.dataclass(slots=True)
class _Field:
    pos: int
    names: list[str]

    def __str__(self) -> str:
        return "".join("." + name for name in self.names)


@dataclasses.dataclass(slots=True)
class _Var:
    pos: int
    name: str
    fields: list[str]

    def __str__(self) -> str:
        return self.name + "".join("." + name for name in self.fields)


@dataclasses.dataclass(slots=True)
class _Ident:
    pos: int
    name: str

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(slots=True)
class _Chain:
    """Fields read off a parenthesised pipeline or function result: (index .M "k").Name."""

    pos: int
    node: _Operand
    fields: list[str]

    def __str__(self) -> str:
        return _arg_str(self.node) + "".join("." + name for name in self.fields)


@dataclasses.dataclass(slots=True)
class _Command:
    pos: int
    args: list[_Operand]

    def __str__(self) -> str:
        return " ".join(map(_arg_str, self.args))


@dataclasses.dataclass(slots=True)
class _Pipe:
    pos: int
    decl: list[str]
    is_assign: bool
    cmds: list[_Command]

    def __str__(self) -> str:
        head = ", ".join(self.decl) + (" = " if self.is_assign else " := ") if self.decl else ""
        return head + " | ".join(map(str, self.cmds))


@dataclasses.dataclass(slots=True)
class _Action:
    pipe: _Pipe


@dataclasses.dataclass(slots=True)
class _Branch:
    kind: str  # "if", "range" or "with"
    pipe: _Pipe
    body: list[_Item]
    orelse: list[_Item] | None


_Operand = _Dot | _Nil | _Literal | _Field | _Var | _Ident | _Chain | _Pipe
_Item = _Text | _Action | _Branch


def _arg_str(node: _Operand) -> str:
    """How Go prints an operand back: a sub-pipeline goes in parentheses."""
    return f"({node})" if isinstance(node, _Pipe) else str(node)


def _last_operand(node: _Operand) -> _Operand:
    """The operand Go evaluated last, which its errors blame, e.g. .Z in (and .Y .Z)."""
    while isinstance(node, _Pipe):
        node = node.cmds[-1].args[-1]
    return node


def _describe(tok: _Tok) -> str:
    """Go's rendering of a token in "unexpected ..." messages."""
    if tok.kind == "eof":
        return "EOF"
    if tok.kind in _KEYWORDS or tok.kind == "dot":
        return f"<{tok.val}>"
    return go_quote(tok.val[:10]) + "..." if len(tok.val) > 10 else go_quote(tok.val)


# ----------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent that mirrors Go's text/template/parse, messages included."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _Lexer(text).run()
        self.i = 0
        self.far = 0  # furthest token looked at: Go reports its line in parse errors
        self.vars = ["$"]

    def error(self, msg: str) -> NoReturn:
        raise TemplateError(f"template: :{_line(self.text, self.toks[self.far].pos)}: {msg}")

    def peek(self) -> _Tok:
        self.far = max(self.far, min(self.i, len(self.toks) - 1))
        return self.toks[min(self.i, len(self.toks) - 1)]

    def next(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        if tok.kind == "error":
            self.error(tok.val)
        return tok

    def peek_non_space(self) -> _Tok:
        while self.peek().kind == "space":
            self.i += 1
        return self.peek()

    def next_non_space(self) -> _Tok:
        self.peek_non_space()
        return self.next()

    def unexpected(self, tok: _Tok, context: str) -> NoReturn:
        self.error(f"unexpected {_describe(tok)} in {context}")

    def expect_right(self, context: str) -> None:
        if (tok := self.next_non_space()).kind != "right":
            self.unexpected(tok, context)

    def parse(self) -> list[_Item]:
        nodes: list[_Item] = []
        while self.peek().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, str):
                self.error(f"unexpected {node}")
            nodes.append(node)
        return nodes

    def item_list(self) -> tuple[list[_Item], str]:
        """Items up to the "{{end}}" or "{{else}}" that closes them."""
        nodes: list[_Item] = []
        while self.peek_non_space().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, str):
                return nodes, node
            nodes.append(node)
        self.error("unexpected EOF")

    def text_or_action(self) -> _Item | str:
        """A node, or the marker string "{{end}}" / "{{else}}"."""
        tok = self.next_non_space()
        if tok.kind == "text":
            return _Text(tok.val)
        if tok.kind != "left":
            self.unexpected(tok, "input")
        tok = self.next_non_space()
        if tok.kind in ("if", "range", "with"):
            return self.control(tok.kind)
        if tok.kind == "end":
            self.expect_right("end")
            return "{{end}}"
        if tok.kind == "else":
            if self.peek_non_space().kind not in ("if", "with"):  # else if / else with
                self.expect_right("else")
            return "{{else}}"
        self.i -= 1
        return _Action(self.pipeline("command", "right"))

    def control(self, kind: str) -> _Branch:
        mark = len(self.vars)  # variables declared inside die at {{end}}
        pipe = self.pipeline(kind, "right")
        body, end = self.item_list()
        orelse = None
        if end == "{{else}}":
            if kind != "range" and self.peek().kind == kind:  # {{else if}}: a nested branch
                self.next()
                orelse = [self.control(kind)]
            else:
                orelse, end = self.item_list()
                if end != "{{end}}":
                    self.error(f"expected end; found {end}")
        del self.vars[mark:]
        return _Branch(kind, pipe, body, orelse)

    def pipeline(self, context: str, end: str) -> _Pipe:
        pipe = _Pipe(self.peek_non_space().pos, [], False, [])
        self.declarations(pipe, context)
        while (tok := self.next_non_space()).kind != end:
            if tok.kind not in _OPERAND_KINDS:
                self.unexpected(tok, context)
            self.i -= 1
            pipe.cmds.append(self.command())
        if not pipe.cmds:
            self.error(f"missing value for {context}")
        for stage, cmd in enumerate(pipe.cmds[1:], 2):
            if isinstance(cmd.args[0], _Literal | _Dot | _Nil):
                self.error(f"non executable command in pipeline stage {stage}")
        return pipe

    def declarations(self, pipe: _Pipe, context: str) -> None:
        """Variables a pipeline sets: $x := ..., $x = ... or (range only) $i, $e := ..."""
        while (var := self.peek_non_space()).kind == "var":
            start = self.i
            self.next()
            after = self.peek_non_space()
            comma = after.kind == "char" and after.val == ","
            if not comma and after.kind not in ("declare", "assign"):
                self.i = start  # just a variable used as an operand
                return
            self.next()
            pipe.decl.append(var.val)
            self.vars.append(var.val)
            if not comma:
                pipe.is_assign = after.kind == "assign"
                return
            if context != "range" or len(pipe.decl) > 1:
                self.error(f"too many declarations in {context}")
            if self.peek_non_space().kind not in ("var", "right", "rparen"):
                self.error("range can only initialize variables")

    def command(self) -> _Command:
        """Space-separated operands, ending before "}}" or ")" or after "|"."""
        cmd = _Command(self.peek_non_space().pos, [])
        while True:
            if (operand := self.operand()) is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.kind == "space":
                continue
            if tok.kind in ("right", "rparen"):
                self.i -= 1
            elif tok.kind != "pipe":
                self.unexpected(tok, "operand")
            return cmd

    def operand(self) -> _Operand | None:
        """A term, possibly followed by .Field accesses."""
        node = self.term()
        if node is None or self.peek().kind != "field":
            return node
        pos, fields = self.peek().pos, []
        while self.peek().kind == "field":
            fields.append(self.next().val[1:])
        if isinstance(node, _Field):
            return _Field(pos, node.names + fields)
        if isinstance(node, _Var):
            return _Var(pos, node.name, node.fields + fields)
        if isinstance(node, _Literal | _Nil | _Dot):
            self.error(f"unexpected . after term {go_quote(str(node))}")
        return _Chain(pos, node, fields)

    def term(self) -> _Operand | None:
        tok = self.peek_non_space()
        if tok.kind not in _OPERAND_KINDS:
            return None
        self.next()
        if tok.kind == "ident":
            if tok.val not in _FUNCS:
                self.error(f"function {go_quote(tok.val)} not defined")
            return _Ident(tok.pos, tok.val)
        if tok.kind == "var":
            if tok.val not in self.vars:
                self.error(f"undefined variable {go_quote(tok.val)}")
            return _Var(tok.pos, tok.val, [])
        if tok.kind == "lparen":
            return self.pipeline("parenthesized pipeline", "rparen")
        if tok.kind == "dot":
            return _Dot(tok.pos)
        if tok.kind == "nil":
            return _Nil(tok.pos)
        if tok.kind == "field":
            return _Field(tok.pos, [tok.val[1:]])
        return _Literal(tok.pos, tok.val, self.constant(tok))

    def constant(self, tok: _Tok) -> object:
        """Value of a bool, number, character or string literal."""
        if tok.kind == "bool":
            return tok.val == "true"
        try:
            if tok.kind == "number":
                return _number(tok.val)
            text = _unquote(tok.val)
        except ValueError as err:
            self.error(str(err))
        if tok.kind != "charconst":
            return text
        if len(text) != 1:
            self.error(f"malformed character constant: {tok.val}" if text else "invalid syntax")
        return ord(text)


# ----------------------------------------------------------------------------- execution


class _CallError(Exception):
    """A template function failed; reported as Go's "error calling NAME: ..."."""


class _Exec:
    """One rendering: the variable stack and Go's evaluation rules."""

    def __init__(self, text: str, data: object) -> None:
        self.text = text
        self.vars: list[list] = [["$", data]]

    def error(self, node: _Operand | _Command, msg: str) -> NoReturn:
        start = self.text.rfind("\n", 0, node.pos) + 1
        col = len(self.text[start : node.pos].encode())
        where = f":{_line(self.text, node.pos)}:{col}"
        raise TemplateError(f'template: {where}: executing "" at <{node}>: {msg}')

    def walk(self, dot: object, nodes: list[_Item], out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                out.append(node.text)
            elif isinstance(node, _Action):
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    out.append("<no value>" if value is _MISSING else _format(value))
            elif node.kind == "range":
                self.walk_range(dot, node, out)
            else:
                mark = len(self.vars)
                value = self.pipeline(dot, node.pipe)
                if _truth(value):
                    self.walk(value if node.kind == "with" else dot, node.body, out)
                elif node.orelse is not None:
                    self.walk(dot, node.orelse, out)
                del self.vars[mark:]

    def walk_range(self, dot: object, node: _Branch, out: list[str]) -> None:
        mark = len(self.vars)
        pipe = node.pipe
        items = self.range_items(pipe, self.pipeline(dot, pipe))
        top = len(self.vars)
        for key, elem in items:
            values = [key, elem][-len(pipe.decl) :] if pipe.decl else []  # one var: the element
            for j, (name, value) in enumerate(zip(pipe.decl, values, strict=True)):
                if pipe.is_assign:
                    self.set_var(pipe, name, value)
                else:
                    self.vars[top - len(values) + j][1] = value
            self.walk(elem, node.body, out)
            del self.vars[top:]
        if not items and node.orelse is not None:
            self.walk(dot, node.orelse, out)
        del self.vars[mark:]

    def range_items(self, pipe: _Pipe, value: object) -> list[tuple[object, object]]:
        if value is None or value is _MISSING:
            return []
        if isinstance(value, dict):
            return [(key, value[key]) for key in _sorted_keys(value)]
        if isinstance(value, list | tuple):
            return list(enumerate(value))
        node = _last_operand(pipe)
        if isinstance(value, int) and not isinstance(value, bool):  # Go 1.22: range 5
            if len(pipe.decl) > 1:
                self.error(node, f"can't use {value} to iterate over more than one variable")
            return [(None, i) for i in range(value)]
        self.error(node, f"range can't iterate over {_format(value)}")

    def pipeline(self, dot: object, pipe: _Pipe) -> object:
        value = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)  # each result feeds the next command
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(pipe, name, value)
            else:
                self.vars.append([name, value])
        return value

    def set_var(self, node: _Pipe, name: str, value: object) -> None:
        for var in reversed(self.vars):
            if var[0] == name:
                var[1] = value
                return
        self.error(_last_operand(node), f"undefined variable: {name}")

    def command(self, dot: object, cmd: _Command, final: object) -> object:
        first = cmd.args[0]
        if isinstance(first, _Field):
            return self.fields(first, dot, first.names, cmd.args, final)
        if isinstance(first, _Chain):
            value = self.arg(dot, first.node)
            return self.fields(_last_operand(first.node), value, first.fields, cmd.args, final)
        if isinstance(first, _Ident):
            return self.call(dot, first, cmd, cmd.args[1:], final)
        if isinstance(first, _Var):
            value = self.var_value(first)
            if first.fields:
                return self.fields(first, value, first.fields, cmd.args, final)
            self.not_a_function(cmd, final)
            return value
        self.not_a_function(cmd, final)
        if isinstance(first, _Pipe):
            return self.pipeline(dot, first)
        if isinstance(first, _Nil):
            self.error(first, "nil is not a command")
        return dot if isinstance(first, _Dot) else first.value

    def not_a_function(self, cmd: _Command, final: object) -> None:
        """Only functions (and fields, via Go methods) take arguments."""
        first = cmd.args[0]
        if len(cmd.args) > 1 or final is not _NO_FINAL:
            where = cmd if isinstance(first, _Pipe) else first
            self.error(where, f"can't give argument to non-function {first}")

    def var_value(self, node: _Var) -> object:
        for name, value in reversed(self.vars):
            if name == node.name:
                return value
        self.error(node, f"undefined variable: {node.name}")

    def arg(self, dot: object, node: _Operand) -> object:
        """Evaluate a function argument (where, unlike a command, nil is allowed)."""
        if isinstance(node, _Nil):
            return None
        return self.command(dot, _Command(node.pos, [node]), _NO_FINAL)

    def fields(
        self, node: _Operand, value: object, names: list[str], args: list, final: object
    ) -> object:
        """Walk .A.B.C from value; only the last step could take arguments."""
        for i, name in enumerate(names):
            has_args = i == len(names) - 1 and (len(args) > 1 or final is not _NO_FINAL)
            value = self.field(node, value, name, has_args)
        return value

    def field(self, node: _Operand, value: object, name: str, has_args: bool) -> object:
        if value is _MISSING:
            return _MISSING
        if isinstance(value, dict):
            if has_args:
                self.error(node, f"{name} is not a method but has arguments")
            return value.get(name, _MISSING)
        if value is None:
            self.error(node, f"nil pointer evaluating interface {{}}.{name}")
        basic = isinstance(value, str | int | float | list | tuple)
        if not basic and not name.startswith("_") and hasattr(value, name):
            if has_args:
                self.error(node, f"{name} has arguments but cannot be invoked as function")
            return getattr(value, name)
        self.error(node, f"can't evaluate field {name} in type {_go_type(value)}")

    def call(
        self, dot: object, ident: _Ident, node: _Operand | _Command, args: list, final: object
    ) -> object:
        name, fn = ident.name, _FUNCS[ident.name]
        count = len(args) + (final is not _NO_FINAL)
        fixed = len(fn.params) - fn.variadic
        if fn.variadic and count < fixed:
            want = f"at least {fixed} got {len(args)}"  # sic: Go leaves out the piped value
            self.error(ident, f"wrong number of args for {name}: want {want}")
        if not fn.variadic and count != fixed:
            self.error(ident, f"wrong number of args for {name}: want {fixed} got {count}")
        if fn.impl is None:  # and/or: evaluate lazily, return the deciding operand itself
            value = final
            for arg in args:  # a nil constant here is Go's invalid value
                value = _MISSING if isinstance(arg, _Nil) else self.arg(dot, arg)
                if _truth(value) == (name == "or"):
                    return value
            return final if final is not _NO_FINAL else value
        values = [self.typed(self.arg(dot, a), fn.param(i), a) for i, a in enumerate(args)]
        if final is not _NO_FINAL:  # Go blames the operand it evaluated last
            values.append(self.typed(final, fn.param(len(args)), args[-1] if args else ident))
        try:
            return fn.impl(*values)
        except _CallError as err:
            self.error(node, f"error calling {name}: {err}")

    def typed(self, value: object, kind: str, node: _Operand | _Command) -> object:
        """Check an argument against a Go parameter type, converting nil as Go would."""
        if kind == "any":
            return None if value is _MISSING else value
        go_name, accepts = _PARAM_TYPES[kind]
        if value is None or value is _MISSING:
            if kind == "strs":
                return []  # a nil slice
            if isinstance(node, _Nil):
                self.error(node, f"cannot assign nil to {go_name}")
            self.error(node, f"invalid value; expected {go_name}")
        if accepts(value):
            return value
        if isinstance(node, _Literal):  # Go words constants of the wrong kind differently
            if kind == "strs":
                self.error(node, f"can't handle {node} for arg of type {go_name}")
            self.error(node, f"expected {'integer' if kind == 'int' else go_name}; found {node}")
        self.error(node, f"wrong type for value; expected {go_name}; got {_go_type(value)}")


# ----------------------------------------------------------------------------- values


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
_BASIC_KINDS = {bool: "bool", int: "int", float: "float", str: "string"}


def _go_type(value: object) -> str:
    """The Go type a Python value stands in for, as messages name it."""
    return _GO_TYPES.get(type(value), type(value).__name__)


def _truth(value: object) -> bool:
    """Go's truth: false, 0, nil, missing and empty are false; structs are true."""
    if value is None or value is _MISSING:
        return False
    if isinstance(value, bool | int | float | str | list | tuple | dict):
        return bool(value)
    return True


def _sorted_keys(mapping: dict) -> list:
    """Keys in Go's map order (sorted), tolerating mixed key types."""
    return sorted(mapping, key=lambda key: (type(key).__name__, key))


def _is_struct(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


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


class _Spec(NamedTuple):
    """One printf directive; the default is plain %v."""

    flags: str = ""
    width: int | None = None
    prec: int | None = None
    verb: str = "v"


_PLAIN = _Spec()


def _format(value: object) -> str:
    """Go's %v, which is also how an action prints its value."""
    return _fmt(value, _PLAIN)


def _fmt(value: object, spec: _Spec, nested: bool = False) -> str:
    """Format one operand; like Go, containers apply the verb to each element."""
    verb = spec.verb
    if verb == "T":
        return _pad("<nil>" if value is None else _go_type(value)[: spec.prec], spec)
    if isinstance(value, list | tuple):
        return "[" + " ".join(_fmt(e, spec, True) for e in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_fmt(k, spec, True)}:{_fmt(value[k], spec, True)}" for k in _sorted_keys(value))
        return "map[" + " ".join(pairs) + "]"
    if _is_struct(value):
        fields = dataclasses.fields(value)
        return "{" + " ".join(_fmt(getattr(value, f.name), spec, True) for f in fields) + "}"
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
    return "<nil>" if value is None else f"{_go_type(value)}={_fmt(value, spec)}"


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
        digits, point = _shortest(f)
        exp = point - 1
        text = _e_form(digits, point, 2) if exp < -4 or exp >= 6 else _f_form(digits, point)
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


def _shortest(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of |f| and the decimal point's position."""
    if f == 0:
        return "0", 1
    _, digits, exp = Decimal(repr(abs(f))).as_tuple()
    text = "".join(map(str, digits))
    return text.rstrip("0"), len(text) + int(exp)


def _e_form(digits: str, point: int, exp_width: int) -> str:
    exp = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):0{exp_width}d}"


def _f_form(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


_DIRECTIVE = re.compile(r"%([-+# 0]*)([0-9]*)(?:\.([0-9]*))?(.?)", re.S)


def _sprintf(fmt: str, *args: object) -> str:
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


def _sprint(*args: object) -> str:
    """fmt.Sprint: a space goes between operands when neither is a string."""
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(_format(arg))
    return "".join(out)


def _json(value: object) -> str:
    """Docker's json helper; like Docker it prints nothing if encoding fails."""
    try:
        return _to_json(value)
    except _CallError:
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
            raise _CallError(f"json: unsupported value: {_format(value)}")
        digits, point = _shortest(value)
        small_or_huge = value and not 1e-6 <= abs(value) < 1e21
        text = _e_form(digits, point, 1) if small_or_huge else _f_form(digits, point)
        return ("-" if math.copysign(1, value) < 0 else "") + text
    if isinstance(value, str):
        encoded = json.dumps(value, ensure_ascii=False)  # no HTML escaping, as Docker sets
        return encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, list | tuple):
        return "[" + ",".join(map(_to_json, value)) + "]"
    if _is_struct(value):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        items = (f"{_to_json(_format(k))}:{_to_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    raise _CallError(f"json: unsupported type: {_go_type(value)}")


# ----------------------------------------------------------------------------- functions


def _len(value: object) -> int:
    if value is None:
        raise _CallError("len of nil pointer")
    if isinstance(value, str):
        return len(value.encode())  # Go counts bytes
    if isinstance(value, list | tuple | dict):
        return len(value)
    raise _CallError(f"len of type {_go_type(value)}")


def _index_arg(index: object, cap: int) -> int:
    if index is None:
        raise _CallError("cannot index slice/array with nil")
    if type(index) is not int:
        raise _CallError(f"cannot index slice/array with type {_go_type(index)}")
    if not 0 <= index <= cap:
        raise _CallError(f"index out of range: {index}")
    return index


def _index(item: object, *keys: object) -> object:
    """index X a b is X[a][b]; strings index to bytes, absent map keys to <no value>."""
    if item is None:
        raise _CallError("index of untyped nil")
    for key in keys:
        if item is None or item is _MISSING:
            raise _CallError("index of nil pointer")
        if isinstance(item, dict):
            if key is None:
                raise _CallError("value is nil; should be of type string")
            if not isinstance(key, str):
                raise _CallError(f"value has type {_go_type(key)}; should be string")
            item = item.get(key, _MISSING)
        elif isinstance(item, str | list | tuple):
            seq = item.encode() if isinstance(item, str) else item
            if (i := _index_arg(key, len(seq))) == len(seq):
                kind = "string" if isinstance(item, str) else "slice"
                raise _CallError(f"reflect: {kind} index out of range")
            item = seq[i]
        else:
            raise _CallError(f"can't index item of type {_go_type(item)}")
    return item


def _slice(item: object, *bounds: object) -> object:
    """slice X i j is X[i:j] (bytes for strings), with Go's bounds checks."""
    if item is None:
        raise _CallError("slice of untyped nil")
    if len(bounds) > 3:
        raise _CallError(f"too many slice indexes: {len(bounds)}")
    if isinstance(item, str):
        if len(bounds) == 3:
            raise _CallError("cannot 3-index slice a string")
        seq: bytes | list | tuple = item.encode()
    elif isinstance(item, list | tuple):
        seq = item
    else:
        raise _CallError(f"can't slice item of type {_go_type(item)}")
    idx = [_index_arg(b, len(seq)) for b in bounds] + [0, len(seq)][len(bounds) :]
    for low, high in itertools.pairwise(idx):
        if low > high:
            raise _CallError(f"invalid slice index: {low} > {high}")
    part = seq[idx[0] : idx[1]]
    return part.decode(errors="replace") if isinstance(part, bytes) else list(part)


def _eq(a: object, *others: object) -> bool:
    """eq a b c is a == b || a == c, with Go's rules on comparable kinds."""
    if not others:
        raise _CallError("missing argument for comparison")
    kind = _BASIC_KINDS.get(type(a))
    for b in others:
        if kind != _BASIC_KINDS.get(type(b)):
            if a is not None and b is not None:
                raise _CallError(
                    f"incompatible types for comparison: {_go_type(a)} and {_go_type(b)}"
                )
            continue  # nil never equals a basic value
        if kind is None and a is not None and b is not None:  # containers and structs
            if type(a) is not type(b):
                raise _CallError(
                    f"non-comparable types {_format(a)}: {_go_type(a)}, {_go_type(b)}: {_format(b)}"
                )
            if isinstance(b, list | tuple | dict):
                raise _CallError(f"non-comparable type {_format(b)}: {_go_type(b)}")
        if a == b:
            return True
    return False


def _lt(a: object, b: object) -> bool:
    kind_a, kind_b = _BASIC_KINDS.get(type(a)), _BASIC_KINDS.get(type(b))
    if kind_a is None or kind_b is None:
        raise _CallError("invalid type for comparison")
    if kind_a != kind_b:
        raise _CallError(f"incompatible types for comparison: {_go_type(a)} and {_go_type(b)}")
    if kind_a == "bool":
        raise _CallError("invalid type for comparison")
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
        raise _CallError("strings: negative Repeat count")
    return " " * left + s + " " * right


def _truncate(s: str, length: int) -> str:
    """Docker's truncate: at most ``length`` bytes (never splitting a character)."""
    data = s.encode()
    if len(data) < length:
        return s
    if length < 0:
        raise _CallError(f"runtime error: slice bounds out of range [:{length}]")
    return data[:length].decode(errors="ignore")


class _Func(NamedTuple):
    impl: Callable[..., object] | None  # None for and/or, which the evaluator runs lazily
    params: tuple[str, ...]  # "any", "str", "int" or "strs"; the last repeats if variadic
    variadic: bool = False

    def param(self, i: int) -> str:
        return self.params[min(i, len(self.params) - 1)]


_PARAM_TYPES: dict[str, tuple[str, Callable[[object], bool]]] = {
    "str": ("string", lambda v: isinstance(v, str)),
    "int": ("int", lambda v: type(v) is int),
    "strs": ("[]string", lambda v: isinstance(v, list | tuple) and all(type(e) is str for e in v)),
}
_ANY2 = ("any", "any")
_FUNCS: dict[str, _Func] = {
    # Go's builtins
    "and": _Func(None, _ANY2, variadic=True),
    "or": _Func(None, _ANY2, variadic=True),
    "not": _Func(lambda v: not _truth(v), ("any",)),
    "len": _Func(_len, ("any",)),
    "index": _Func(_index, _ANY2, variadic=True),
    "slice": _Func(_slice, _ANY2, variadic=True),
    "eq": _Func(_eq, _ANY2, variadic=True),
    "ne": _Func(lambda a, b: not _eq(a, b), _ANY2),
    "lt": _Func(_lt, _ANY2),
    "le": _Func(_le, _ANY2),
    "gt": _Func(lambda a, b: not _le(a, b), _ANY2),
    "ge": _Func(lambda a, b: not _lt(a, b), _ANY2),
    "print": _Func(_sprint, ("any",), variadic=True),
    "printf": _Func(_sprintf, ("str", "any"), variadic=True),
    "println": _Func(lambda *a: " ".join(map(_format, a)) + "\n", ("any",), variadic=True),
    # Docker's additions (docker/cli templates.basicFunctions)
    "json": _Func(_json, ("any",)),
    "split": _Func(_split, ("str", "str")),
    "join": _Func(lambda items, sep: sep.join(items), ("strs", "str")),
    "title": _Func(_title, ("str",)),
    "lower": _Func(lambda s: _map_runes(s, str.lower), ("str",)),
    "upper": _Func(lambda s: _map_runes(s, str.upper), ("str",)),
    "pad": _Func(_pad_words, ("str", "int", "int")),
    "truncate": _Func(_truncate, ("str", "int")),
}
