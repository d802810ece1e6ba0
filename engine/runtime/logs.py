"""Container logs in Docker's json-file format: one JSON object per line, timestamped."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO


@dataclass
class LogEntry:
    stream: str
    text: bytes
    time: str


def encode(stream: str, chunk: bytes) -> bytes:
    """Log records for ``chunk``, split after each newline as Docker does."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out = []
    for line in chunk.splitlines(keepends=True):
        text = line.decode("utf-8", "surrogateescape")
        out.append(json.dumps({"log": text, "stream": stream, "time": stamp},
                              ensure_ascii=False).encode("utf-8", "surrogateescape") + b"\n")
    return b"".join(out)


def parse(line: bytes) -> LogEntry | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None  # a record cut by a crash mid-write
    return LogEntry(rec["stream"], rec["log"].encode("utf-8", "surrogateescape"), rec["time"])


def read(path: str) -> Iterator[LogEntry]:
    try:
        with open(path, "rb") as f:
            for line in f:
                entry = parse(line)
                if entry:
                    yield entry
    except FileNotFoundError:
        return


def tail(path: str, n: int, block: int = 1 << 16) -> tuple[list[LogEntry], int]:
    """The last ``n`` entries and the file's size when read (where following goes on).

    Read backwards a block at a time, so ``logs -n 3`` of a multi-gigabyte log touches a
    few kilobytes and holds only those ``n`` lines, never the whole log."""
    try:
        with open(path, "rb") as f:
            return _tail(f, n, block)
    except FileNotFoundError:
        return [], 0


def _tail(f: BinaryIO, n: int, block: int) -> tuple[list[LogEntry], int]:
    end = f.seek(0, os.SEEK_END)
    if n <= 0:
        return [], end
    pos, chunks, newlines = end, [], 0
    while pos > 0 and newlines <= n:
        step = min(block, pos)
        pos -= step
        f.seek(pos)
        chunk = f.read(step)
        chunks.append(chunk)
        newlines += chunk.count(b"\n")
    lines = b"".join(reversed(chunks)).split(b"\n")
    if pos > 0:
        lines = lines[1:]  # the first line is cut: a later block starts mid-record
    entries = [e for e in map(parse, lines) if e]
    return entries[-n:], end


def open_for_append(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
