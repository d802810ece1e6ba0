"""The build context: the directory COPY and ADD read from, minus what .dockerignore hides.

Docker's CLI sends the context to the daemon as a tar with ignored files left out; here the
builder reads the directory in place and applies the same rules on every lookup, so an
ignored file is exactly as invisible as a file that was never sent. Nothing outside the
context is ever read: ``..`` and symlinks leading out of it are refused.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InvalidArgument
from ..fs.securejoin import host_path, resolve
from ..oci.compression import seekable_plain, sniff
from .fscopy import Entry

GLOB_CHARS = re.compile(r"[*?\[]")


class ContextError(InvalidArgument):
    """A COPY/ADD source Docker would refuse (missing, ignored, outside the context)."""


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    exclusion: bool  # a "!" line: re-include what earlier lines excluded


def _compile(pattern: str) -> re.Pattern[str]:
    """Go's ``filepath.Match`` syntax plus ``**``, as moby's patternmatcher reads it."""
    out = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ContextError(f"invalid .dockerignore pattern {pattern!r}: missing ]")
            body = pattern[i + 1 : end]
            if body.startswith("^"):
                body = "!" + body[1:]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            i = end
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


class Ignore:
    """``.dockerignore``: a path is ignored when the last pattern matching it, or one of its
    parent directories, is not an exclusion (``!``)."""

    def __init__(self, lines: list[str]) -> None:
        self.patterns: list[Pattern] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
                if not line:
                    raise ContextError('illegal exclusion pattern: "!"')
            line = posixpath.normpath(line).lstrip("/") or "."
            self.patterns.append(Pattern(_compile(line), exclusion))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    @classmethod
    def read(cls, path: Path) -> Ignore:
        try:
            return cls(path.read_text(errors="replace").splitlines())
        except FileNotFoundError:
            return cls([])

    def ignored(self, rel: str) -> bool:
        if not self.patterns or not rel:
            return False
        parents = rel.split("/")[:-1]
        matched = False
        for p in self.patterns:
            if p.exclusion != matched:
                continue
            hit = bool(p.regex.match(rel)) or any(
                p.regex.match("/".join(parents[: i + 1])) for i in range(len(parents)))
            if hit:
                matched = not p.exclusion
        return matched

    def prunes(self, rel: str) -> bool:
        """An ignored directory whose contents no ``!`` line can bring back: skip it whole."""
        return not self.has_exclusions and self.ignored(rel)


class BuildContext:
    """Where COPY sources are looked up: the build context (``scoped=False``: a symlink out
    of it is an error), or an image's root for ``COPY --from`` (``scoped=True``: symlinks
    resolve inside that root, as in the container)."""

    def __init__(self, root: Path, ignore: Ignore, scoped: bool = False,
                 where: str = "build context or excluded by .dockerignore") -> None:
        self.root = root
        self.real = os.path.realpath(root)
        self.ignore = ignore
        self.scoped = scoped
        self.where = where

    def _inside(self, host: str) -> bool:
        return host == self.real or host.startswith(self.real.rstrip("/") + "/")

    def lookup(self, source: str, what: str) -> list[Entry]:
        """The entries a COPY/ADD source names: a path or a glob, relative to the root
        whatever its leading ``/``; a symlink named directly is followed."""
        clean = posixpath.normpath(source)
        if not self.scoped and (clean == ".." or clean.startswith("../")):
            raise ContextError(f"{what} failed: forbidden path outside the build context: "
                               f"{source} ()")
        rel = posixpath.normpath("/" + source).lstrip("/")
        rel = "" if rel == "." else rel
        if GLOB_CHARS.search(rel):
            matches = sorted(self._glob(rel))
            if not matches:
                raise ContextError(f"{what} failed: no source files were specified")
            return [self._entry(m, source, what) for m in matches]
        if self.ignore.ignored(rel):
            raise self._missing(source, what)
        return [self._entry(rel, source, what)]

    def _missing(self, source: str, what: str) -> ContextError:
        return ContextError(f"{what} failed: file not found in {self.where}: stat {source}: "
                            "file does not exist")

    def _entry(self, rel: str, source: str, what: str) -> Entry:
        if self.scoped:
            real = host_path(str(self.root), resolve(str(self.root), rel))
        else:
            real = os.path.realpath(os.path.join(self.root, rel) if rel else self.root)
            if not self._inside(real):
                raise ContextError(f"{what} failed: forbidden path outside the build "
                                   f"context: {source} ({real})")
            target = os.path.relpath(real, self.real).replace(os.sep, "/")
            if target != "." and self.ignore.ignored(target):
                raise self._missing(source, what)
        try:
            st = os.lstat(real)
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(source, what) from None
        return Entry(rel, real, st)

    def _glob(self, pattern: str) -> Iterator[str]:
        """Context paths matching ``pattern`` component by component (``*`` stays within one
        directory, as Go's ``filepath.Match``)."""
        parts = pattern.split("/")
        regexes = [_compile(p) if GLOB_CHARS.search(p) else None for p in parts]

        def walk(prefix: str, i: int) -> Iterator[str]:
            if self.scoped:  # never list a host directory an image's symlink names
                base = host_path(str(self.root), resolve(str(self.root), prefix))
            else:
                base = os.path.join(self.root, prefix) if prefix else str(self.root)
            regex = regexes[i]
            if regex is None:
                names = [parts[i]] if os.path.lexists(os.path.join(base, parts[i])) else []
            else:
                try:
                    names = [n for n in sorted(os.listdir(base)) if regex.match(n)]
                except (NotADirectoryError, FileNotFoundError):
                    names = []
            for name in names:
                rel = f"{prefix}/{name}" if prefix else name
                if self.ignore.ignored(rel):
                    continue
                if i == len(parts) - 1:
                    yield rel
                elif os.path.isdir(os.path.join(base, name)):
                    yield from walk(rel, i + 1)

        yield from walk("", 0)

    def walk(self, entry: Entry) -> Iterator[Entry]:
        """Everything below a directory entry, parents first; symlinks are not followed,
        ignored paths are left out."""
        for dirpath, dirnames, filenames in os.walk(entry.host):
            dirnames.sort()
            sub = os.path.relpath(dirpath, entry.host)
            sub = "" if sub == "." else sub
            keep = []
            for name in dirnames + sorted(filenames):
                inner = f"{sub}/{name}" if sub else name
                rel = f"{entry.rel}/{inner}" if entry.rel else inner
                host = os.path.join(dirpath, name)
                st = os.lstat(host)
                if self.ignore.ignored(rel):
                    if stat.S_ISDIR(st.st_mode) and not self.ignore.prunes(rel):
                        keep.append(name)  # a "!" line may re-include something below
                    continue
                if stat.S_ISDIR(st.st_mode):
                    keep.append(name)
                yield Entry(inner, host, st)
            dirnames[:] = [d for d in dirnames if d in keep]


def is_tar(head: bytes) -> bool:
    """A tar archive, plain or compressed (gzip, bzip2, xz), as ``docker build -`` sniffs."""
    if sniff(head) in ("gzip", "bzip2", "xz"):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


@contextlib.contextmanager
def from_tar(stream: BinaryIO) -> Iterator[Path]:
    """A context sent as a tar on stdin, unpacked (safely) into a temporary directory."""
    from ..oci import layertar

    tmp = Path(tempfile.mkdtemp(prefix="layerlab-context-"))
    try:
        with seekable_plain(stream, "build context") as plain:
            layertar.extract(plain, tmp, "plain")
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
