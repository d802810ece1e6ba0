"""What several handlers share: Docker's per-name error reporting, ``-e`` values, times,
confirmation prompts, output files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any, BinaryIO, cast

from ...errors import EngineError, InvalidArgument, NotFound
from .. import IO, error_message, human
from ..grammar import UsageError
from ..results import Document, Lines, Result


class ClientError(EngineError):
    """What the docker CLI itself reports (no "Error response from daemon:"), exit 1."""

    daemon = False


def ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def go_time(stamp: str) -> str:
    """Docker's ``CreatedAt``: ``2026-11-28 13:15:44 +0000 UTC``."""
    if not stamp:
        return ""
    return human.parse_time(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def env_values(items: list[str]) -> list[str]:
    """``-e NAME`` takes NAME's value from the caller's environment, as Docker does."""
    out = []
    for item in items:
        if "=" in item:
            out.append(item)
        elif item in os.environ:
            out.append(f"{item}={os.environ[item]}")
    return out


def each(names: list[str], action: Callable[[str], Any], io: IO) -> Result:
    """Apply to every name; print those that worked, report the others (exit 1), like Docker."""
    done, failed = [], False
    for name in names:
        try:
            action(name)
            done.append(name)
        except EngineError as e:
            io.say(error_message(e))
            failed = True
    return Lines(done, exit_code=1 if failed else 0)


def confirm(io: IO, warning: str) -> bool:
    """Docker asks on stdin; no answer (EOF, a notebook) means no."""
    io.say(f"{warning}\nAre you sure you want to continue? [y/N] ", err=False)
    try:
        answer = io.stdin.readline().decode().strip().lower()
    except (OSError, ValueError):
        answer = ""
    if answer not in ("y", "yes"):
        io.say("Not confirmed: nothing removed (add -f to skip this question).")
        return False
    return True


def open_output(path: str, io: IO, what: str) -> contextlib.AbstractContextManager[BinaryIO]:
    """``-o FILE`` (written atomically), else stdout unless it is a terminal."""
    if path:
        return _atomic_output(path)
    if io.stdout_is_terminal():
        raise UsageError(f"cowardly refusing to {what} to a terminal. Use the -o flag or "
                         "redirect")
    return contextlib.nullcontext(io.stdout)


@contextlib.contextmanager
def _atomic_output(path: str) -> Iterator[BinaryIO]:
    """Write next to ``path`` and rename at the end: a failed save leaves no half file.
    Devices and pipes (``-o /dev/stdout``) are written in place."""
    if os.path.isdir(path):
        raise InvalidArgument(f"open {path}: is a directory (name a file to write)")
    if os.path.exists(path) and not os.path.isfile(path):
        with _opened(path, "wb") as f:
            yield f
        return
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with _opened(tmp, "wb", shown=path) as f:
            yield f
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _opened(path: str, mode: str, shown: str = "") -> BinaryIO:
    """``open`` whose failure is Go's one line (``open PATH: no such file or directory``)."""
    try:
        return cast(BinaryIO, open(path, mode))
    except OSError as e:
        raise InvalidArgument(f"open {shown or path}: {(e.strerror or str(e)).lower()}") from None


def open_input(path: str, io: IO) -> contextlib.AbstractContextManager[BinaryIO]:
    """``-i FILE`` / a file argument, or stdin for ``-`` or none."""
    if not path or path == "-":
        return contextlib.nullcontext(io.stdin)
    if os.path.isdir(path):
        raise InvalidArgument(f"read {path}: is a directory (name an archive file)")
    return _opened(path, "rb")


def read_kv_files(files: list[str], command: str, from_env: bool) -> list[str]:
    """``--env-file``/``--label-file``: ``KEY=value`` lines, as Docker's kvfile reads them.

    Leading whitespace and ``#`` comment lines are skipped, the value is kept verbatim; a
    bare ``KEY`` takes the caller's environment (env files) or is dropped (label files).
    Errors are the CLI's, exit 125."""
    out: list[str] = []
    for name in files:
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError as e:
            raise _kv_error(command, f"open {name}: {(e.strerror or str(e)).lower()}") from None
        for number, raw in enumerate(data.splitlines(), 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _kv_error(command, f"invalid env file ({name}): invalid utf8 bytes at "
                                f"line {number}: {list(raw)}") from None
            line = (text.removeprefix("\ufeff") if number == 1 else text).lstrip()
            if not line or line.startswith("#"):
                continue
            key, eq, _ = line.partition("=")
            if not key:
                raise _kv_error(command, f"invalid env file ({name}): no variable name on line "
                                f"'{line}'")
            if " " in key or "\t" in key:
                raise _kv_error(command, f"invalid env file ({name}): variable '{key}' contains "
                                "whitespaces")
            if eq:
                out.append(line)
            elif from_env and key in os.environ:
                out.append(f"{key}={os.environ[key]}")
    return out


def _kv_error(command: str, message: str) -> UsageError:
    return UsageError(f"docker: {message.rstrip('.')}.\nSee 'docker {command} --help'.")


def inspected(objects: list[dict[str, Any]], missing: list[EngineError], kind: str,
              template: str, io: IO) -> Result:
    """``inspect`` of several names, as Docker ends it: the objects found, then one error
    line per name that was not (exit 1); all found: the document."""
    if not missing:
        return Document(objects, kind, template)
    if objects:
        io.stdout.write((Document(objects, template=template).text() + "\n").encode())
    for err in missing:
        io.say(error_message(err))
    return Lines([], exit_code=1)


def inspect_each(names: list[str], inspect: Callable[[str], dict[str, Any]], kind: str,
                 template: str, io: IO) -> Result:
    """``network inspect``/``volume inspect``: ``inspect`` of each name."""
    objects: list[dict[str, Any]] = []
    missing: list[EngineError] = []
    for name in names:
        try:
            objects.append(inspect(name))
        except NotFound as e:
            missing.append(e)
    return inspected(objects, missing, kind, template, io)
