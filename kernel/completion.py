"""Tab completion and Shift-Tab help, from the engine's own argparse grammar.

Commands and flags come from the same parsers the CLI uses, so they never drift; image
references and container names are read through the command layer when asked for.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass

from layerlab.engine import grammar

MANAGEMENT = ("container", "image", "system")  # `docker container ls` and the like
# The positional each command takes first: what to offer there.
CONTAINER_CMDS = {"start", "stop", "kill", "pause", "unpause", "rm", "wait", "exec", "diff",
                  "logs", "export", "top", "commit"}
IMAGE_CMDS = {"run", "create", "history", "rmi", "save", "tag", "push"}
RUNNING_ONLY = {"stop", "kill", "pause", "exec", "top"}
INSTRUCTIONS = ("FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK",
                "SHELL", "MAINTAINER")
MAGICS = ("%%dockerfile", "%%file")
SIGNALS = ("SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT")
VALUE_CHOICES = {"--signal": SIGNALS, "-s": SIGNALS, "--type": ("container", "image"),
                 "--network": ("none",)}


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
    if words[:1] != ["docker"]:
        return "", []
    rest = words[1:]
    if len(rest) >= 2 and (rest[0], rest[1]) in grammar.ALIASES:
        return grammar.ALIASES[(rest[0], rest[1])], rest[2:]
    if len(rest) >= 2 and f"{rest[0]} {rest[1]}" in grammar.parsers():
        return f"{rest[0]} {rest[1]}", rest[2:]
    if rest and rest[0] in grammar.parsers():
        return rest[0], rest[1:]
    return "", []


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({s for a in parser._actions for s in a.option_strings})


def _takes_value(parser: argparse.ArgumentParser, flag: str) -> bool:
    for a in parser._actions:
        if flag in a.option_strings:
            return a.nargs != 0
    return False


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
        if len(words) == 2:
            cmds = sorted({n.split()[0] for n in grammar.parsers()} | set(MANAGEMENT))
            return _pick(cmds, word, start, "command")
        if len(words) == 3 and words[1] in MANAGEMENT:
            group = words[1] + " "
            verbs = sorted({v for (m, v) in grammar.ALIASES if m == words[1]}
                           | {n.split()[1] for n in grammar.parsers() if n.startswith(group)})
            return _pick(verbs, word, start, "command")
        return Completion([], pos, [])
    parser = grammar.parsers()[name]
    prev = args[-1] if args else ""
    if prev in VALUE_CHOICES and _takes_value(parser, prev):
        return _pick(VALUE_CHOICES[prev], word, start, "value")
    if word.startswith("-"):
        return _pick(_flags(parser), word, start, "flag")
    if prev.startswith("-") and _takes_value(parser, prev) and "=" not in prev:
        return Completion([], pos, [])
    positional = positionals(parser, args)
    if name == "inspect":
        return _pick(names.containers(False) + names.images(), word, start, "object")
    if positional == 0 and name in CONTAINER_CMDS:
        return _pick(names.containers(name in RUNNING_ONLY), word, start, "container")
    if (positional == 0 and name in IMAGE_CMDS) or (name in ("rmi", "save") and positional):
        return _pick(names.images(), word, start, "image")
    return Completion([], pos, [])


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
