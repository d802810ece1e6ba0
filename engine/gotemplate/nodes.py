"""The parse tree: what the parser builds and the executor walks.

Operands print back as Go spells them (``str(node)``), because Go's execution errors
quote the node that failed: ``executing "" at <.State.Pid>: ...``.  Nodes are compared
by identity, so they skip dataclass equality (which also keeps import time down).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(slots=True, eq=False)
class Text:
    text: str


@dataclasses.dataclass(slots=True, eq=False)
class Dot:
    pos: int

    def __str__(self) -> str:
        return "."


@dataclasses.dataclass(slots=True, eq=False)
class Nil:
    pos: int

    def __str__(self) -> str:
        return "nil"


@dataclasses.dataclass(slots=True, eq=False)
class Literal:
    pos: int
    text: str  # the source spelling, as Go shows it in messages
    value: object

    def __str__(self) -> str:
        return self.text


@dataclasses.dataclass(slots=True, eq=False)
class Field:
    pos: int
    names: list[str]

    def __str__(self) -> str:
        return "".join("." + name for name in self.names)


@dataclasses.dataclass(slots=True, eq=False)
class Var:
    pos: int
    name: str
    fields: list[str]

    def __str__(self) -> str:
        return self.name + "".join("." + name for name in self.fields)


@dataclasses.dataclass(slots=True, eq=False)
class Ident:
    pos: int
    name: str

    def __str__(self) -> str:
        return self.name


@dataclasses.dataclass(slots=True, eq=False)
class Chain:
    """Fields read off a parenthesised pipeline or function result: (index .M "k").Name."""

    pos: int
    node: Operand
    fields: list[str]

    def __str__(self) -> str:
        return arg_str(self.node) + "".join("." + name for name in self.fields)


@dataclasses.dataclass(slots=True, eq=False)
class Command:
    pos: int
    args: list[Operand]

    def __str__(self) -> str:
        return " ".join(map(arg_str, self.args))


@dataclasses.dataclass(slots=True, eq=False)
class Pipe:
    pos: int
    decl: list[str]
    is_assign: bool
    cmds: list[Command]

    def __str__(self) -> str:
        head = ", ".join(self.decl) + (" = " if self.is_assign else " := ") if self.decl else ""
        return head + " | ".join(map(str, self.cmds))


@dataclasses.dataclass(slots=True, eq=False)
class Action:
    pipe: Pipe


@dataclasses.dataclass(slots=True, eq=False)
class Branch:
    kind: str  # "if", "range" or "with"
    pipe: Pipe
    body: list[Item]
    orelse: list[Item] | None


Operand = Dot | Nil | Literal | Field | Var | Ident | Chain | Pipe
Item = Text | Action | Branch


def arg_str(node: Operand) -> str:
    """How Go prints an operand back: a sub-pipeline goes in parentheses."""
    return f"({node})" if isinstance(node, Pipe) else str(node)


def last_operand(node: Operand) -> Operand:
    """The operand Go evaluated last, which its errors blame, e.g. .Z in (and .Y .Z)."""
    while isinstance(node, Pipe):
        node = node.cmds[-1].args[-1]
    return node
