"""Tab completion and Shift-Tab help, derived from the engine's command grammar alone.

Commands, management verbs, flags, a flag's choices and what each positional argument is
(a container, an image, either) come from the same argparse parsers the CLI uses, so they
never drift; image references and container names are read through the command layer when
asked for; signal names are the host's.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from layerlab.engine import grammar

INSTRUCTIONS = ("FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK",
                "SHELL", "MAINTAINER")
MAGICS = ("%%dockerfile", "%%file")
SIGNALS = tuple(sorted(s.name for s in signal.Signals if not s.name.startswith("SIGRT")))
# what a positional argument names, by its name in the grammar
OPERAND_KINDS = {"container": "container", "containers": "container", "image": "image",
                 "images": "image", "source": "image", "names": "object"}


def management_commands() -> list[str]:
    """``container``, ``image``, ``system`` …: the first words of two-word commands."""
    return sorted({m for m, _ in grammar.ALIASES} | {n.split()[0] for n in grammar.parsers()
                                                     if " " in n})


@dataclass
class Names:
    """What the store holds right now: ``(name, type)`` pairs for completion."""

    containers: Callable[[bool], list[str]]  # running_only → names and short IDs
    images: Callable[[], list[str]]  # repo:tag and short IDs


@dataclass
class Completion:
    matches: list[str]
    start: int
    types: list[str]


def _line_at(code: str, pos: int) -> tuple[str, int]:
    """The logical line (``\\`` continuations joined) up to ``pos``, and where it starts."""
    start = code.rfind("\n", 0, pos) + 1
    while start > 1 and code[start - 2] == "\\":
        start = code.rfind("\n", 0, start - 1) + 1
    return code[start:pos], start


def _words(line: str) -> list[str]:
    """Words of a partial line; quotes are dropped, an unfinished word stays last."""
    out, cur, quote = [], "", ""
    for ch in line.replace("\\\n", " "):
        if quote:
            if ch == quote:
                quote = ""
            else:
                cur += ch
        elif ch in "'\"":
            quote = ch
        elif ch in " \t":
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def command_of(words: list[str]) -> tuple[str, list[str]]:
    """(command name, its arguments) of ``docker …`` words, aliases resolved; "" if none."""
    if words[:1] != ["docker"] or len(words) < 2:
        return "", []
    try:
        return grammar.split_command(words[1:])
    except grammar.UsageError:
        return "", []


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({s for a in parser._actions for s in a.option_strings})


def _takes_value(parser: argparse.ArgumentParser, flag: str) -> bool:
    action = _action(parser, flag)
    return action is not None and action.nargs != 0


def complete(code: str, pos: int, names: Names) -> Completion:
    if code.lstrip("\n").startswith("%%dockerfile"):
        return _dockerfile(code, pos, names)
    line, line_start = _line_at(code, pos)
    words = _words(line)
    word = words[-1]
    start = pos - len(word)
    if line_start == 0 and word.startswith("%"):
        return _pick(MAGICS, word, start, "magic")
    if len(words) == 1:
        return _pick(["docker"], word, start, "command")
    name, args = command_of(words[:-1])
    if not name:
        management = management_commands()
        if len(words) == 2:
            cmds = sorted({n.split()[0] for n in grammar.parsers()} | set(management))
            return _pick(cmds, word, start, "command")
        if len(words) == 3 and words[1] in management:
            group = words[1] + " "
            verbs = sorted({v for (m, v) in grammar.ALIASES if m == words[1]}
                           | {n.split()[1] for n in grammar.parsers() if n.startswith(group)})
            return _pick(verbs, word, start, "command")
        return Completion([], pos, [])
    parser = grammar.parsers()[name]
    prev = args[-1] if args else ""
    values = _values(parser, prev)
    if values:
        return _pick(values, word, start, "value")
    if word.startswith("-"):
        return _pick(_flags(parser), word, start, "flag")
    if prev.startswith("-") and _takes_value(parser, prev) and "=" not in prev:
        return Completion([], pos, [])
    kind = _operand(parser, positionals(parser, args))
    if kind == "object":
        return _pick(names.containers(False) + names.images(), word, start, kind)
    if kind == "container":
        return _pick(names.containers(name in grammar.NEEDS_RUNNING), word, start, kind)
    if kind == "image":
        return _pick(names.images(), word, start, kind)
    return Completion([], pos, [])


def _action(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    return next((a for a in parser._actions if flag in a.option_strings), None)


def _values(parser: argparse.ArgumentParser, flag: str) -> list[str]:
    """What the flag before the cursor takes: its choices, or signal names."""
    action = _action(parser, flag) if flag.startswith("-") else None
    if action is None or action.nargs == 0:
        return []
    if action.choices:
        return [str(c) for c in action.choices if c]
    return list(SIGNALS) if action.dest == "signal" else []


def _operand(parser: argparse.ArgumentParser, index: int) -> str:
    """What the ``index``-th positional argument names ("" for anything else): the
    positional at that place, or the last one when it takes several."""
    positional = [a for a in parser._actions if not a.option_strings]
    if not positional:
        return ""
    action = positional[min(index, len(positional) - 1)]
    if index >= len(positional) and action.nargs not in ("+", "*"):
        return ""
    return OPERAND_KINDS.get(action.dest, "")


def positionals(parser: argparse.ArgumentParser, args: list[str]) -> int:
    """How many positional arguments precede the word being completed."""
    n, skip = 0, False
    for a in args:
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = _takes_value(parser, a) and "=" not in a
        else:
            n += 1
    return n


def _dockerfile(code: str, pos: int, names: Names) -> Completion:
    line, line_start = _line_at(code, pos)
    words = _words(line)
    word = words[-1]
    start = pos - len(word)
    if line_start == 0:
        return Completion([], pos, [])
    if len(words) == 1:
        return _pick(INSTRUCTIONS, word.upper(), start, "instruction", case=True)
    if words[0].upper() == "FROM" and len(words) == 2:
        return _pick(names.images(), word, start, "image")
    return Completion([], pos, [])


def _pick(options: list[str] | tuple[str, ...], word: str, start: int, kind: str,
          case: bool = False) -> Completion:
    seen: list[str] = []
    for o in options:
        if (o.upper() if case else o).startswith(word) and o not in seen:
            seen.append(o)
    return Completion(seen, start, [kind] * len(seen))


def help_text(code: str, pos: int) -> str:
    """Shift-Tab: the usage of the docker command under the cursor (or the overview)."""
    if code.lstrip("\n").startswith("%%dockerfile"):
        return dockerfile_help()
    line, _ = _line_at(code, pos)
    end = code.find("\n", pos)
    line += code[pos: len(code) if end < 0 else end]
    name, _ = command_of([w for w in _words(line.rstrip("?")) if w])
    if not name:
        return overview()
    return grammar.parsers()[name].format_help().rstrip()


def overview() -> str:
    lines = ["Usage:  docker COMMAND [OPTIONS] [ARGS...]", "",
             "LayerLab runs Docker's commands on its own layered container engine.", "",
             "Commands:"]
    for name, p in sorted(grammar.parsers().items()):
        lines.append(f"  {name:<16}{p.description}")
    lines += ["", "Cell magics:",
              "  %%dockerfile [build flags]   the cell is a Dockerfile, built with the "
              "notebook's folder as context",
              "  %%file PATH                  write the cell to PATH (a build context file)",
              "", "Run 'docker COMMAND --help' (or Shift-Tab on it) for more information."]
    return "\n".join(lines)


DOCKERFILE_HELP = """%%dockerfile [docker build flags, e.g. -t NAME:TAG]

The rest of the cell is a Dockerfile; it is built with the notebook's folder
({cwd}) as the build context, so COPY/ADD see files written with %%file.
Every filesystem step (RUN, COPY, ADD) becomes a new read-only layer and an
intermediate image (`docker images -a`); unchanged steps come from the cache.

Instructions: """ + ", ".join(INSTRUCTIONS)


def dockerfile_help() -> str:
    return DOCKERFILE_HELP.replace("{cwd}", os.getcwd())
