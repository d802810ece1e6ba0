"""Content store: sha256-addressed blobs (layer tars, configs, manifests)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

from ..errors import NotFound
from ..fs.atomic import private_dir
from ..oci.digest import digest
from .ids import hex_of, is_digest

CHUNK = 1 << 20


class ReadsInto(Protocol):
    """A source ``BlobWriter.fill`` copies from: a buffered file, a decompressor."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


class ContentStore:
    def __init__(self, root: Path) -> None:
        private_dir(root / "blobs")
        self.root = private_dir(root / "blobs" / "sha256")

    def path(self, dgst: str) -> Path:
        return self.root / hex_of(dgst, "blob digest")

    def has(self, dgst: str) -> bool:
        return is_digest(dgst) and self.path(dgst).exists()

    def open(self, dgst: str) -> BinaryIO:
        try:
            return self.path(dgst).open("rb")
        except FileNotFoundError:
            raise NotFound(f"blob {dgst} not found in the content store") from None

    def put(self, data: bytes) -> str:
        """Store bytes; returns their digest. Idempotent."""
        dgst = digest(data)
        if not self.has(dgst):
            with self.writer() as w:
                w.write(data)
        return dgst

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def delete(self, dgst: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(dgst).unlink()


class BlobWriter:
    """Streams into a temp file while hashing; commits atomically under its digest.

    Used as a context manager: on error the temp file is removed, so an interrupted
    ingest never leaves a blob whose name lies about its content.
    """

    def __init__(self, store: ContentStore) -> None:
        import hashlib  # as in oci.digest: only commands that write blobs load it

        self.store = store
        fd, tmp = tempfile.mkstemp(dir=store.root, prefix=f".ingest-{os.getpid()}-")
        self.tmp = Path(tmp)
        self.file = os.fdopen(fd, "wb")
        self.hash = hashlib.sha256()
        self.size = 0
        self.digest = ""

    def write(self, data: bytes | memoryview) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.file.write(data)

    def fill(self, src: ReadsInto) -> None:
        """Everything ``src`` holds, through one reused buffer: a chunk read into it is
        hashed and written from it, never copied into a new bytes object (for a big layer
        those copies and their fresh pages cost as much as the hashing)."""
        buffer = memoryview(bytearray(CHUNK))
        while n := src.readinto(buffer):
            self.write(buffer[:n])

    def digest_so_far(self) -> str:
        """The digest of what was written so far (before ``commit`` names the blob)."""
        return "sha256:" + self.hash.hexdigest()

    def flush(self) -> None:
        self.file.flush()

    def tell(self) -> int:
        return self.size

    def commit(self) -> str:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self.digest = self.digest_so_far()
        os.chmod(self.tmp, 0o444)
        os.replace(self.tmp, self.store.path(self.digest))
        return self.digest

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None and not self.digest:
            self.commit()
        if not self.file.closed:
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            if self.tmp.exists():
                self.tmp.unlink()
