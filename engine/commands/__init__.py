"""The docker command language, shared by the CLI and the notebook kernel.

``execute(engine, argv, io)`` parses one docker command line, runs it against the Engine
API and returns a typed result. Output that streams (a container's stdout, ``save`` to
stdout) goes straight to the front-end's file descriptors in ``io``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import EngineError
from ..version import version_line
from .grammar import UsageError, parsers, split_command
from .results import Result

if TYPE_CHECKING:
    from ..services.engine import Engine


@dataclass
class IO:
    """The front-end's standard streams; container output is written to their fds."""

    stdin: BinaryIO
    stdout: BinaryIO
    stderr: BinaryIO
    # Told the ID of a container started in the foreground, so a front-end that does not
    # run commands on its main thread (the kernel) can forward signals to it or detach.
    attached: Callable[[str], None] | None = None
    # Given typed progress events (``build``'s steps and output) instead of their text,
    # by a front-end that shows them live (the kernel's step list).
    progress: Callable[[Any], None] | None = None
    # False where the front-end has no terminal to lend (the kernel): ``run``/``exec`` then
    # ignore -t, as the kernel's hint says, instead of refusing a stdin that is no TTY.
    terminal: bool = True

    @classmethod
    def std(cls) -> IO:
        return cls(sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer)

    def say(self, text: str, err: bool = True) -> None:
        """A progress or status line (Docker prints these on stderr or stdout)."""
        stream = self.stderr if err else self.stdout
        stream.write(text.encode() + b"\n")
        stream.flush()

    def flush(self) -> None:
        self.stdout.flush()
        self.stderr.flush()

    def stdout_is_terminal(self) -> bool:
        try:
            return os.isatty(self.stdout.fileno())
        except (OSError, ValueError):
            return False


def execute(engine: Engine, argv: list[str], io: IO) -> Result:
    """Run one command; raises EngineError (with its exit code) on failure."""
    from . import handlers
    from .results import Lines

    if argv in (["--version"], ["-v"]):
        return Lines([version_line()])
    name, rest = split_command(argv)
    parser = parsers()[name]
    if "--help" in rest and not _after_image(name, rest):
        return Lines([parser.format_help().rstrip()])
    args = parser.parse_args(rest)
    result: Result = handlers.handler(name)(engine, args, io)
    if getattr(result, "template", ""):
        result.text()  # a bad --format fails here, as an EngineError, for every front-end
    return result


def _after_image(name: str, rest: list[str]) -> bool:
    """``docker run busybox ls --help`` passes --help to ls, not to docker."""
    if name not in ("run", "create", "exec"):
        return False
    positional = [a for a in rest[: rest.index("--help")] if not a.startswith("-")]
    return bool(positional)


def error_message(err: EngineError) -> str:
    """Docker's one-line form of an error."""
    if getattr(err, "daemon", True):
        return f"Error response from daemon: {err}"
    return str(err)


__all__ = ["IO", "EngineError", "Result", "UsageError", "error_message", "execute",
           "version_line"]
