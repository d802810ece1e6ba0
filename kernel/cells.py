"""The cell language: ``docker …`` lines as a shell would split them, or a ``%%`` cell magic.

A small POSIX-style lexer rather than ``shlex``: it must tell an operator (``>``) from the
same character quoted (``'>'``), read heredoc bodies that follow a line, and say whether an
unfinished cell is incomplete (open quote, trailing ``\\``, heredoc without its end line).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

ACCEPTED = (
    "A LayerLab cell holds `docker …` command lines (with `#` comments, `\\` continuations, "
    "shell quoting, `<<EOF` heredocs, `< FILE` / `> FILE` redirections, `&&` or `;` between "
    "commands), or starts with `%%dockerfile [build flags]` (the cell is a Dockerfile, built "
    "with the notebook's folder as context) or `%%file PATH` (the cell is written to PATH)."
)
# Longest first, so "<<-" wins over "<<" and "2>>" over "2>".
OPERATORS = ("2>&1", "<<-", "2>>", "&&", "<<", ">>", "2>", "&>", ">", "<", "|", ";", "&")


class CellError(Exception):
    """A cell the kernel cannot run; the message says what is accepted."""


class Incomplete(CellError):
    """The cell stops in the middle of something (a quote, a continuation, a heredoc)."""


@dataclass(frozen=True)
class Token:
    text: str
    op: bool = False  # an unquoted shell operator, not a word


@dataclass
class Command:
    """One ``docker …`` command with where its standard streams come from and go to."""

    argv: list[str]  # without the leading "docker"
    source: str  # the line as typed, for messages
    stdin_data: bytes | None = None  # a heredoc, or a file's bytes
    stdin_path: str = ""  # `< FILE`
    stdout_path: str = ""  # `> FILE`
    stdout_append: bool = False
    stderr_path: str = ""  # `2> FILE`
    stderr_append: bool = False
    stderr_to_stdout: bool = False  # `2>&1` / `&>`


@dataclass
class Cell:
    """A parsed cell: command lines, or a magic with its body."""

    commands: list[Command] = field(default_factory=list)
    magic: str = ""  # "", "file" or "dockerfile"
    args: list[str] = field(default_factory=list)  # the magic's arguments
    body: str = ""  # the magic's text


class _Lexer:
    """Reads words and operators of one logical line at a time, like a POSIX shell."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def line(self) -> tuple[list[Token], str]:
        """The tokens of the next logical line and its source text; the line's newline is
        consumed. Raises Incomplete inside an open quote or after a final backslash."""
        tokens: list[Token] = []
        start = self.pos
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\n":
                self.pos += 1
                return tokens, text[start : self.pos - 1]
            if ch in " \t\r":
                self.pos += 1
            elif ch == "\\" and text.startswith("\\\n", self.pos):
                self.pos += 2
            elif ch == "#":
                while self.pos < len(text) and text[self.pos] != "\n":
                    self.pos += 1
            elif op := self._operator():
                tokens.append(Token(op, op=True))
            else:
                tokens.append(Token(self._word()))
        return tokens, text[start:]

    def _operator(self) -> str:
        for op in OPERATORS:
            if self.text.startswith(op, self.pos):
                if op[0] == "2" and self.pos and self.text[self.pos - 1] not in " \t\n":
                    return ""  # "a2>b" is a word followed by ">"
                self.pos += len(op)
                return op
        return ""

    def _word(self) -> str:
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\r\n" or self._peek_operator():
                break
            if ch == "\\":
                if self.pos + 1 >= len(text):
                    raise Incomplete("the cell ends with a `\\` continuation")
                if text[self.pos + 1] != "\n":
                    out.append(text[self.pos + 1])
                self.pos += 2
            elif ch == "'":
                end = text.find("'", self.pos + 1)
                if end < 0:
                    raise Incomplete("a single quote (') is not closed")
                out.append(text[self.pos + 1 : end])
                self.pos = end + 1
            elif ch == '"':
                out.append(self._double_quoted())
            else:
                out.append(ch)
                self.pos += 1
        return "".join(out)

    def _peek_operator(self) -> bool:
        return self.text[self.pos] in "<>|;&"  # "2>" starts an operator only at a word's start

    def _double_quoted(self) -> str:
        out: list[str] = []
        self.pos += 1
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in '"\\$`\n':
                if text[self.pos + 1] != "\n":
                    out.append(text[self.pos + 1])
                self.pos += 2
                continue
            out.append(ch)
            self.pos += 1
        raise Incomplete('a double quote (") is not closed')

    def heredoc(self, delimiter: str, strip_tabs: bool) -> str:
        """The lines up to one equal to ``delimiter``; raises Incomplete without it."""
        lines: list[str] = []
        while self.pos < len(self.text):
            end = self.text.find("\n", self.pos)
            end = len(self.text) if end < 0 else end
            line = self.text[self.pos : end]
            self.pos = end + 1
            if strip_tabs:
                line = line.lstrip("\t")
            if line == delimiter:
                return "".join(x + "\n" for x in lines)
            lines.append(line)
        raise Incomplete(f"the heredoc has no closing `{delimiter}` line")


def parse(code: str) -> Cell:
    """Parse a whole cell; raises CellError (or Incomplete) naming what is accepted."""
    first, _, rest = code.lstrip("\n").partition("\n")
    if first.startswith("%%"):
        return _magic(first, rest)
    lexer = _Lexer(code)
    cell = Cell()
    while not lexer.at_end():
        tokens, source = lexer.line()
        for group in _split_commands(tokens, source):
            cell.commands.append(_command(group, source, lexer))
    return cell


def _magic(first: str, body: str) -> Cell:
    name, _, arg_text = first[2:].partition(" ")
    try:
        args = shlex.split(arg_text)
    except ValueError as e:
        raise CellError(f"%%{name}: {e}") from None
    if name == "file":
        if len(args) != 1:
            raise CellError("%%file needs exactly one PATH, e.g. `%%file app/hello.sh`")
        return Cell(magic="file", args=args, body=body)
    if name == "dockerfile":
        return Cell(magic="dockerfile", args=args, body=body)
    raise CellError(f"unknown cell magic %%{name}. {ACCEPTED}")


def _split_commands(tokens: list[Token], source: str) -> list[list[Token]]:
    """``a && b ; c`` → three commands; the cell stops at the first failure anyway."""
    groups: list[list[Token]] = [[]]
    for t in tokens:
        if t.op and t.text in ("&&", ";"):
            groups.append([])
        elif t.op and t.text == "&":
            raise CellError(f"`{source.strip()}`: `&` (background) is not supported; use "
                            "`docker run -d …` for a container that keeps running")
        else:
            groups[-1].append(t)
    return [g for g in groups if g]


def _command(tokens: list[Token], source: str, lexer: _Lexer) -> Command:
    tokens = _cat_pipe(tokens, source)
    words = [t for t in tokens if not t.op]
    if not words or words[0].text != "docker":
        shown = source.strip()
        hint = ""
        if words:
            from layerlab.engine import grammar

            if words[0].text in grammar.parsers() or words[0].text in ("container", "image"):
                hint = f" Did you mean `docker {shown}`?"
        raise CellError(f"`{shown}` is not a docker command.{hint} {ACCEPTED}")
    cmd = Command([], source.strip())
    i = 1
    while i < len(tokens):
        t = tokens[i]
        if not t.op:
            cmd.argv.append(t.text)
            i += 1
            continue
        if t.text == "2>&1":
            cmd.stderr_to_stdout = True
            i += 1
            continue
        if i + 1 >= len(tokens) or tokens[i + 1].op:
            raise CellError(f"`{cmd.source}`: `{t.text}` needs a file name after it")
        target = tokens[i + 1].text
        i += 2
        if t.text in ("<<", "<<-"):
            cmd.stdin_data = lexer.heredoc(target, t.text == "<<-").encode()
        elif t.text == "<":
            cmd.stdin_path = target
        elif t.text in (">", ">>", "&>"):
            cmd.stdout_path, cmd.stdout_append = target, t.text == ">>"
            cmd.stderr_to_stdout = cmd.stderr_to_stdout or t.text == "&>"
        elif t.text in ("2>", "2>>"):
            cmd.stderr_path, cmd.stderr_append = target, t.text == "2>>"
        else:
            raise CellError(f"`{cmd.source}`: `{t.text}` is not supported. {ACCEPTED}")
    return cmd


def _cat_pipe(tokens: list[Token], source: str) -> list[Token]:
    """``cat FILE | docker …`` (Docker's docs pipe archives this way) means ``< FILE``."""
    pipes = [i for i, t in enumerate(tokens) if t.op and t.text == "|"]
    if not pipes:
        return tokens
    left = tokens[: pipes[0]]
    if (len(pipes) == 1 and len(left) == 2 and not left[1].op
            and left[0].text == "cat" and not left[0].op):
        return [*tokens[pipes[0] + 1 :], Token("<", op=True), left[1]]
    raise CellError(f"`{source.strip()}`: pipes are not supported (only `cat FILE | docker …`"
                    "); use `< FILE` or the command's -i/-o flags")


def completeness(code: str) -> tuple[str, str]:
    """``is_complete``: ("complete" | "incomplete" | "invalid", indent)."""
    if code.lstrip("\n").startswith("%%"):
        # like IPython's cell magics in a console: a blank line ends the cell
        return ("complete", "") if code.endswith("\n\n") else ("incomplete", "")
    if code.rstrip(" \t\n").endswith("\\"):
        return "incomplete", "    "
    try:
        parse(code)
    except Incomplete:
        return "incomplete", ""
    except CellError:
        return "invalid", ""
    return "complete", ""
