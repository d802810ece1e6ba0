"""Compressed tars: the one sniffer and decompressor behind every archive reader.

``docker load``, ``import``, layer blobs from a registry, ``build -`` contexts and ``ADD``
of a local archive all accept a tar that is plain or gzip-, bzip2- or xz-compressed, told
apart by its first bytes. Decompression errors become one-line ``InvalidArgument``s
naming what was being read, and so does a stream that expands past the size limit.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ConfigError, InvalidArgument

CHUNK = 1 << 20
DEFAULT_MAX = 64 << 30
# deflate cannot exceed ~1032:1 and real layers compress 2-10:1; far past that, after a
# first gigabyte that any honest archive may reach, the stream is a bomb (xz and bzip2 of
# runs of zeros are the only honest way there).
MAX_RATIO = 20_000
RATIO_FLOOR = 1 << 30
MAGIC = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00", "zstd": b"\x28\xb5\x2f\xfd"}
SNIFF_BYTES = max(len(m) for m in MAGIC.values())
_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error, OSError, lzma.LZMAError, ValueError)


def sniff(head: bytes) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"`` or ``"zstd"`` from a stream's first bytes; None
    for anything else (a plain tar)."""
    return next((kind for kind, magic in MAGIC.items() if head.startswith(magic)), None)


def max_decompressed() -> int:
    """The most bytes one compressed stream may expand to: ``LAYERLAB_MAX_DECOMPRESSED``
    (bytes, with an optional K/M/G/T suffix), 64 GiB by default."""
    raw = os.environ.get("LAYERLAB_MAX_DECOMPRESSED", "").strip().upper()
    if not raw:
        return DEFAULT_MAX
    scale = 1 << (10 * "KMGT".index(raw[-1]) + 10) if raw[-1] in "KMGT" else 1
    try:
        return int(raw.rstrip("KMGTB") or "x") * scale
    except ValueError:
        raise ConfigError(f"LAYERLAB_MAX_DECOMPRESSED={raw!r}: give a size in bytes, "
                          "e.g. 8G") from None


class _Counting(io.RawIOBase):
    """Counts the compressed bytes a decompressor consumed (for the expansion ratio)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.count = inner, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.inner.read(len(b))
        b[: len(data)] = data
        self.count += len(data)
        return len(data)


class _Checked(io.RawIOBase):
    """A decompressing reader whose failures say what was being read, and which refuses to
    expand past a size limit or past any ratio real data compresses to: a 4 KB archive
    must not become gigabytes on the store's disk (a decompression bomb)."""

    def __init__(self, inner: Any, kind: str, what: str, source: _Counting) -> None:
        self.inner, self.kind, self.what, self.source = inner, kind, what, source
        self.out = 0
        self.limit = max_decompressed()

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self.inner.read(len(b))
        except _ERRORS as e:
            raise InvalidArgument(f"{self.what}: corrupt {self.kind} data ({e})") from None
        self.out += len(data)
        if self.out > self.limit:
            raise InvalidArgument(
                f"{self.what}: {self.kind} data expands past {self.limit} bytes "
                "(LAYERLAB_MAX_DECOMPRESSED): refusing a possible decompression bomb")
        if self.out > RATIO_FLOOR and self.out > MAX_RATIO * max(self.source.count, 1):
            raise InvalidArgument(
                f"{self.what}: {self.kind} data expands more than {MAX_RATIO}:1 "
                f"({self.source.count} bytes to over {self.out}): refusing a decompression bomb")
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(*_ERRORS):
            self.inner.close()
        super().close()


Readable = BinaryIO | io.RawIOBase  # a file, stdin, a pipe, a digest-checking reader


def _peekable(stream: Readable) -> io.BufferedReader:
    if isinstance(stream, io.BufferedReader):
        return stream
    return io.BufferedReader(stream)  # type: ignore[arg-type]  # any raw or buffered reader


def sniffed(stream: Readable) -> tuple[io.BufferedReader, str | None]:
    """``stream`` made peekable, and what ``sniff`` says of its first bytes (nothing is
    consumed). A caller that must hash a blob as stored learns here whether those bytes
    are already the plain ones, and then hashes them once."""
    buffered = _peekable(stream)
    return buffered, sniff(buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES])


def decompressed(stream: Readable, what: str = "archive") -> io.BufferedReader:
    """The plain bytes behind ``stream``, decompressed on the fly if it is compressed."""
    buffered, kind = sniffed(stream)
    if kind is None:
        return buffered
    if kind == "zstd":
        raise InvalidArgument(f"{what}: zstd-compressed data is not supported; use gzip or "
                              "a plain tar")
    opener: Any = {"gzip": gzip.GzipFile, "bzip2": bz2.BZ2File, "xz": lzma.LZMAFile}[kind]
    source = _Counting(buffered)
    inner = opener(fileobj=source) if kind == "gzip" else opener(source)
    return io.BufferedReader(_Checked(inner, kind, what, source), CHUNK)


@contextlib.contextmanager
def seekable_plain(stream: BinaryIO, what: str = "archive",
                   spool_dir: Path | None = None) -> Iterator[BinaryIO]:
    """A seekable plain tar: ``stream`` itself when it already is one, otherwise its
    decompressed bytes spooled to a temporary file (removed afterwards). ``tarfile``
    needs random access to list and then read members."""
    seekable = False
    with contextlib.suppress(AttributeError, OSError, ValueError):
        seekable = stream.seekable()
    if seekable:
        pos = stream.tell()
        head = stream.read(SNIFF_BYTES)
        stream.seek(pos)
        if sniff(head) is None:
            yield stream
            return
    with tempfile.TemporaryFile(dir=spool_dir, prefix=f".spool-{os.getpid()}-") as spool:
        plain = decompressed(stream, what)
        while chunk := plain.read(CHUNK):
            spool.write(chunk)
        spool.seek(0)
        yield spool
