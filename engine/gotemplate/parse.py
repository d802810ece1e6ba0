"""Go's template parser: tokens to a tree of nodes, with Go's parse errors word for word.

Function names and variables are checked here, as Go does at parse time: a template that
names an unknown function fails before it renders anything.
"""

from __future__ import annotations

from typing import NoReturn

from ..gofmt import go_quote
from .errors import TemplateError
from .funcs import FUNCS
from .lexer import KEYWORDS, OPERAND_KINDS, Lexer, Tok, line_of
from .literals import number, unquote
from .nodes import (
    Action,
    Branch,
    Chain,
    Command,
    Dot,
    Field,
    Ident,
    Item,
    Literal,
    Nil,
    Operand,
    Pipe,
    Text,
    Var,
)


def _describe(tok: Tok) -> str:
    """Go's rendering of a token in "unexpected ..." messages."""
    if tok.kind == "eof":
        return "EOF"
    if tok.kind in KEYWORDS or tok.kind == "dot":
        return f"<{tok.val}>"
    return go_quote(tok.val[:10]) + "..." if len(tok.val) > 10 else go_quote(tok.val)


class Parser:
    """Recursive descent that mirrors Go's text/template/parse, messages included."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = Lexer(text).run()
        self.i = 0
        self.far = 0  # furthest token looked at: Go reports its line in parse errors
        self.vars = ["$"]

    def error(self, msg: str) -> NoReturn:
        raise TemplateError(f"template: :{line_of(self.text, self.toks[self.far].pos)}: {msg}")

    def peek(self) -> Tok:
        self.far = max(self.far, min(self.i, len(self.toks) - 1))
        return self.toks[min(self.i, len(self.toks) - 1)]

    def next(self) -> Tok:
        tok = self.peek()
        self.i += 1
        if tok.kind == "error":
            self.error(tok.val)
        return tok

    def peek_non_space(self) -> Tok:
        while self.peek().kind == "space":
            self.i += 1
        return self.peek()

    def next_non_space(self) -> Tok:
        self.peek_non_space()
        return self.next()

    def unexpected(self, tok: Tok, context: str) -> NoReturn:
        self.error(f"unexpected {_describe(tok)} in {context}")

    def expect_right(self, context: str) -> None:
        if (tok := self.next_non_space()).kind != "right":
            self.unexpected(tok, context)

    def parse(self) -> list[Item]:
        nodes: list[Item] = []
        while self.peek().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, str):
                self.error(f"unexpected {node}")
            nodes.append(node)
        return nodes

    def item_list(self) -> tuple[list[Item], str]:
        """Items up to the "{{end}}" or "{{else}}" that closes them."""
        nodes: list[Item] = []
        while self.peek_non_space().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, str):
                return nodes, node
            nodes.append(node)
        self.error("unexpected EOF")

    def text_or_action(self) -> Item | str:
        """A node, or the marker string "{{end}}" / "{{else}}"."""
        tok = self.next_non_space()
        if tok.kind == "text":
            return Text(tok.val)
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
        return Action(self.pipeline("command", "right"))

    def control(self, kind: str) -> Branch:
        mark = len(self.vars)  # variables declared inside die at {{end}}
        pipe = self.pipeline(kind, "right")
        body, end = self.item_list()
        orelse: list[Item] | None = None
        if end == "{{else}}":
            if kind != "range" and self.peek().kind == kind:  # {{else if}}: a nested branch
                self.next()
                orelse = [self.control(kind)]
            else:
                orelse, end = self.item_list()
                if end != "{{end}}":
                    self.error(f"expected end; found {end}")
        del self.vars[mark:]
        return Branch(kind, pipe, body, orelse)

    def pipeline(self, context: str, end: str) -> Pipe:
        pipe = Pipe(self.peek_non_space().pos, [], False, [])
        self.declarations(pipe, context)
        while (tok := self.next_non_space()).kind != end:
            if tok.kind not in OPERAND_KINDS:
                self.unexpected(tok, context)
            self.i -= 1
            pipe.cmds.append(self.command())
        if not pipe.cmds:
            self.error(f"missing value for {context}")
        for stage, cmd in enumerate(pipe.cmds[1:], 2):
            if isinstance(cmd.args[0], Literal | Dot | Nil):
                self.error(f"non executable command in pipeline stage {stage}")
        return pipe

    def declarations(self, pipe: Pipe, context: str) -> None:
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

    def command(self) -> Command:
        """Space-separated operands, ending before "}}" or ")" or after "|"."""
        cmd = Command(self.peek_non_space().pos, [])
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

    def operand(self) -> Operand | None:
        """A term, possibly followed by .Field accesses."""
        node = self.term()
        if node is None or self.peek().kind != "field":
            return node
        pos, fields = self.peek().pos, []
        while self.peek().kind == "field":
            fields.append(self.next().val[1:])
        if isinstance(node, Field):
            return Field(pos, node.names + fields)
        if isinstance(node, Var):
            return Var(pos, node.name, node.fields + fields)
        if isinstance(node, Literal | Nil | Dot):
            self.error(f"unexpected . after term {go_quote(str(node))}")
        return Chain(pos, node, fields)

    def term(self) -> Operand | None:
        tok = self.peek_non_space()
        if tok.kind not in OPERAND_KINDS:
            return None
        self.next()
        if tok.kind == "ident":
            if tok.val not in FUNCS:
                self.error(f"function {go_quote(tok.val)} not defined")
            return Ident(tok.pos, tok.val)
        if tok.kind == "var":
            if tok.val not in self.vars:
                self.error(f"undefined variable {go_quote(tok.val)}")
            return Var(tok.pos, tok.val, [])
        if tok.kind == "lparen":
            return self.pipeline("parenthesized pipeline", "rparen")
        if tok.kind == "dot":
            return Dot(tok.pos)
        if tok.kind == "nil":
            return Nil(tok.pos)
        if tok.kind == "field":
            return Field(tok.pos, [tok.val[1:]])
        return Literal(tok.pos, tok.val, self.constant(tok))

    def constant(self, tok: Tok) -> object:
        """Value of a bool, number, character or string literal."""
        if tok.kind == "bool":
            return tok.val == "true"
        try:
            if tok.kind == "number":
                return number(tok.val)
            text = unquote(tok.val)
        except ValueError as err:
            self.error(str(err))
        if tok.kind != "charconst":
            return text
        if len(text) != 1:
            self.error(f"malformed character constant: {tok.val}" if text else "invalid syntax")
        return ord(text)
