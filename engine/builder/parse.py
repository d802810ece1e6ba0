"""Dockerfile text → stages of instructions, checked as Docker checks them before step 1.

The syntax is BuildKit's own parser (the ``dockerfile`` package wraps its Go code); this
module only groups the result into stages and rejects what Docker's instruction layer
rejects, with Docker's messages and line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dockerfile as bkparser

from ..errors import InvalidArgument

KEYWORDS = ("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
            "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
            "WORKDIR")
STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")


class ParseError(InvalidArgument):
    """A Dockerfile Docker would refuse before running any step."""


def error_at(line: int, message: str) -> ParseError:
    return ParseError(f"dockerfile parse error on line {line}: {message}")


@dataclass(frozen=True)
class Heredoc:
    """``<<EOF`` … ``EOF``: ``expand`` unless the name was quoted, ``chomp`` for ``<<-``."""

    name: str
    content: str
    expand: bool
    chomp: bool

    @property
    def text(self) -> str:
        if not self.chomp:
            return self.content
        return "".join(line.lstrip("\t") for line in self.content.splitlines(keepends=True))


@dataclass
class Instruction:
    keyword: str  # upper case
    args: list[str]
    flags: list[str]  # as written: "--from=build"
    json: bool  # exec (JSON array) form
    original: str
    line: int
    heredocs: list[Heredoc] = field(default_factory=list)
    trigger: str = ""  # ONBUILD: the instruction it records, e.g. "RUN echo hi"

    @property
    def text(self) -> str:
        """What ``Step N/M :`` shows: the instruction as written (its first line)."""
        return self.original.split("\n", 1)[0].strip()

    def flag_values(self, known: dict[str, str | None]) -> dict[str, str | None]:
        """``--name=value`` flags against ``known`` (name → default); Docker's message for
        any other flag."""
        values = dict(known)
        for raw in self.flags:
            name, sep, value = raw[2:].partition("=")
            if name not in known:
                raise error_at(self.line, f"Unknown flag: {name}")
            values[name] = value if sep else "true"
        return values


@dataclass
class Stage:
    index: int
    name: str  # the AS name, lower case; "" when unnamed
    base: str  # the image as written (variables not yet expanded)
    platform: str
    source: Instruction  # the FROM line
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    escape: str
    meta_args: list[Instruction]  # ARGs before the first FROM
    stages: list[Stage]

    def steps(self, stages: int) -> int:
        """Docker's total for ``Step N/M``: global ARGs, then each stage's FROM and body."""
        return len(self.meta_args) + sum(1 + len(s.instructions) for s in self.stages[:stages])


def escape_token(text: str) -> str:
    """The ``# escape=`` parser directive, read as Docker does: only at the very top."""
    for line in text.splitlines():
        m = DIRECTIVE.match(line.strip())
        if not m:
            break
        if m[1].lower() == "escape":
            if m[2] not in ("\\", "`"):
                raise ParseError(f"invalid escape token '{m[2]}' does not match ` or \\")
            return m[2]
    return "\\"


def parse(text: str, name: str = "Dockerfile") -> Dockerfile:
    escape = escape_token(text)
    try:
        commands = bkparser.parse_string(text)
    except bkparser.GoParseError as e:
        message = str(e)
        if message == "file with no instructions":
            raise ParseError(f"the Dockerfile ({name}) cannot be empty") from None
        line = _failing_line(text, message)
        raise (error_at(line, message) if line else ParseError(
            f"dockerfile parse error: {message}")) from None
    return _group(escape, [to_instruction(c) for c in commands])


def to_instruction(c: bkparser.Command) -> Instruction:
    keyword = c.cmd.upper()
    if keyword not in KEYWORDS:
        raise error_at(c.start_line, f"unknown instruction: {c.cmd}{_suggest(c.cmd)}")
    ins = Instruction(keyword, list(c.value), list(c.flags), bool(c.json), c.original,
                      c.start_line, _heredocs(c))
    _check(ins, c)
    return ins


def parse_trigger(expression: str, line: int) -> Instruction:
    """An ONBUILD trigger, parsed when a FROM of its image runs it."""
    try:
        commands = bkparser.parse_string(expression)
    except bkparser.GoParseError as e:
        raise error_at(line, f"ONBUILD trigger {expression!r}: {e}") from None
    if len(commands) != 1:
        raise error_at(line, "onbuild trigger should be a single expression")
    ins = to_instruction(commands[0])
    ins.line = line
    return ins


def _suggest(word: str) -> str:
    import difflib

    close = difflib.get_close_matches(word.upper(), KEYWORDS, n=1, cutoff=0.75)
    return f" (did you mean {close[0].lower()}?)" if close else ""


def _failing_line(text: str, message: str) -> int:
    """The Go parser reports no line: find the first prefix of the file that fails alike."""
    lines = text.splitlines(keepends=True)
    for n in range(1, len(lines) + 1):
        try:
            bkparser.parse_string("".join(lines[:n]))
        except bkparser.GoParseError as e:
            if str(e) == message:
                return n
    return 0


def _heredocs(c: bkparser.Command) -> list[Heredoc]:
    first = c.original.split("\n", 1)[0]
    out = []
    for h in c.heredocs:
        m = re.search(r"<<(-?)([\"']?)" + re.escape(h.name) + r"\2", first)
        out.append(Heredoc(h.name, h.content, expand=not (m and m[2]), chomp=bool(m and m[1])))
    return out


def _check(ins: Instruction, c: bkparser.Command) -> None:
    """The argument checks Docker's instruction parser makes, with its messages."""
    k, n = ins.keyword, len(ins.args)
    if k in ("USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER") and n != 1:
        raise error_at(ins.line, f"{k} requires exactly one argument")
    if k in ("ADD", "COPY"):
        if n == 1:
            raise error_at(ins.line, f"{k} requires at least two arguments, but only one was "
                                     "provided. Destination could not be determined")
        if n < 1:
            raise error_at(ins.line, f"{k} requires at least two arguments")
    if k in ("RUN", "ENV", "LABEL", "EXPOSE", "VOLUME", "ARG", "HEALTHCHECK", "ONBUILD",
             "SHELL") and (n == 0 or (ins.args == [""] and k != "ONBUILD")):
        raise error_at(ins.line, f"{k} requires at least one argument")
    if k == "ENV" and any(not key for key in ins.args[::2]):
        raise error_at(ins.line, "ENV names can not be blank")
    if k == "SHELL" and not ins.json:
        raise error_at(ins.line, "SHELL requires the arguments to be in JSON form")
    if k == "FROM" and not (n == 1 or (n == 3 and ins.args[1].lower() == "as")):
        raise error_at(ins.line, "FROM requires either one or three arguments")
    if k == "ONBUILD":
        trigger = (c.sub_cmd or "").upper()
        if trigger == "ONBUILD":
            raise error_at(ins.line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("FROM", "MAINTAINER"):
            raise error_at(ins.line, f"{trigger} isn't allowed as an ONBUILD trigger")
        if trigger not in KEYWORDS:
            raise error_at(ins.line, f"unknown instruction: {c.sub_cmd}")
        ins.trigger = re.sub(r"(?i)^\s*ONBUILD\s+", "", ins.original, count=1).strip()
    for raw in ins.flags:
        if not raw.startswith("--"):
            raise error_at(ins.line, f"invalid flag {raw!r}")


def _group(escape: str, instructions: list[Instruction]) -> Dockerfile:
    meta: list[Instruction] = []
    stages: list[Stage] = []
    names: set[str] = set()
    for ins in instructions:
        if ins.keyword == "FROM":
            platform = ins.flag_values({"platform": ""})["platform"] or ""
            name = ins.args[2].lower() if len(ins.args) == 3 else ""
            if name:
                if not STAGE_NAME.match(name):
                    raise error_at(ins.line, f'invalid name for build stage: "{ins.args[2]}", '
                                             "name can't start with a number or contain "
                                             "symbols")
                if name in names:
                    raise error_at(ins.line, f'duplicate stage name "{name}"')
                names.add(name)
            stages.append(Stage(len(stages), name, ins.args[0], platform, ins))
        elif stages:
            stages[-1].instructions.append(ins)
        elif ins.keyword == "ARG":
            meta.append(ins)
        else:
            raise error_at(ins.line, "no build stage in current context")
    if not stages:
        raise ParseError("dockerfile parse error: no build stage in current context "
                         "(a Dockerfile must have a FROM)")
    return Dockerfile(escape, meta, stages)
