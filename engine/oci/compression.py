"""Compressed tars: the one sniffer and decompressor behind every archive reader.

``docker load``, ``import``, layer blobs from a registry, ``build -`` contexts and ``ADD``
of a local archive all accept a tar that is plain or gzip-, bzip2- or xz-compressed, told
apart by its first bytes. Decompression errors become one-line ``InvalidArgument``s
naming what was being read.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InvalidArgument

CHUNK = 1 << 20
MAGIC = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00", "zstd": b"\x28\xb5\x2f\xfd"}
SNIFF_BYTES = max(len(m) for m in MAGIC.values())
_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error, OSError, lzma.LZMAError, ValueError)


def sniff(head: bytes) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"`` or ``"zstd"`` from a stream's first bytes; None
    for anything else (a plain tar)."""
    return next((kind for kind, magic in MAGIC.items() if head.startswith(magic)), None)


class _Checked(io.RawIOBase):
    """A decompressing reader whose failures say what was being read."""

    def __init__(self, inner: Any, kind: str, what: str) -> None:
        self.inner, self.kind, self.what = inner, kind, what

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self.inner.read(len(b))
        except _ERRORS as e:
            raise InvalidArgument(f"{self.what}: corrupt {self.kind} data ({e})") from None
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


def decompressed(stream: Readable, what: str = "archive") -> BinaryIO:
    """The plain bytes behind ``stream``, decompressed on the fly if it is compressed."""
    buffered = _peekable(stream)
    kind = sniff(buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES])
    if kind is None:
        return buffered
    if kind == "zstd":
        raise InvalidArgument(f"{what}: zstd-compressed data is not supported; use gzip or "
                              "a plain tar")
    opener: Any = {"gzip": gzip.GzipFile, "bzip2": bz2.BZ2File, "xz": lzma.LZMAFile}[kind]
    inner = opener(fileobj=buffered) if kind == "gzip" else opener(buffered)
    return io.BufferedReader(_Checked(inner, kind, what), CHUNK)


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
    with tempfile.TemporaryFile(dir=spool_dir, prefix=".spool-") as spool:
        plain = decompressed(stream, what)
        while chunk := plain.read(CHUNK):
            spool.write(chunk)
        spool.seek(0)
        yield spool
