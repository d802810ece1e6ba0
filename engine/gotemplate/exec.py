"""Go's template executor: walks the tree against data, following Go's evaluation rules.

Execution errors name the node that failed and its line:column, as Go's do, so a user
can find the spot in a long ``--format`` string.
"""

from __future__ import annotations

from typing import NoReturn

from ..gofmt import format_value, go_quote, go_type, sorted_keys
from .errors import CallError, TemplateError
from .funcs import FUNCS, PARAM_TYPES
from .lexer import line_of
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
    last_operand,
)
from .values import MISSING, GoStruct, truth

_NO_FINAL = object()  # nothing piped in (Go's missingVal); unlike MISSING, never a value


class Executor:
    """One rendering: the variable stack and Go's evaluation rules."""

    def __init__(self, text: str, data: object, missingkey: str = "default") -> None:
        self.text = text
        self.vars: list[list] = [["$", data]]
        # Go's Option("missingkey=error"): an absent map key fails instead of <no value>.
        self.missing_error = missingkey == "error"

    def error(self, node: Operand | Command, msg: str) -> NoReturn:
        start = self.text.rfind("\n", 0, node.pos) + 1
        col = len(self.text[start : node.pos].encode())
        where = f":{line_of(self.text, node.pos)}:{col}"
        raise TemplateError(f'template: {where}: executing "" at <{node}>: {msg}')

    def walk(self, dot: object, nodes: list[Item], out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    out.append("<no value>" if value is MISSING else format_value(value))
            elif node.kind == "range":
                self.walk_range(dot, node, out)
            else:
                mark = len(self.vars)
                value = self.pipeline(dot, node.pipe)
                if truth(value):
                    self.walk(value if node.kind == "with" else dot, node.body, out)
                elif node.orelse is not None:
                    self.walk(dot, node.orelse, out)
                del self.vars[mark:]

    def walk_range(self, dot: object, node: Branch, out: list[str]) -> None:
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

    def range_items(self, pipe: Pipe, value: object) -> list[tuple[object, object]]:
        if value is None or value is MISSING:
            return []
        if isinstance(value, dict):
            return [(key, value[key]) for key in sorted_keys(value)]
        if isinstance(value, list | tuple):
            return list(enumerate(value))
        node = last_operand(pipe)
        if isinstance(value, int) and not isinstance(value, bool):  # Go 1.22: range 5
            if len(pipe.decl) > 1:
                self.error(node, f"can't use {value} to iterate over more than one variable")
            return [(None, i) for i in range(value)]
        self.error(node, f"range can't iterate over {format_value(value)}")

    def pipeline(self, dot: object, pipe: Pipe) -> object:
        value = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)  # each result feeds the next command
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(pipe, name, value)
            else:
                self.vars.append([name, value])
        return value

    def set_var(self, node: Pipe, name: str, value: object) -> None:
        for var in reversed(self.vars):
            if var[0] == name:
                var[1] = value
                return
        self.error(last_operand(node), f"undefined variable: {name}")

    def command(self, dot: object, cmd: Command, final: object) -> object:
        first = cmd.args[0]
        if isinstance(first, Field):
            return self.fields(first, dot, first.names, cmd.args, final)
        if isinstance(first, Chain):
            value = self.arg(dot, first.node)
            return self.fields(last_operand(first.node), value, first.fields, cmd.args, final)
        if isinstance(first, Ident):
            return self.call(dot, first, cmd, cmd.args[1:], final)
        if isinstance(first, Var):
            value = self.var_value(first)
            if first.fields:
                return self.fields(first, value, first.fields, cmd.args, final)
            self.not_a_function(cmd, final)
            return value
        self.not_a_function(cmd, final)
        if isinstance(first, Pipe):
            return self.pipeline(dot, first)
        if isinstance(first, Nil):
            self.error(first, "nil is not a command")
        return dot if isinstance(first, Dot) else first.value

    def not_a_function(self, cmd: Command, final: object) -> None:
        """Only functions (and fields, via Go methods) take arguments."""
        first = cmd.args[0]
        if len(cmd.args) > 1 or final is not _NO_FINAL:
            where = cmd if isinstance(first, Pipe) else first
            self.error(where, f"can't give argument to non-function {first}")

    def var_value(self, node: Var) -> object:
        for name, value in reversed(self.vars):
            if name == node.name:
                return value
        self.error(node, f"undefined variable: {node.name}")

    def arg(self, dot: object, node: Operand) -> object:
        """Evaluate a function argument (where, unlike a command, nil is allowed)."""
        if isinstance(node, Nil):
            return None
        return self.command(dot, Command(node.pos, [node]), _NO_FINAL)

    def fields(
        self, node: Operand, value: object, names: list[str], args: list, final: object
    ) -> object:
        """Walk .A.B.C from value; only the last step could take arguments."""
        for i, name in enumerate(names):
            has_args = i == len(names) - 1 and (len(args) > 1 or final is not _NO_FINAL)
            value = self.field(node, value, name, has_args)
        return value

    def field(self, node: Operand, value: object, name: str, has_args: bool) -> object:
        if value is MISSING:
            return MISSING
        if isinstance(value, GoStruct) and name not in value:
            self.error(node, f"can't evaluate field {name} in type {value.go_type}")
        if isinstance(value, dict):
            if has_args:
                self.error(node, f"{name} is not a method but has arguments")
            if name not in value and self.missing_error:
                self.error(node, f"map has no entry for key {go_quote(name)}")
            return value.get(name, MISSING)
        if value is None:
            self.error(node, f"nil pointer evaluating interface {{}}.{name}")
        basic = isinstance(value, str | int | float | list | tuple)
        if not basic and not name.startswith("_") and hasattr(value, name):
            if has_args:
                self.error(node, f"{name} has arguments but cannot be invoked as function")
            return getattr(value, name)
        self.error(node, f"can't evaluate field {name} in type {go_type(value)}")

    def call(
        self, dot: object, ident: Ident, node: Operand | Command, args: list, final: object
    ) -> object:
        name, fn = ident.name, FUNCS[ident.name]
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
                value = MISSING if isinstance(arg, Nil) else self.arg(dot, arg)
                if truth(value) == (name == "or"):
                    return value
            return final if final is not _NO_FINAL else value
        values = [self.typed(self.arg(dot, a), fn.param(i), a) for i, a in enumerate(args)]
        if final is not _NO_FINAL:  # Go blames the operand it evaluated last
            values.append(self.typed(final, fn.param(len(args)), args[-1] if args else ident))
        try:
            return fn.impl(*values)
        except CallError as err:
            self.error(node, f"error calling {name}: {err}")

    def typed(self, value: object, kind: str, node: Operand | Command) -> object:
        """Check an argument against a Go parameter type, converting nil as Go would."""
        if kind == "any":
            return None if value is MISSING else value
        go_name, accepts = PARAM_TYPES[kind]
        if value is None or value is MISSING:
            if kind == "strs":
                return []  # a nil slice
            if isinstance(node, Nil):
                self.error(node, f"cannot assign nil to {go_name}")
            self.error(node, f"invalid value; expected {go_name}")
        if accepts(value):
            return value
        if isinstance(node, Literal):  # Go words constants of the wrong kind differently
            if kind == "strs":
                self.error(node, f"can't handle {node} for arg of type {go_name}")
            self.error(node, f"expected {'integer' if kind == 'int' else go_name}; found {node}")
        self.error(node, f"wrong type for value; expected {go_name}; got {go_type(value)}")
