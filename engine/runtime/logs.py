"""Container logs in Docker's json-file format: one JSON object per line, timestamped."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime


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


def open_for_append(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
